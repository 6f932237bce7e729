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


def sampling_table(kraus: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """What a draw from a Kraus set (m, 2, 2) needs: the rescaled operators ``K_k / sqrt(q_k)``
    of the k with q_k > 0 (complex128) and the cumulative sums of their q_k."""
    kraus = kraus.to(torch.complex128)
    q = sampling_weights(kraus)
    keep = q > 0
    kraus, q = kraus[keep], q[keep]
    return (kraus / q.sqrt()[:, None, None]).numpy(), torch.cumsum(q, 0).numpy()


def _draw(table: tuple[np.ndarray, np.ndarray], count: int, generator) -> np.ndarray:
    """``count`` draws (count, 2, 2) by inverse transform sampling: one uniform number each,
    looked up in the cumulative weights (``torch.multinomial`` on ``count`` rows of q, and the
    handful of torch operations per Kraus set around it, were ~1.3 ms of a noisy n = 8 step)."""
    scaled, cum = table
    u = torch.rand(count, generator=generator, dtype=torch.float64).numpy() * cum[-1]
    return scaled[np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)]


def draw_kraus(kraus: torch.Tensor, count: int, generator: torch.Generator | None) -> torch.Tensor:
    """``count`` independent draws K_k / sqrt(q_k) from a Kraus set (m, 2, 2): (count, 2, 2)
    complex128."""
    return torch.from_numpy(_draw(sampling_table(kraus), count, generator))


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


SamplingTables = dict[str, list[tuple[np.ndarray, np.ndarray]]]


def sampling_tables(channels: dict[str, list[torch.Tensor]]) -> SamplingTables:
    """:func:`sampling_table` of every Kraus set of every slot kind (computed once per noise
    model by the callers that draw every step)."""
    return {kind: [sampling_table(k) for k in sets] for kind, sets in channels.items()}


def slot_operators(
    channels: dict[str, list[torch.Tensor]] | SamplingTables,
    kinds: tuple[str, ...],
    n_trajectories: int,
    n_layers: int,
    generator: torch.Generator | None,
) -> np.ndarray:
    """One trajectory's fixed noise operators per slot, for each of ``n_trajectories``:
    (T, L, N, 2, 2) complex128. Slot i of a layer gets the product of one draw from each
    Kraus set of ``channels[kinds[i]]`` (applied in order); ``encoding`` slots only in layer 0
    (identity elsewhere). A trajectory's draws are shared by every sample of the batch.
    ``channels`` may be given as their :func:`sampling_tables`."""
    tables = {
        kind: [s if isinstance(s, tuple) else sampling_table(s) for s in sets]
        for kind, sets in channels.items()
    }
    out = np.zeros((n_trajectories, n_layers, len(kinds), 2, 2), np.complex128)
    out[..., 0, 0] = out[..., 1, 1] = 1
    for kind in ("encoding", "1q", "2q"):
        slots = [i for i, k in enumerate(kinds) if k == kind]
        layers = 1 if kind == "encoding" else n_layers
        if not slots:
            continue
        ops = out[:, :layers, slots]
        for table in tables[kind]:
            ops = _draw(table, ops[..., 0, 0].size, generator).reshape(ops.shape) @ ops
        out[:, :layers, slots] = ops
    return out


def mean_probabilities(psi: torch.Tensor, n_trajectories: int) -> torch.Tensor:
    """Average |psi|^2 over the leading trajectory blocks: (T*B, D) -> (B, D)."""
    p = psi.real**2 + psi.imag**2
    return p.reshape(n_trajectories, -1, p.shape[-1]).mean(0)
