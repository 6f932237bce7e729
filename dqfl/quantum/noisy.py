"""The DQNN circuit under gate noise: exact (density matrices) or sampled (trajectories).

Both runners follow the channel placement of :mod:`dqfl.quantum.noise` and return the exact or
estimated basis-state probabilities after every layer, before readout error and shots.
"""

from __future__ import annotations

import torch

from dqfl.quantum import density, gates, trajectories
from dqfl.quantum.noise import NoiseModel
from dqfl.quantum.statevector import ring_pairs


def _layer_gates(u3: torch.Tensor, cu3: torch.Tensor):
    singles = gates.u3(u3[:, 0], u3[:, 1], u3[:, 2])
    doubles = gates.cu3(cu3[:, 0], cu3[:, 1], cu3[:, 2])
    return singles, doubles


def density_exits(
    psi0: torch.Tensor,
    params: list[tuple[torch.Tensor, torch.Tensor]],
    n_qubits: int,
    noise: NoiseModel,
    angles: torch.Tensor | None = None,
    reupload: bool = False,
) -> list[torch.Tensor]:
    """Exact noisy exit probabilities (B, D), one per layer (see :func:`density_states`)."""
    states = density_states(psi0, params, n_qubits, noise, angles, reupload)
    return [density.probabilities(r) for r in states]


def density_states(
    psi0: torch.Tensor,
    params: list[tuple[torch.Tensor, torch.Tensor]],
    n_qubits: int,
    noise: NoiseModel,
    angles: torch.Tensor | None = None,
    reupload: bool = False,
) -> list[torch.Tensor]:
    """Exact noisy density matrices (B, D, D) after every layer. ``psi0`` (B, D) is the encoded
    start state; ``angles`` (B, n) are the RY angles of an angle encoding (noise after those RY
    gates; re-uploaded if asked)."""
    cdt = gates.complex_dtype(psi0.dtype)
    s1, s2 = noise.gate_superop(False), noise.gate_superop(True)
    rho = density.from_statevector(psi0.to(cdt))
    n = n_qubits

    def noisy(rho, wires, s):
        if s is None:
            return rho
        for w in wires:
            rho = density.apply_superop(rho, s, w, n)
        return rho

    if angles is not None:
        rho = noisy(rho, range(n), s1)
    out = []
    for layer, (u3, cu3) in enumerate(params):
        if reupload and angles is not None and layer > 0:
            rys = gates.ry(angles)  # (B, n, 2, 2)
            for i in range(n):
                rho = noisy(density.apply_1q(rho, rys[:, i], i, n), (i,), s1)
        singles, doubles = _layer_gates(u3, cu3)
        for i in range(n):
            rho = noisy(density.apply_1q(rho, singles[i], i, n), (i,), s1)
        for i, pair in enumerate(ring_pairs(n)):
            rho = noisy(density.apply_2q(rho, doubles[i], pair, n), pair, s2)
        out.append(rho)
    return out


def trajectory_exits(
    psi0: torch.Tensor,
    params: list[tuple[torch.Tensor, torch.Tensor]],
    n_qubits: int,
    noise: NoiseModel,
    n_trajectories: int,
    generator: torch.Generator | None,
    angles: torch.Tensor | None = None,
    reupload: bool = False,
) -> list[torch.Tensor]:
    """Unbiased trajectory estimate of :func:`density_exits` (see :mod:`trajectories`)."""
    from dqfl.quantum._wires import apply_to_state

    cdt = gates.complex_dtype(psi0.dtype)
    n = n_qubits
    c1, c2 = noise.gate_channels(False), noise.gate_channels(True)
    psi = psi0.to(cdt).repeat(n_trajectories, 1)  # (T*B, D), trajectory-major
    reps = n_trajectories

    def noisy(psi, wires, chans):
        for w in wires:
            for k in chans:
                psi = trajectories.apply_sampled_kraus(psi, k, w, n, generator)
        return psi

    if angles is not None:
        psi = noisy(psi, range(n), c1)
    out = []
    for layer, (u3, cu3) in enumerate(params):
        if reupload and angles is not None and layer > 0:
            rys = gates.ry(angles).to(cdt).repeat(reps, 1, 1, 1)
            for i in range(n):
                psi = noisy(apply_to_state(psi, rys[:, i], (i,), n), (i,), c1)
        singles, doubles = _layer_gates(u3, cu3)
        for i in range(n):
            psi = noisy(apply_to_state(psi, singles[i].to(cdt), (i,), n), (i,), c1)
        for i, pair in enumerate(ring_pairs(n)):
            psi = noisy(apply_to_state(psi, doubles[i].to(cdt), pair, n), pair, c2)
        out.append(trajectories.mean_probabilities(psi, reps))
    return out
