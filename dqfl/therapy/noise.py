"""Noise model of the simulated NISQ device used by the therapy VQE.

Placement (mirrored exactly by the PennyLane ``default.mixed`` reference circuit in
:mod:`.ansatz`): after every single-qubit gate, a depolarizing channel ``p1`` then zero-temperature
thermal relaxation (T1, T2) for ``gate_time_1q`` on that wire; after every CNOT, depolarizing
``p2`` then relaxation for ``gate_time_2q`` on each of its two wires. Idle qubits do not decohere
(a simplification: it keeps the channel count linear in the gate count). Before measurement every
qubit has a classical readout error: P(read 1 | 0) = ``readout_p01``,
P(read 0 | 1) = ``readout_p10``.

Default values are of the order published for current superconducting devices (1q error 1e-3,
2q error 1e-2, T1 100 us, T2 80 us, 50 ns / 300 ns gates, 1.5 % / 3 % readout errors).
"""

from __future__ import annotations

from dataclasses import dataclass

from dqfl.errors import DqflError


@dataclass(frozen=True)
class NoiseModel:
    p1: float = 1e-3
    p2: float = 1e-2
    t1_us: float = 100.0
    t2_us: float = 80.0
    gate_time_1q_us: float = 0.05
    gate_time_2q_us: float = 0.3
    readout_p01: float = 0.015
    readout_p10: float = 0.03

    def validate(self) -> None:
        for name in ("p1", "p2", "readout_p01", "readout_p10"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise DqflError(f"therapy.noise.{name} must be in [0, 1]; got {v}")
        if self.t1_us <= 0 or self.t2_us <= 0:
            raise DqflError("therapy.noise.t1_us and t2_us must be > 0")
        if self.t2_us > 2 * self.t1_us:
            raise DqflError(
                f"therapy.noise.t2_us must be <= 2 * t1_us; got t1={self.t1_us}, t2={self.t2_us}"
            )
        if self.gate_time_1q_us < 0 or self.gate_time_2q_us < 0:
            raise DqflError("therapy.noise gate times must be >= 0")

    def scaled(self, factor: float) -> NoiseModel:
        """Every error rate times ``factor`` (T1, T2 divided by it), for noise sweeps."""
        if factor <= 0:
            raise DqflError(f"noise scale must be > 0; got {factor}")
        return NoiseModel(
            p1=min(1.0, self.p1 * factor),
            p2=min(1.0, self.p2 * factor),
            t1_us=self.t1_us / factor,
            t2_us=self.t2_us / factor,
            gate_time_1q_us=self.gate_time_1q_us,
            gate_time_2q_us=self.gate_time_2q_us,
            readout_p01=min(1.0, self.readout_p01 * factor),
            readout_p10=min(1.0, self.readout_p10 * factor),
        )
