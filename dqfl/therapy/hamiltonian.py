"""QUBO -> Ising -> PennyLane Hamiltonian, with the constant offset tracked.

Convention: x_i = (1 - z_i) / 2 where z_i = +1 for |0> and -1 for |1>, i.e. z_i is the eigenvalue
of Pauli Z on wire i. So the bit 1 of a plan is the qubit state |1>, and the basis-state index of
a plan is its bitstring read with wire 0 as the most significant bit (PennyLane's order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqfl.therapy.qubo import Qubo


@dataclass
class Ising:
    """E(z) = offset + sum_i h_i z_i + sum_{i<j} J_ij z_i z_j for z in {+1,-1}^n."""

    n: int
    h: np.ndarray
    J: np.ndarray  # strictly upper-triangular
    offset: float

    def energy(self, z: np.ndarray) -> float:
        z = np.asarray(z, dtype=float)
        return float(self.offset + self.h @ z + z @ self.J @ z)

    def diagonal(self) -> np.ndarray:
        """E of every basis state (the Hamiltonian is diagonal in the computational basis)."""
        from dqfl.therapy.encoding import index_to_bits

        z = 1.0 - 2.0 * index_to_bits(np.arange(1 << self.n), self.n)
        return self.offset + z @ self.h + ((z @ self.J) * z).sum(1)


def qubo_to_ising(q: Qubo) -> Ising:
    """Substitute x = (1 - z)/2 term by term."""
    h = -0.5 * q.linear.copy()
    offset = q.offset + 0.5 * q.linear.sum()
    J = 0.25 * q.quad.copy()
    offset += 0.25 * q.quad.sum()
    h -= 0.25 * (q.quad.sum(axis=1) + q.quad.sum(axis=0))
    return Ising(q.n, h, np.triu(J, 1), float(offset))


def ising_to_qubo(model: Ising) -> Qubo:
    """Substitute z = 1 - 2x (the inverse of :func:`qubo_to_ising`)."""
    J = np.triu(model.J, 1)
    linear = -2.0 * model.h - 2.0 * (J.sum(axis=1) + J.sum(axis=0))
    quad = 4.0 * J
    offset = model.offset + model.h.sum() + J.sum()
    return Qubo(model.n, linear, quad, float(offset))


def to_pennylane(model: Ising, include_offset: bool = True, tol: float = 1e-12):
    """A ``qml.Hamiltonian`` of Z and ZZ terms (plus offset * Identity if asked).

    The offset is returned separately by ``model.offset`` as well, because a VQE only needs the
    non-constant part.
    """
    import pennylane as qml

    coeffs: list[float] = []
    ops: list = []
    for i in range(model.n):
        if abs(model.h[i]) > tol:
            coeffs.append(float(model.h[i]))
            ops.append(qml.Z(i))
    for i in range(model.n):
        for j in range(i + 1, model.n):
            if abs(model.J[i, j]) > tol:
                coeffs.append(float(model.J[i, j]))
                ops.append(qml.Z(i) @ qml.Z(j))
    if include_offset and abs(model.offset) > tol:
        coeffs.append(float(model.offset))
        ops.append(qml.Identity(0))
    if not ops:
        coeffs, ops = [0.0], [qml.Identity(0)]
    return qml.Hamiltonian(coeffs, ops)
