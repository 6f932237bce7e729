"""Quantum trajectories: unbiased noisy simulation on statevectors (for 8-10+ noisy qubits).

A channel ``rho -> sum_k K_k rho K_k^dag`` is unravelled by drawing one Kraus index k per
trajectory from a *state-independent* distribution ``q_k = tr(K_k^dag K_k) / 2`` and applying
``K_k / sqrt(q_k)``. Then ``E_k[|psi_k><psi_k|] = sum_k K_k rho K_k^dag`` exactly, so the mean of
``|psi|^2`` over trajectories is an unbiased estimate of the density-matrix probabilities, and -
because the sampling law does not depend on the parameters - its gradient is an unbiased
estimate of the exact gradient too (no score-function term needed). For unitary mixtures such as
depolarizing, q is the mixing distribution and every trajectory stays normalised; for damping
channels trajectory norms fluctuate, which raises the variance.

Limits: memory/time scale as T * B * 2**n (T trajectories), i.e. like T noiseless batches, so
10 qubits with T=32 is comfortable; the standard error falls as 1/sqrt(T) and grows with the
number of noisy gates and with the noise strength. Sampling uses a caller-provided
``torch.Generator`` so runs are reproducible.
"""

from __future__ import annotations

import torch

from dqfl.quantum._wires import apply_to_state


def sampling_weights(kraus: torch.Tensor) -> torch.Tensor:
    """State-independent sampling law q_k = tr(K_k^dag K_k) / d (sums to 1 for a CPTP map)."""
    d = kraus.shape[-1]
    return torch.einsum("kij,kij->k", kraus.conj(), kraus).real / d


def apply_sampled_kraus(
    psi: torch.Tensor,
    kraus: torch.Tensor,
    wire: int,
    n_qubits: int,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """One sampled Kraus operator per row of ``psi`` (N, 2**n), rescaled by 1/sqrt(q_k)."""
    q = sampling_weights(kraus.to(torch.complex128))
    keep = q > 0
    kraus, q = kraus[keep], q[keep]
    n_rows = psi.shape[0]
    idx = torch.multinomial(q.float().expand(n_rows, -1), 1, replacement=True, generator=generator)
    ops = (kraus / q.sqrt()[:, None, None]).to(dtype=psi.dtype, device=psi.device)
    return apply_to_state(psi, ops[idx.squeeze(-1).to(psi.device)], (wire,), n_qubits)


def mean_probabilities(psi: torch.Tensor, n_trajectories: int) -> torch.Tensor:
    """Average |psi|^2 over the leading trajectory blocks: (T*B, D) -> (B, D)."""
    p = psi.real**2 + psi.imag**2
    return p.reshape(n_trajectories, -1, p.shape[-1]).mean(0)
