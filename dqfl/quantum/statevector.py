"""Noiseless statevector simulation of a :class:`~dqfl.quantum.circuit.Circuit` (``torch`` backend).

:func:`run` interprets the circuit description and picks the fastest exact path:

* ``dense`` (default up to 6 qubits): a layer is the same for every sample, so its 2**n x 2**n
  unitary is built once per forward from its angles (a Kronecker product of the U3s, then each
  CU3 applied to its rows: O(n 4**n), independent of the batch); the layers of a block are
  multiplied together and the whole batch goes through one real GEMM per block, with the state
  kept as ``[Re | Im]`` (B, 2D) against ``[[Re U^T, Im U^T], [-Im U^T, Re U^T]]``.
* ``fused`` (default above 6 qubits, U3 + CU3-ring circuits): each layer is fused into three gate
  blocks (qubits 0..h with their U3s and CU3 chain, the rest, the wrap-around CU3) applied to a
  column-major (2**n, B) state: O(B 2**n 2**(n/2)) per layer instead of O(B 4**n).
* ``gatewise``: every op of the description in turn on (B, 2**n) complex states; the general
  path (any entangler, per-sample re-uploaded data angles) and the reference for the others.

All three agree with PennyLane to float precision (tests); autograd differentiates them and CUDA
inputs keep everything on the GPU.
"""

from __future__ import annotations

import torch

from dqfl.quantum import adjoint, gates
from dqfl.quantum._wires import apply_to_state
from dqfl.quantum.circuit import Circuit

SIMULATORS = ("auto", "adjoint", "dense", "fused", "gatewise")
DENSE_MAX_QUBITS = 6  # measured crossover (batch 64, 1 CPU thread): dense wins up to 6 qubits


# ---------------------------------------------------------------------------- building blocks
def _batched_kron(mats: torch.Tensor) -> torch.Tensor:
    """Kronecker product over dim -3 of ``(..., k, 2, 2)`` -> ``(..., 2**k, 2**k)``."""
    u = mats[..., 0, :, :]
    for i in range(1, mats.shape[-3]):
        m = mats[..., i, :, :]
        d = u.shape[-1] * 2
        u = (u[..., :, None, :, None] * m[..., None, :, None, :]).reshape(*u.shape[:-2], d, d)
    return u


def _controlled_rows(u: torch.Tensor, g: torch.Tensor, ctl: int, tgt: int, n: int):
    """Apply CU (control ``ctl``, 1-qubit ``g`` (L, 2, 2) on ``tgt``) to the rows of
    ``u`` (L, 2**n, m): only the control=1 half changes, so one small matmul plus a stack."""
    lb, m = u.shape[0], u.shape[-1]
    if ctl < tgt:
        v = u.reshape(lb, 2**ctl, 2, 2 ** (tgt - ctl - 1), 2, 2 ** (n - tgt - 1) * m)
        y1 = g[:, None, None] @ v[:, :, 1]  # (L, a, b, 2, r)
        return torch.stack((v[:, :, 0], y1), 2).reshape(u.shape)
    v = u.reshape(lb, 2**tgt, 2, 2 ** (ctl - tgt - 1), 2, 2 ** (n - ctl - 1) * m)
    x1 = v[:, :, :, :, 1]  # (L, a, 2, b, r)
    y1 = (g[:, None] @ x1.reshape(lb, 2**tgt, 2, -1)).reshape(x1.shape)
    return torch.stack((v[:, :, :, :, 0], y1), 4).reshape(u.shape)


def layer_unitaries(
    u3: torch.Tensor, cu3: torch.Tensor, pairs: tuple[tuple[int, int], ...]
) -> torch.Tensor:
    """All layers' unitaries at once: ``(L, n, 3)``/``(L, P, 3)`` angles -> ``(L, D, D)`` complex.
    Batching over layers keeps the number of autograd ops independent of L."""
    n = u3.shape[-2]
    u = _batched_kron(gates.u3(u3[..., 0], u3[..., 1], u3[..., 2]))  # (L, D, D)
    targets = gates.u3(cu3[..., 0], cu3[..., 1], cu3[..., 2])  # (L, P, 2, 2)
    for i, (c, t) in enumerate(pairs):
        u = _controlled_rows(u, targets[:, i], c, t, n)
    return u


