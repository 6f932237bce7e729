"""Gate matrices as differentiable torch tensors, in PennyLane's conventions.

Every parametrised gate accepts python floats or tensors of any batch shape ``(...)`` and
returns ``(..., 2, 2)`` (or ``(..., 4, 4)``) complex matrices, so the same code builds one gate
or a whole layer of gates at once. Real float32 inputs give complex64, float64 give complex128;
constant gates default to complex128 (the appliers cast every gate to the state's dtype).
Two-qubit gates use PennyLane's wire order: the first wire is the most significant bit, so
``cnot()`` and ``cu3(...)`` act with the control on the first wire of the pair.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "complex_dtype",
    "u3",
    "cu3",
    "rx",
    "ry",
    "rz",
    "phase_shift",
    "controlled",
    "identity",
    "hadamard",
    "pauli_x",
    "pauli_y",
    "pauli_z",
    "cnot",
    "cz",
    "swap",
]


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """Complex dtype matching a real (or complex) dtype: float64 -> complex128, else complex64."""
    if dtype in (torch.float64, torch.complex128):
        return torch.complex128
    return torch.complex64


def _as_tensor(x: float | torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError("gate angles must be real")
        return x if dtype is None else x.to(dtype)
    return torch.as_tensor(x, dtype=dtype or torch.get_default_dtype())


def _stack2x2(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """[[a, b], [c, d]] with the matrix in the last two dimensions."""
    return torch.stack((torch.stack((a, b), -1), torch.stack((c, d), -1)), -2)


def u3(theta: float | torch.Tensor, phi: float | torch.Tensor, delta: float | torch.Tensor):
    """``qml.U3(theta, phi, delta)``:
    [[cos(t/2), -e^{i delta} sin(t/2)], [e^{i phi} sin(t/2), e^{i(phi+delta)} cos(t/2)]]."""
    theta, phi, delta = (_as_tensor(v) for v in (theta, phi, delta))
    theta, phi, delta = torch.broadcast_tensors(theta, phi, delta)
    cdt = complex_dtype(theta.dtype)
    c = torch.cos(theta / 2).to(cdt)
    s = torch.sin(theta / 2).to(cdt)
    e_phi = torch.polar(torch.ones_like(phi), phi).to(cdt)
    e_delta = torch.polar(torch.ones_like(delta), delta).to(cdt)
    return _stack2x2(c, -e_delta * s, e_phi * s, e_phi * e_delta * c)


def rx(theta: float | torch.Tensor) -> torch.Tensor:
    """``qml.RX``: exp(-i theta X / 2)."""
    theta = _as_tensor(theta)
    cdt = complex_dtype(theta.dtype)
    c = torch.cos(theta / 2).to(cdt)
    s = torch.sin(theta / 2).to(cdt)
    return _stack2x2(c, -1j * s, -1j * s, c)


def ry(theta: float | torch.Tensor) -> torch.Tensor:
    """``qml.RY``: exp(-i theta Y / 2) (a real rotation)."""
    theta = _as_tensor(theta)
    cdt = complex_dtype(theta.dtype)
    c = torch.cos(theta / 2).to(cdt)
    s = torch.sin(theta / 2).to(cdt)
    return _stack2x2(c, -s, s, c)


def rz(theta: float | torch.Tensor) -> torch.Tensor:
    """``qml.RZ``: diag(e^{-i theta/2}, e^{i theta/2})."""
    theta = _as_tensor(theta)
    cdt = complex_dtype(theta.dtype)
    one = torch.ones_like(theta)
    a = torch.polar(one, -theta / 2).to(cdt)
    d = torch.polar(one, theta / 2).to(cdt)
    z = torch.zeros_like(a)
    return _stack2x2(a, z, z, d)


def phase_shift(phi: float | torch.Tensor) -> torch.Tensor:
    """``qml.PhaseShift``: diag(1, e^{i phi})."""
    phi = _as_tensor(phi)
    cdt = complex_dtype(phi.dtype)
    d = torch.polar(torch.ones_like(phi), phi).to(cdt)
    return _stack2x2(torch.ones_like(d), torch.zeros_like(d), torch.zeros_like(d), d)


def controlled(u: torch.Tensor) -> torch.Tensor:
    """Controlled version of a batched 1-qubit gate ``(..., 2, 2) -> (..., 4, 4)``: block
    diag(I, U), control on the first (most significant) wire, like ``qml.ctrl(op, control=c)``
    applied on wires ``(c, target)``."""
    eye = torch.eye(2, dtype=u.dtype, device=u.device)
    top = torch.cat((eye.expand(*u.shape[:-2], 2, 2), torch.zeros_like(u)), -1)
    bottom = torch.cat((torch.zeros_like(u), u), -1)
    return torch.cat((top, bottom), -2)


def cu3(theta: float | torch.Tensor, phi: float | torch.Tensor, delta: float | torch.Tensor):
    """``qml.ctrl(qml.U3(theta, phi, delta, wires=t), control=c)`` as a 4x4 matrix on (c, t)."""
    return controlled(u3(theta, phi, delta))


def _const(rows: list[list[complex]], dtype: torch.dtype, device) -> torch.Tensor:
    return torch.tensor(rows, dtype=dtype, device=device)


def identity(dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    return torch.eye(2, dtype=dtype, device=device)


def hadamard(dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    r = 1 / math.sqrt(2)
    return _const([[r, r], [r, -r]], dtype, device)


def pauli_x(dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    return _const([[0, 1], [1, 0]], dtype, device)


def pauli_y(dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    return _const([[0, -1j], [1j, 0]], dtype, device)


def pauli_z(dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    return _const([[1, 0], [0, -1]], dtype, device)


def cnot(dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    """CNOT on wires (control, target)."""
    return controlled(pauli_x(dtype, device))


def cz(dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    return controlled(pauli_z(dtype, device))


def swap(dtype: torch.dtype = torch.complex128, device=None) -> torch.Tensor:
    return _const([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype, device)
