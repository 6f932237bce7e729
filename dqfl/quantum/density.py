"""Batched density-matrix simulator (exact noisy simulation with autograd).

States are complex tensors ``rho`` of shape ``(..., 2**n, 2**n)`` (any leading batch shape);
wire 0 is the most significant bit of the basis index, as in PennyLane. Every function is pure
(returns a new tensor) and differentiable, so gate angles and inputs can be trained through
noise.

Limits: memory and time grow as ``4**n`` per sample (a 2-qubit gate costs ``O(4**n)`` work, a
layer of ``2n`` gates plus channels ``O(n 4**n)``). With gradients and a batch of 64 this is
practical up to about 6 qubits on a CPU (8 qubits works but is ~16x slower per op than 6); for
8-10 noisy qubits use :mod:`dqfl.quantum.trajectories` instead.

Typical use (a noisy RY/CNOT ansatz)::

    rho = zero_state(n)
    rho = apply_1q(rho, gates.ry(theta), wire=0, n_qubits=n)
    rho = apply_2q(rho, gates.cnot(), (0, 1), n)
    rho = apply_kraus(rho, depolarizing_kraus(0.01), wire=1, n_qubits=n)
    p = apply_readout_error(probabilities(rho), p01=0.02, p10=0.05, n_qubits=n)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from dqfl.quantum._wires import apply_to_rows

__all__ = [
    "zero_state",
    "from_statevector",
    "apply_unitary",
    "apply_1q",
    "apply_2q",
    "apply_kraus",
    "apply_superop",
    "kraus_to_superop",
    "unitary_superop",
    "compose_superops",
    "depolarizing_kraus",
    "amplitude_damping_kraus",
    "phase_damping_kraus",
    "thermal_relaxation_kraus",
    "bit_flip_kraus",
    "probabilities",
    "apply_readout_error",
    "expval_z",
    "fidelity_with_state",
    "purity",
]


def zero_state(
    n_qubits: int,
    batch_shape: Sequence[int] = (),
    dtype: torch.dtype = torch.complex64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """|0...0><0...0| with the given batch shape."""
    d = 2**n_qubits
    rho = torch.zeros(*batch_shape, d, d, dtype=dtype, device=device)
    rho[..., 0, 0] = 1
    return rho


def from_statevector(psi: torch.Tensor) -> torch.Tensor:
    """|psi><psi| for statevectors ``(..., 2**n)``."""
    return psi.unsqueeze(-1) * psi.conj().unsqueeze(-2)


def apply_unitary(rho: torch.Tensor, u: torch.Tensor, wires: Sequence[int], n_qubits: int):
    """``U rho U^dagger`` for a k-qubit ``u`` (``(..., 2**k, 2**k)``, batch broadcasts) on
    ``wires`` (in that order: ``wires[0]`` is the most significant bit of u's index)."""
    u = u.to(dtype=rho.dtype, device=rho.device)
    left = apply_to_rows(rho, u, wires, n_qubits)  # U rho
    # (U rho)^dag = rho^dag U^dag; U (rho^dag U^dag) then ^dag = U rho U^dag (rho need not be
    # Hermitian for this to hold).
    return apply_to_rows(left.mH, u, wires, n_qubits).mH


def apply_1q(rho: torch.Tensor, u: torch.Tensor, wire: int, n_qubits: int) -> torch.Tensor:
    """A single-qubit unitary ``(..., 2, 2)`` on ``wire``."""
    return apply_unitary(rho, u, (wire,), n_qubits)


def apply_2q(rho: torch.Tensor, u: torch.Tensor, wires: Sequence[int], n_qubits: int):
    """A two-qubit unitary ``(..., 4, 4)`` on ``wires=(w0, w1)``; w0 is the high bit (the
    control of :func:`dqfl.quantum.gates.cnot` / ``cu3``)."""
    if len(wires) != 2:
        raise ValueError("apply_2q needs exactly two wires")
    return apply_unitary(rho, u, wires, n_qubits)


def _stack_kraus(kraus_ops: Sequence[torch.Tensor] | torch.Tensor, like: torch.Tensor):
    k = kraus_ops if isinstance(kraus_ops, torch.Tensor) else torch.stack(list(kraus_ops))
    return k.to(dtype=like.dtype, device=like.device)


def apply_kraus(
    rho: torch.Tensor,
    kraus_ops: Sequence[torch.Tensor] | torch.Tensor,
    wire: int | Sequence[int],
    n_qubits: int,
) -> torch.Tensor:
    """The channel ``sum_k K_k rho K_k^dagger``; ``kraus_ops`` is a list or an ``(m, d, d)``
    tensor (d = 2 for one wire, 4 for two). Single-qubit channels go through the 4x4
    superoperator (one contraction instead of 2m matrix products)."""
    wires = (wire,) if isinstance(wire, int) else tuple(wire)
    k = _stack_kraus(kraus_ops, rho)
    if len(wires) == 1 and k.dim() == 3:
        return apply_superop(rho, kraus_to_superop(k), wires[0], n_qubits)
    out = None
    for i in range(k.shape[0]):
        term = apply_unitary(rho, k[i], wires, n_qubits)
        out = term if out is None else out + term
    return out


def kraus_to_superop(kraus_ops: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """Single-qubit superoperator ``S[a, b, i, j] = sum_k K[a, i] conj(K[b, j])`` (shape
    (2, 2, 2, 2)) so that ``rho'[a, b] = sum_ij S[a, b, i, j] rho[i, j]``. Channels on the same
    wire compose as ``einsum('abij,ijkl->abkl', S2, S1)``."""
    k = kraus_ops if isinstance(kraus_ops, torch.Tensor) else torch.stack(list(kraus_ops))
    return torch.einsum("kai,kbj->abij", k, k.conj())


def unitary_superop(u: torch.Tensor) -> torch.Tensor:
    """Superoperator of ``rho -> U rho U^dagger`` for single-qubit gates ``(..., 2, 2)``, shape
    ``(..., 2, 2, 2, 2)``, in the layout of :func:`kraus_to_superop`."""
    return torch.einsum("...ai,...bj->...abij", u, u.conj())


def compose_superops(*superops: torch.Tensor) -> torch.Tensor:
    """Superoperator of applying ``superops[0]`` first, then ``superops[1]``, ... (leading batch
    dimensions broadcast)."""
    out = superops[0]
    for s in superops[1:]:
        out = torch.einsum("...abij,...ijkl->...abkl", s.to(out.dtype), out)
    return out


def apply_superop(rho: torch.Tensor, superop: torch.Tensor, wire: int, n_qubits: int):
    """A single-qubit channel given as a (2, 2, 2, 2) superoperator on ``wire``."""
    d = 2**n_qubits
    left, right = 2**wire, 2 ** (n_qubits - wire - 1)
    batch = rho.shape[:-2]
    r6 = rho.reshape(*batch, left, 2, right, left, 2, right)
    out = torch.einsum("abij,...lirmjs->...larmbs", superop.to(rho.dtype), r6)
    return out.reshape(*batch, d, d)


def _real(x: float) -> float:
    return float(x)


def depolarizing_kraus(p: float, dtype=torch.complex128, device=None) -> torch.Tensor:
    """``qml.DepolarizingChannel(p)``: sqrt(1-p) I, sqrt(p/3) X, Y, Z (shape (4, 2, 2))."""
    p = _real(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"depolarizing probability must be in [0, 1]; got {p}")
    a, b = math.sqrt(1 - p), math.sqrt(p / 3)
    return torch.tensor(
        [[[a, 0], [0, a]], [[0, b], [b, 0]], [[0, -1j * b], [1j * b, 0]], [[b, 0], [0, -b]]],
        dtype=dtype,
        device=device,
    )


def amplitude_damping_kraus(gamma: float, dtype=torch.complex128, device=None) -> torch.Tensor:
    """``qml.AmplitudeDamping(gamma)``: |1> decays to |0> with probability gamma."""
    g = _real(gamma)
    if not 0.0 <= g <= 1.0:
        raise ValueError(f"amplitude damping gamma must be in [0, 1]; got {g}")
    return torch.tensor(
        [[[1, 0], [0, math.sqrt(1 - g)]], [[0, math.sqrt(g)], [0, 0]]], dtype=dtype, device=device
    )


def phase_damping_kraus(gamma: float, dtype=torch.complex128, device=None) -> torch.Tensor:
    """``qml.PhaseDamping(gamma)``: coherences shrink by sqrt(1-gamma), populations kept."""
    g = _real(gamma)
    if not 0.0 <= g <= 1.0:
        raise ValueError(f"phase damping gamma must be in [0, 1]; got {g}")
    return torch.tensor(
        [[[1, 0], [0, math.sqrt(1 - g)]], [[0, 0], [0, math.sqrt(g)]]], dtype=dtype, device=device
    )


def bit_flip_kraus(p: float, dtype=torch.complex128, device=None) -> torch.Tensor:
    """``qml.BitFlip(p)``."""
    p = _real(p)
    a, b = math.sqrt(1 - p), math.sqrt(p)
    return torch.tensor([[[a, 0], [0, a]], [[0, b], [b, 0]]], dtype=dtype, device=device)


def thermal_relaxation_gammas(t1: float, t2: float, gate_time: float) -> tuple[float, float]:
    """(amplitude-damping gamma, extra phase-damping gamma) of zero-temperature T1/T2
    relaxation during ``gate_time`` (same time unit as t1, t2). Requires 0 < T2 <= 2 T1."""
    if t1 <= 0 or t2 <= 0 or gate_time < 0:
        raise ValueError("thermal relaxation needs t1 > 0, t2 > 0 and gate_time >= 0")
    if t2 > 2 * t1 + 1e-12:
        raise ValueError(f"T2 must be <= 2*T1 (physical limit); got t1={t1}, t2={t2}")
    g_ad = 1.0 - math.exp(-gate_time / t1)
    # Coherence after AD is sqrt(1-g_ad) = exp(-t/2T1); PD supplies the rest of exp(-t/T2).
    g_pd = 1.0 - math.exp(-2.0 * gate_time / t2 + gate_time / t1)
    return g_ad, max(0.0, min(1.0, g_pd))


def thermal_relaxation_kraus(
    t1: float, t2: float, gate_time: float, dtype=torch.complex128, device=None
) -> torch.Tensor:
    """Zero-temperature thermal relaxation (= ``qml.ThermalRelaxationError(0, t1, t2, tg)``):
    populations relax as exp(-t/T1), coherences as exp(-t/T2). Built as amplitude damping
    followed by phase damping; returns (4, 2, 2) Kraus operators."""
    g_ad, g_pd = thermal_relaxation_gammas(t1, t2, gate_time)
    ad = amplitude_damping_kraus(g_ad, dtype, device)
    pd = phase_damping_kraus(g_pd, dtype, device)
    return torch.stack([p @ a for p in pd for a in ad])


def probabilities(rho: torch.Tensor) -> torch.Tensor:
    """Computational-basis probabilities ``(..., 2**n)`` (real; the diagonal of rho)."""
    return torch.diagonal(rho, dim1=-2, dim2=-1).real


def apply_readout_error(
    probs: torch.Tensor,
    p01: float | Sequence[float],
    p10: float | Sequence[float],
    n_qubits: int,
) -> torch.Tensor:
    """Classical readout confusion applied independently to every qubit.

    ``p01`` = P(read 1 | true 0), ``p10`` = P(read 0 | true 1); scalars or one value per
    qubit. ``probs`` is ``(..., 2**n)``; returns the probabilities of the *read* bit strings.
    With p01 == p10 == p this equals PennyLane's ``default.mixed(readout_prob=p)``.
    """
    p01s = [float(p01)] * n_qubits if isinstance(p01, (int, float)) else [float(v) for v in p01]
    p10s = [float(p10)] * n_qubits if isinstance(p10, (int, float)) else [float(v) for v in p10]
    if len(p01s) != n_qubits or len(p10s) != n_qubits:
        raise ValueError("need one readout error per qubit")
    out = probs
    for w in range(n_qubits):
        a, b = p01s[w], p10s[w]
        if a == 0.0 and b == 0.0:
            continue
        conf = torch.tensor([[1 - a, b], [a, 1 - b]], dtype=probs.dtype, device=probs.device)
        out = apply_to_rows(out.unsqueeze(-1), conf, (w,), n_qubits).squeeze(-1)
    return out


def expval_z(rho: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """<Z_i> for every wire, shape ``(..., n)``."""
    p = probabilities(rho)
    bits = torch.arange(2**n_qubits, device=p.device)
    signs = torch.stack(
        [1 - 2 * ((bits >> (n_qubits - 1 - w)) & 1) for w in range(n_qubits)], -1
    ).to(p.dtype)
    return p @ signs


def fidelity_with_state(rho: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    """<psi| rho |psi> (real), the fidelity of rho with a pure target state."""
    return torch.einsum("...i,...ij,...j->...", psi.conj(), rho, psi).real


def purity(rho: torch.Tensor) -> torch.Tensor:
    """tr(rho^2), 1 for pure states and 1/2**n for the maximally mixed state."""
    return torch.einsum("...ij,...ji->...", rho, rho).real