def real_blocks(u: torch.Tensor) -> torch.Tensor:
    """(L, D, D) complex -> (L, 2D, 2D) real M: ``[Re psi', Im psi'] = [Re psi, Im psi] @ M``."""
    ut = u.transpose(-1, -2)
    re, im = ut.real, ut.imag
    return torch.cat((torch.cat((re, im), -1), torch.cat((-im, re), -1)), -2)


def probs_from_real(psi: torch.Tensor) -> torch.Tensor:
    """Basis probabilities from ``[Re | Im]`` (B, 2D)."""
    d = psi.shape[-1] // 2
    return psi[..., :d] ** 2 + psi[..., d:] ** 2


def _block_products(u: torch.Tensor, k: int) -> torch.Tensor:
    """(L, D, D) layer unitaries -> (L/k, D, D) block unitaries U_k ... U_1 of each block."""
    if k == 1:
        return u
    blocks = u.reshape(-1, k, *u.shape[-2:])
    out = blocks[:, 0]
    for j in range(1, k):
        out = blocks[:, j] @ out
    return out


# ---------------------------------------------------------------------------- fast paths
def dense_exits(psi0: torch.Tensor, u3, cu3, circuit: Circuit) -> list[torch.Tensor]:
    """Exit probabilities from a real start state (B, D): one real GEMM per block."""
    mats = real_blocks(
        _block_products(layer_unitaries(u3, cu3, circuit.pairs), circuit.layers_per_block)
    )
    d = psi0.shape[-1]
    psi = psi0 @ mats[0][:d]  # a real start state needs only the top half
    out = [probs_from_real(psi)]
    for m in mats[1:]:
        psi = psi @ m
        out.append(probs_from_real(psi))
    return out


def _chain_unitaries(singles: torch.Tensor, targets: torch.Tensor, lo: int, hi: int, first: bool):
    """(L, 2**k, 2**k) unitary of U3 on qubits lo..hi (U3_lo only if ``first``) followed by the
    CU3 chain (i -> i+1) for i in lo..hi-1, on the k = hi-lo+1 qubits lo..hi."""
    mats = singles[:, lo : hi + 1]
    if not first:
        eye = torch.eye(2, dtype=mats.dtype, device=mats.device).expand(mats.shape[0], 1, 2, 2)
        mats = torch.cat((eye, mats[:, 1:]), 1)
    k = hi - lo + 1
    u = _batched_kron(mats)
    for i in range(lo, hi):
        u = _controlled_rows(u, targets[:, i], i - lo, i - lo + 1, k)
    return u


def fused_exits(psi0: torch.Tensor, u3, cu3, circuit: Circuit) -> list[torch.Tensor]:
    """Ring circuits only: three fused gate blocks per layer on a column-major (D, B) state."""
    if not circuit.is_ring:
        raise ValueError("the fused kernels implement U3 + CU3-ring layers only")
    n = circuit.n_qubits
    h = n // 2
    cdt = gates.complex_dtype(psi0.dtype)
    singles = gates.u3(u3[..., 0], u3[..., 1], u3[..., 2])
    targets = gates.u3(cu3[..., 0], cu3[..., 1], cu3[..., 2])  # (L, n, 2, 2)
    block_a = _chain_unitaries(singles, targets, 0, h, True)  # qubits 0..h
    block_b = _chain_unitaries(singles, targets, h, n - 1, False)  # qubits h..n-1
    b = psi0.shape[0]
    psi, out = psi0.to(cdt).transpose(0, 1), []  # (D, B)
    for layer in range(u3.shape[0]):
        x = (block_a[layer] @ psi.reshape(2 ** (h + 1), -1)).reshape(2**h, 2 ** (n - h), b)
        x = (block_b[layer] @ x).reshape(1, 2**n, b)
        x = _controlled_rows(x, targets[layer : layer + 1, n - 1], n - 1, 0, n)
        psi = x.reshape(2**n, b)
        if (layer + 1) % circuit.layers_per_block == 0:
            out.append((psi.real**2 + psi.imag**2).transpose(0, 1))
    return out


