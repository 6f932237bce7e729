"""Output distribution of the ansatz: the only thing a diagonal (Z/ZZ) cost needs.

Because the therapy Hamiltonian is diagonal in the computational basis, <H> = sum_x p(x) E(x), so
the VQE never needs Pauli-term-by-term measurement: one probability vector per parameter set.

* noiseless: a numpy statevector (2^n amplitudes; fine up to ~20 qubits);
* noisy: the project's density-matrix simulator :mod:`dqfl.quantum.density` (torch, complex128),
  with the gate and relaxation channels fused into one 4x4 superoperator per wire and step, and the
  classical readout error at the end (``4^n`` memory: practical up to ~8-10 qubits).
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
def _ry(t: float) -> np.ndarray:
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.array([[c, -s], [s, c]], dtype=complex)


def _rz(t: float) -> np.ndarray:
    return np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)])


def statevector_probabilities(params: np.ndarray, n_qubits: int, layers: int) -> np.ndarray:
    theta = shape_params(params, n_qubits, layers)
    n = n_qubits
    psi = np.zeros((2,) * n, dtype=complex)
    psi[(0,) * n] = 1.0
    for layer in range(layers):
        for w in range(n):
            u = _rz(theta[layer, 1, w]) @ _ry(theta[layer, 0, w])
            psi = np.moveaxis(np.tensordot(u, psi, axes=([1], [w])), 0, w)
        for w in range(n - 1):
            # CNOT(w, w+1): flip wire w+1 where wire w is 1
            idx = [slice(None)] * n
            idx[w] = 1
            sub = psi[tuple(idx)]  # wire w+1 is now axis w
            psi[tuple(idx)] = np.flip(sub, axis=w).copy()
    p = np.abs(psi.reshape(-1)) ** 2
    return p / p.sum()


# ---------------------------------------------------------------------- noisy
@lru_cache(maxsize=8)
def _noise_superops(noise: NoiseModel):
    """(single-qubit-gate noise, CNOT noise) superoperators, torch complex128 (2,2,2,2)."""
    import torch

    from dqfl.quantum import density as dm

    def channel(p: float, tg: float) -> torch.Tensor:
        dep = dm.kraus_to_superop(dm.depolarizing_kraus(p, dtype=torch.complex128))
        rel = dm.kraus_to_superop(
            dm.thermal_relaxation_kraus(noise.t1_us, noise.t2_us, tg, dtype=torch.complex128)
        )
        return dm.compose_superops(dep, rel)

    return channel(noise.p1, noise.gate_time_1q_us), channel(noise.p2, noise.gate_time_2q_us)


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
    theta = torch.as_tensor(shape_params(params, n, layers), dtype=torch.float64)
    s1, s2 = _noise_superops(noise)
    cnot = gates.cnot(torch.complex128)
    rho = dm.zero_state(n, dtype=torch.complex128)
    with torch.no_grad(), single_thread():
        ry = gates.ry(theta[:, 0, :])  # (layers, n, 2, 2)
        rz = gates.rz(theta[:, 1, :])
        # fused superoperator of RY, noise, RZ, noise for every (layer, wire)
        s_ry = torch.einsum("xwai,xwbj->xwabij", ry, ry.conj())
        s_rz = torch.einsum("xwai,xwbj->xwabij", rz, rz.conj())
        # applied right to left: RY, noise, RZ, noise
        fused = torch.einsum("abij,xwijkm->xwabkm", s1, s_rz)
        fused = torch.einsum("xwabij,ijkm->xwabkm", fused, s1)
        fused = torch.einsum("xwabij,xwijkm->xwabkm", fused, s_ry)
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
