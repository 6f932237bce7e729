"""Quantum trajectories: unbiased noisy simulation on statevectors (for 8-10+ noisy qubits).

A channel ``rho -> sum_k K_k rho K_k^dag`` is unravelled by drawing one Kraus index k per
trajectory from a *state-independent* distribution ``q_k = tr(K_k^dag K_k) / 2`` and applying
``K_k / sqrt(q_k)``. Then ``E_k[|psi_k><psi_k|] = sum_k K_k rho K_k^dag`` exactly, so the mean of
``|psi|^2`` over trajectories is an unbiased estimate of the density-matrix probabilities, and -
because the sampling law does not depend on the parameters - its gradient is an unbiased
estimate of the exact gradient too (no score-function term needed). For unitary mixtures such as
depolarizing, q is the mixing distribution and every trajectory stays normalised; for damping
channels trajectory norms fluctuate, which raises the variance. Because the law depends on
nothing else either, one trajectory's draws may serve a whole batch (:func:`slot_operators`,
the training path): each sample's estimate keeps its law, only samples become correlated.

Limits: memory/time scale as T * B * 2**n (T trajectories), i.e. like T noiseless batches, so
10 qubits with T=32 is comfortable; the standard error falls as 1/sqrt(T) and grows with the
number of noisy gates and with the noise strength. Sampling uses a caller-provided
``torch.Generator`` so runs are reproducible.
"""

from __future__ import annotations

import numpy as np
import torch

from dqfl.quantum._wires import apply_to_state


def sampling_weights(kraus: torch.Tensor) -> torch.Tensor:
    """State-independent sampling law q_k = tr(K_k^dag K_k) / d (sums to 1 for a CPTP map)."""
    d = kraus.shape[-1]
    return torch.einsum("kij,kij->k", kraus.conj(), kraus).real / d


def draw_kraus(kraus: torch.Tensor, count: int, generator: torch.Generator | None) -> torch.Tensor:
    """``count`` independent draws K_k / sqrt(q_k) from a Kraus set (m, 2, 2): (count, 2, 2)
    complex128."""
    kraus = kraus.to(torch.complex128)
    q = sampling_weights(kraus)
    keep = q > 0
    kraus, q = kraus[keep], q[keep]
    idx = torch.multinomial(q.float().expand(count, -1), 1, replacement=True, generator=generator)
    return (kraus / q.sqrt()[:, None, None])[idx.squeeze(-1)]


def apply_sampled_kraus(
    psi: torch.Tensor,
    kraus: torch.Tensor,
    wire: int,
    n_qubits: int,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """One sampled Kraus operator per row of ``psi`` (N, 2**n), rescaled by 1/sqrt(q_k)."""
    ops = draw_kraus(kraus, psi.shape[0], generator).to(dtype=psi.dtype, device=psi.device)
    return apply_to_state(psi, ops, (wire,), n_qubits)


def slot_operators(
    channels: dict[str, list[torch.Tensor]],
    kinds: tuple[str, ...],
    n_trajectories: int,
    n_layers: int,
    generator: torch.Generator | None,
) -> np.ndarray:
    """One trajectory's fixed noise operators per slot, for each of ``n_trajectories``:
    (T, L, N, 2, 2) complex128. Slot i of a layer gets the product of one draw from each
    Kraus set of ``channels[kinds[i]]`` (applied in order); ``encoding`` slots only in layer 0
    (identity elsewhere). A trajectory's draws are shared by every sample of the batch."""
    out = torch.eye(2, dtype=torch.complex128).repeat(n_trajectories, n_layers, len(kinds), 1, 1)
    for kind in ("encoding", "1q", "2q"):
        slots = [i for i, k in enumerate(kinds) if k == kind]
        layers = 1 if kind == "encoding" else n_layers
        if not slots:
            continue
        ops = out[:, :layers, slots]
        for kraus in channels[kind]:
            draws = draw_kraus(kraus, ops[..., 0, 0].numel(), generator)
            ops = draws.view(ops.shape) @ ops
        out[:, :layers, slots] = ops
    return out.numpy()


def mean_probabilities(psi: torch.Tensor, n_trajectories: int) -> torch.Tensor:
    """Average |psi|^2 over the leading trajectory blocks: (T*B, D) -> (B, D)."""
    p = psi.real**2 + psi.imag**2
    return p.reshape(n_trajectories, -1, p.shape[-1]).mean(0)
