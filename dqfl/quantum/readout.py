"""Per-exit readouts: basis-state probabilities -> class logits, kept small next to the circuit.

Every readout takes the exit's measured basis-state probabilities ``p`` (B, 2**n) (exact, noisy
or shot-sampled), so every backend (statevector, density matrix, trajectories, PennyLane) feeds
it the same thing. Most readouts first compute expectation values of Pauli-Z products,

    f = p @ S,   S[b, k] = eigenvalue of observable k on basis state b,

with the observables chosen by ``observables``:

* ``z``: the n single-qubit <Z_i>;
* ``z_zz_ring``: <Z_i> and <Z_i Z_{i+1 mod n}> of neighbouring (ring) pairs (2n features);
* ``z_zz_all``: <Z_i> and <Z_i Z_j> of all n(n-1)/2 pairs (n + n(n-1)/2 features; 36 at n = 8).

Why pairs: with one amplitude-encoded copy of the image x, every exit's <O> is a quadratic form
x^T A x / |x|^2 of the pixels, and a linear map of more observables spans more of those forms
(the function class a classical quadratic fit bounds). The map stays linear: no hidden layer.

Readout kinds (F = number of features):

* ``shared`` (default): ``(f * gain_l) W + bias_l``. The full map W (F x C) lives in the *base*
  block 0, which the uplink always delivers first; every exit keeps its own gains (F) and class
  biases (C).
* ``linear``: a full ``F x C`` affine map per exit (F C + C); over budget, kept for comparison.
* ``expval``: a rank-2 map per exit, ``f A B + b`` (2F + 2C + C).
* ``born`` (C + 1 parameters, no observables): class c collects the probability of the basis
  states b with ``b % C == c``; logits ``scale * log(p_c + eps) + bias_c``.
"""

from __future__ import annotations

from itertools import combinations

import torch
from torch import nn

from dqfl.quantum.config import OBSERVABLES
from dqfl.quantum.config import READOUTS as KINDS

BORN_EPS = 1e-6