# ---------------------------------------------------------------------------- general path
def gate_matrices(u3: torch.Tensor, cu3: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(L, n, 2, 2) U3 and (L, P, 4, 4) CU3 matrices of every variational layer."""
    singles = gates.u3(u3[..., 0], u3[..., 1], u3[..., 2])
    doubles = gates.cu3(cu3[..., 0], cu3[..., 1], cu3[..., 2])
    return singles, doubles


def op_matrix(op, singles, doubles, data_rys) -> torch.Tensor:
    """The matrix of a gate op: shared (2^k, 2^k) or per sample (B, 2^k, 2^k) for data RYs."""
    if op.kind == "u3":
        return singles[op.layer, op.index]
    if op.kind == "cu3":
        return doubles[op.layer, op.index]
    if op.kind == "ry_data":
        return data_rys[:, op.index]
    raise ValueError(f"not a gate op: {op.kind}")


def gatewise_exits(
    psi0: torch.Tensor, u3, cu3, circuit: Circuit, angles: torch.Tensor | None, depth: int
) -> list[torch.Tensor]:
    """Every op in turn on (B, D) complex states. ``psi0`` is the amplitude-encoded state, or
    |0...0> for angle encoding (whose RYs are ops of the circuit)."""
    cdt = gates.complex_dtype(psi0.dtype)
    n = circuit.n_qubits
    singles, doubles = gate_matrices(u3, cu3)
    data_rys = None if angles is None else gates.ry(angles).to(cdt)
    psi, out = psi0.to(cdt), []
    for op in circuit.prefix(depth):
        if op.kind == "exit":
            out.append(psi.real**2 + psi.imag**2)
        else:
            psi = apply_to_state(
                psi, op_matrix(op, singles, doubles, data_rys).to(cdt), op.wires, n
            )
    return out


def run(
    circuit: Circuit,
    psi0: torch.Tensor,
    u3: torch.Tensor,
    cu3: torch.Tensor,
    depth: int,
    angles: torch.Tensor | None = None,
    simulator: str = "auto",
) -> list[torch.Tensor]:
    """Exit probabilities (B, D) after each of the first ``depth`` blocks.

    ``psi0`` is the real encoded start state (B, D) (angle encoding: the RY product state) and
    ``u3``/``cu3`` the stacked angles of at least ``depth * layers_per_block`` layers.
    """
    k = circuit.layers_per_block
    u3, cu3 = u3[: depth * k], cu3[: depth * k]
    if circuit.data_reuploaded:
        simulator = "gatewise"
    if simulator == "auto" and adjoint.supports(circuit):
        simulator = "adjoint"
    if simulator == "adjoint":
        return adjoint.adjoint_exits(psi0, u3, cu3, circuit)
    if simulator == "auto":
        if circuit.n_qubits <= DENSE_MAX_QUBITS:
            simulator = "dense"
        else:
            simulator = "fused" if circuit.is_ring else "gatewise"
    if simulator == "dense":
        return dense_exits(psi0, u3, cu3, circuit)
    if simulator == "fused":
        return fused_exits(psi0, u3, cu3, circuit)
    if simulator == "gatewise":
        if circuit.encoding == "angle":
            psi0 = torch.zeros_like(psi0)
            psi0[:, 0] = 1.0
        return gatewise_exits(psi0, u3, cu3, circuit, angles, depth)
    raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}; got {simulator!r}")
