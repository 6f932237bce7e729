"""Noiseless statevector simulation of a :class:`~dqfl.quantum.circuit.Circuit` (``torch`` backend).

:func:`run` interprets the circuit description on one of two exact paths:

* ``adjoint`` (default whenever the start state does not depend on trained data angles, i.e.
  without re-uploading): layers fused into a few matrices per layer and a hand-derived backward
  pass, :mod:`dqfl.quantum.adjoint`. The training fast path.
* ``gatewise``: every op of the description in turn on (B, 2**n) complex states with autograd;
  the general path (re-uploaded, per-sample data angles) and the reference for the other.

Both agree with PennyLane to float precision, outputs and gradients (tests); CUDA inputs keep the
state on the GPU.
"""

from __future__ import annotations

import torch

from dqfl.quantum import adjoint, gates
from dqfl.quantum._wires import apply_to_state
from dqfl.quantum.circuit import Circuit

SIMULATORS = ("auto", "adjoint", "gatewise")


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
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}; got {simulator!r}")
    k = circuit.layers_per_block
    u3, cu3 = u3[: depth * k], cu3[: depth * k]
    if simulator == "auto":
        simulator = "adjoint" if adjoint.supports(circuit) else "gatewise"
    if simulator == "adjoint":
        return adjoint.adjoint_exits(psi0, u3, cu3, circuit)
    if circuit.encoding == "angle":
        psi0 = torch.zeros_like(psi0)
        psi0[:, 0] = 1.0
    return gatewise_exits(psi0, u3, cu3, circuit, angles, depth)
