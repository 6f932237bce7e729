"""Per-exit readouts: basis-state probabilities -> class logits, kept small next to the circuit.

Every readout takes the exit's measured basis-state probabilities ``p`` (B, 2**n) (exact, noisy
or shot-sampled) and returns logits (B, C):

* ``born`` (C + 1 parameters): class c collects the probability of the basis states
  b with ``b % C == c`` (a fixed partition, so all 2**n outcomes are used); logits are
  ``scale * log(p_c + eps) + bias_c``. With scale 1 and bias 0 the softmax *is* the Born rule;
  the learned temperature and per-class offsets let one exit sharpen its decisions without
  adding a classical feature extractor. Needs 2**n >= C.
* ``expval``: <Z_i> of every qubit, then a rank-r linear map ``z A B + b`` (n r + r C + C).
* ``linear``: <Z_i> then a full ``n x C`` affine map (n C + C); over budget at the defaults
  (90 per exit vs 48 circuit angles), kept only for comparison.
* ``shared`` (the default): <Z_i> then ``(z * gain_l) W + bias_l``. The full map W (n C) lives in
  the *base* block 0, which the uplink always delivers first, and every exit keeps only its own
  per-qubit gains and class biases (n + C). It trains like ``linear`` but keeps the classical
  part (n C + L (n + C)) below the circuit's 6 n L angles.
"""

from __future__ import annotations

import torch
from torch import nn

BORN_EPS = 1e-6


def z_signs(n_qubits: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(2**n, n) matrix of the eigenvalues of Z_i on each basis state (wire 0 = high bit)."""
    bits = torch.arange(2**n_qubits)
    cols = [1 - 2 * ((bits >> (n_qubits - 1 - w)) & 1) for w in range(n_qubits)]
    return torch.stack(cols, -1).to(dtype)


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

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        pc = probs @ self.groups.to(probs.dtype)
        return self.scale * torch.log(pc + BORN_EPS) + self.bias


class ExpvalReadout(nn.Module):
    """<Z_i> features followed by a rank-``rank`` linear map (full rank = ``linear``)."""

    def __init__(
        self,
        n_qubits: int,
        n_classes: int,
        rank: int | None = 2,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.register_buffer("signs", z_signs(n_qubits, dtype), persistent=False)
        self.rank = rank
        if rank is None:
            w = torch.randn(n_qubits, n_classes, generator=generator, dtype=dtype)
            self.weight = nn.Parameter(w / n_qubits**0.5)
        else:
            a = torch.randn(n_qubits, rank, generator=generator, dtype=dtype) / n_qubits**0.5
            b = torch.randn(rank, n_classes, generator=generator, dtype=dtype) / rank**0.5
            self.proj = nn.Parameter(a)
            self.weight = nn.Parameter(b)
        self.bias = nn.Parameter(torch.zeros(n_classes, dtype=dtype))

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        z = probs @ self.signs.to(probs.dtype)
        if self.rank is not None:
            z = z @ self.proj
        return z @ self.weight + self.bias


class SharedReadout(nn.Module):
    """<Z_i> scaled per exit, then a class map W shared by all exits and held by block 0."""

    def __init__(
        self,
        n_qubits: int,
        n_classes: int,
        holds_map: bool,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.register_buffer("signs", z_signs(n_qubits, dtype), persistent=False)
        if holds_map:
            w = torch.randn(n_qubits, n_classes, generator=generator, dtype=dtype)
            self.weight = nn.Parameter(w / n_qubits**0.5)
        self.gain = nn.Parameter(torch.ones(n_qubits, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(n_classes, dtype=dtype))

    def forward(self, probs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        z = probs @ self.signs.to(probs.dtype)
        return (z * self.gain) @ weight + self.bias


def make_readout(
    kind: str,
    n_qubits: int,
    n_classes: int,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> nn.Module:
    if kind == "born":
        return BornReadout(n_qubits, n_classes, dtype)
    if kind == "expval":
        return ExpvalReadout(n_qubits, n_classes, rank=2, dtype=dtype, generator=generator)
    if kind == "linear":
        return ExpvalReadout(n_qubits, n_classes, rank=None, dtype=dtype, generator=generator)
    if kind in ("shared", "shared-base"):
        return SharedReadout(n_qubits, n_classes, kind == "shared-base", dtype, generator)
    raise ValueError(f"unknown readout {kind!r}; use born, expval, linear or shared")
