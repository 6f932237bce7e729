"""Noise of the simulated NISQ device used by the therapy VQE: a preset of the core model.

There is one noise model in the project, :class:`dqfl.quantum.noise.NoiseModel`; the planner uses
its ``"superconducting"`` preset (1q depolarizing 1e-3, 2q 1e-2, T1 100 us, T2 80 us, 50 ns /
300 ns gates, readout P(1|0) = 1.5 %, P(0|1) = 3 %).

Placement is the core's (mirrored by the PennyLane ``default.mixed`` reference circuit in
:mod:`.ansatz`): after every single-qubit gate, depolarizing ``p1`` then zero-temperature thermal
relaxation (T1, T2) for ``gate_time_1q`` on that wire; after every CNOT, depolarizing ``p2`` then
relaxation for ``gate_time_2q`` on each of its two wires. Idle qubits do not decohere (a
simplification: it keeps the channel count linear in the gate count). Before measurement every
qubit has a classical, asymmetric readout error.
"""

from __future__ import annotations

from dqfl.quantum.noise import NoiseModel

__all__ = ["NoiseModel", "PRESET", "device_noise"]

PRESET = "superconducting"


def device_noise() -> NoiseModel:
    """The planner's default device noise (the core model's ``superconducting`` preset)."""
    return NoiseModel.preset(PRESET)
