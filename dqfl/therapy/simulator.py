"""Output distribution of the ansatz: the only thing a diagonal (Z/ZZ) cost needs.

Because the therapy Hamiltonian is diagonal in the computational basis, <H> = sum_x p(x) E(x), so
the VQE never needs Pauli-term-by-term measurement: one probability vector per parameter set.

Both simulators are the core's (:mod:`dqfl.quantum.gates`, the wire appliers of
:mod:`dqfl.quantum._wires` and :mod:`dqfl.quantum.density`, torch complex128) and the noise is the
core :class:`~dqfl.quantum.noise.NoiseModel`:

* noiseless: a statevector (2^n amplitudes; fine up to ~20 qubits);
* noisy: density matrices, with each rotation and its noise channels fused into one 4x4
  superoperator per wire and step, and the classical readout error at the end (``4^n`` memory:
  practical up to ~8-10 qubits).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from dqfl.therapy.ansatz import shape_params
from dqfl.therapy.noise import NoiseModel

MAX_NOISY_QUBITS = 10


def probabilities(
    params: np.ndarray, n_qubits: int, layers: int, noise: NoiseModel | None
) -> np.ndarray:
    """p(x) of the read-out bitstrings, wire 0 = most significant bit."""
    if noise is None:
        return statevector_probabilities(params, n_qubits, layers)
    return density_probabilities(params, n_qubits, layers, noise)


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread: a 64x64 density matrix is far too small to gain from threads,
    and on a busy 2-core machine intra-op threading made each circuit ~70x slower (1 s vs 14 ms)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------ noiseless
def _rotations(theta: np.ndarray):
    """Fused RZ @ RY for every (layer, wire) as core gates, complex128 (layers, n, 2, 2)."""
    import torch

    from dqfl.quantum import gates

    t = torch.as_tensor(theta, dtype=torch.float64)
    return gates.ry(t[:, 0, :]), gates.rz(t[:, 1, :])


def statevector_probabilities(params: np.ndarray, n_qubits: int, layers: int) -> np.ndarray:
    import torch

    from dqfl.quantum import gates
    from dqfl.quantum._wires import apply_to_state

    n = n_qubits
    ry, rz = _rotations(shape_params(params, n, layers))
    u = rz @ ry
    cnot = gates.cnot(torch.complex128)
    psi = torch.zeros(2**n, dtype=torch.complex128)
    psi[0] = 1.0
    with torch.no_grad(), single_thread():
        for layer in range(layers):
            for w in range(n):
                psi = apply_to_state(psi, u[layer, w], (w,), n)
            for w in range(n - 1):
                psi = apply_to_state(psi, cnot, (w, w + 1), n)
        p = (psi.abs() ** 2).numpy().astype(float)
    return p / p.sum()


# ---------------------------------------------------------------------- noisy
@lru_cache(maxsize=8)
def _noise_superops(noise: NoiseModel):
    """The core model's (single-qubit-gate, CNOT) channels as (2,2,2,2) superoperators; the
    identity where a gate has no noise."""
    import torch

    eye = torch.eye(4, dtype=torch.complex128).reshape(2, 2, 2, 2)

    def get(two_qubit: bool) -> torch.Tensor:
        s = noise.gate_superop(two_qubit)
        return eye if s is None else s.to(torch.complex128)

    return get(False), get(True)


def density_probabilities(
    params: np.ndarray, n_qubits: int, layers: int, noise: NoiseModel
) -> np.ndarray:
    import torch

    from dqfl.quantum import density as dm
    from dqfl.quantum import gates

    if n_qubits > MAX_NOISY_QUBITS:
        from dqfl.errors import DqflError

        raise DqflError(
            f"noisy simulation holds a 4^n density matrix; n={n_qubits} > {MAX_NOISY_QUBITS}. "
            "Use --noise none for larger instances."
        )
    n = n_qubits
    ry, rz = _rotations(shape_params(params, n, layers))
    s1, s2 = _noise_superops(noise)
    cnot = gates.cnot(torch.complex128)
    rho = dm.zero_state(n, dtype=torch.complex128)
    with torch.no_grad(), single_thread():
        # one fused superoperator per (layer, wire): RY, noise, RZ, noise
        fused = dm.compose_superops(dm.unitary_superop(ry), s1, dm.unitary_superop(rz), s1)
        for layer in range(layers):
            for w in range(n):
                rho = dm.apply_superop(rho, fused[layer, w], w, n)
            for w in range(n - 1):
                rho = dm.apply_2q(rho, cnot, (w, w + 1), n)
                rho = dm.apply_superop(rho, s2, w, n)
                rho = dm.apply_superop(rho, s2, w + 1, n)
        p = dm.probabilities(rho)
        p = dm.apply_readout_error(p, noise.readout_p01, noise.readout_p10, n)
    out = p.numpy().astype(float)
    out = np.clip(out, 0.0, None)
    return out / out.sum()