def z_signs(n_qubits: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(2**n, n) matrix of the eigenvalues of Z_i on each basis state (wire 0 = high bit)."""
    bits = torch.arange(2**n_qubits)
    cols = [1 - 2 * ((bits >> (n_qubits - 1 - w)) & 1) for w in range(n_qubits)]
    return torch.stack(cols, -1).to(dtype)


def observable_pairs(n_qubits: int, observables: str) -> list[tuple[int, int]]:
    """The (i, j) of the measured Z_i Z_j products, in feature order."""
    if observables == "z":
        return []
    if observables == "z_zz_ring":
        if n_qubits == 2:
            return [(0, 1)]
        return [(i, (i + 1) % n_qubits) for i in range(n_qubits)]
    if observables == "z_zz_all":
        return list(combinations(range(n_qubits), 2))
    raise ValueError(f"unknown observables {observables!r}; use {', '.join(OBSERVABLES)}")


def observable_signs(
    n_qubits: int, observables: str = "z", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(2**n, F) eigenvalues of every measured observable on every basis state: <O_k> = p @ S."""
    z = z_signs(n_qubits, torch.float64)
    cols = [z] + [
        (z[:, i] * z[:, j]).unsqueeze(-1) for i, j in observable_pairs(n_qubits, observables)
    ]
    return torch.cat(cols, -1).to(dtype)


def n_features(n_qubits: int, observables: str) -> int:
    return n_qubits + len(observable_pairs(n_qubits, observables))


class _Features(nn.Module):
    """Holds the fixed sign matrix S; ``features(p) = p @ S``."""

    def __init__(self, n_qubits: int, observables: str, dtype: torch.dtype):
        super().__init__()
        self.register_buffer(
            "signs", observable_signs(n_qubits, observables, dtype), persistent=False
        )

    def features(self, probs: torch.Tensor) -> torch.Tensor:
        return probs @ self.signs.to(probs.dtype)


class BornReadout(nn.Module):
    """``scale * log(p_c + eps) + bias_c`` with p_c the probability of class c's basis states."""

    def __init__(self, n_qubits: int, n_classes: int, dtype: torch.dtype = torch.float32):
        super().__init__()
        d = 2**n_qubits
        if d < n_classes:
            raise ValueError(f"born readout needs 2**n_qubits >= n_classes ({d} < {n_classes})")
        groups = torch.zeros(d, n_classes, dtype=dtype)
        groups[torch.arange(d), torch.arange(d) % n_classes] = 1.0
        self.register_buffer("groups", groups, persistent=False)
        self.scale = nn.Parameter(torch.ones(1, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(n_classes, dtype=dtype))

    def forward(self, probs: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        pc = probs @ self.groups.to(probs.dtype)
        return self.scale * torch.log(pc + BORN_EPS) + self.bias


class ExpvalReadout(_Features):
    """Observable features followed by a rank-``rank`` linear map (full rank = ``linear``)."""

    def __init__(
        self,
        n_qubits: int,
        n_classes: int,
        rank: int | None = 2,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
        observables: str = "z",
    ):
        super().__init__(n_qubits, observables, dtype)
        f = self.signs.shape[1]
        self.rank = rank
        if rank is None:
            w = torch.randn(f, n_classes, generator=generator, dtype=dtype)
            self.weight = nn.Parameter(w / f**0.5)
        else:
            a = torch.randn(f, rank, generator=generator, dtype=dtype) / f**0.5
            b = torch.randn(rank, n_classes, generator=generator, dtype=dtype) / rank**0.5
            self.proj = nn.Parameter(a)
            self.weight = nn.Parameter(b)
        self.bias = nn.Parameter(torch.zeros(n_classes, dtype=dtype))

    def forward(self, probs: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        z = self.features(probs)
        if self.rank is not None:
            z = z @ self.proj
        return z @ self.weight + self.bias


class SharedReadout(_Features):
    """Features scaled per exit, then a class map W shared by all exits and held by block 0."""

    def __init__(
        self,
        n_qubits: int,
        n_classes: int,
        holds_map: bool,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
        observables: str = "z",
    ):
        super().__init__(n_qubits, observables, dtype)
        f = self.signs.shape[1]
        if holds_map:
            w = torch.randn(f, n_classes, generator=generator, dtype=dtype)
            self.weight = nn.Parameter(w / f**0.5)
        self.gain = nn.Parameter(torch.ones(f, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(n_classes, dtype=dtype))

    def forward(self, probs: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return (self.features(probs) * self.gain) @ weight + self.bias


def stacked_shared_logits(
    probs: torch.Tensor, readouts: list[SharedReadout], weight: torch.Tensor
) -> torch.Tensor:
    """All exits of shared readouts at once: (E, B, 2**n) probabilities -> (E, B, C) logits,
    equal to ``readouts[e](probs[e], weight)`` for every e in a handful of operations."""
    feats = probs @ readouts[0].signs.to(probs.dtype)  # (E, B, F)
    gains = torch.stack([r.gain for r in readouts]).unsqueeze(1)  # (E, 1, F)
    biases = torch.stack([r.bias for r in readouts]).unsqueeze(1)  # (E, 1, C)
    return torch.baddbmm(biases, feats * gains, weight.expand(len(readouts), *weight.shape))


def make_readout(
    kind: str,
    n_qubits: int,
    n_classes: int,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
    observables: str = "z",
    holds_map: bool = False,
) -> nn.Module:
    """Exit readout of ``kind``; ``holds_map`` marks the shared readout of the base block."""
    if kind == "born":
        return BornReadout(n_qubits, n_classes, dtype)
    if kind == "expval":
        return ExpvalReadout(n_qubits, n_classes, 2, dtype, generator, observables)
    if kind == "linear":
        return ExpvalReadout(n_qubits, n_classes, None, dtype, generator, observables)
    if kind == "shared":
        return SharedReadout(n_qubits, n_classes, holds_map, dtype, generator, observables)
    raise ValueError(f"unknown readout {kind!r}; use {', '.join(KINDS)}")
