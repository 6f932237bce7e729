"""Noise model of the DQNN: which channels follow which gate, and measurement imperfections.

Convention (identical in every backend, including the PennyLane ``default.mixed`` reference):
after every gate (each U3, each CU3, each RY of the angle encoding; amplitude encoding is an
ideal state preparation), every wire the gate touched gets, in this order,

1. depolarizing(p),
2. amplitude damping(gamma_ad), 3. phase damping(gamma_pd),
4. zero-temperature thermal relaxation from (T1, T2) over the gate's duration
   (``gate_time_1q`` for U3/RY, ``gate_time_2q`` for CU3; same unit as T1/T2).

At measurement: a symmetric readout bit flip on every qubit, then (if ``shots > 0``) finite
sampling: the exit's probabilities are replaced by the frequencies of ``shots`` draws from a
seeded generator. Gradient: straight-through, i.e. the forward value is the sampled frequency
and the backward pass uses the gradient of the exact expectation (an unbiased estimate of the
gradient of any quantity linear in the probabilities; for the log in the Born readout it is the
usual biased-but-useful plug-in estimate).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dqfl.quantum import density


@dataclass(frozen=True)
class NoiseModel:
    depolarizing: float = 0.0
    amplitude_damping: float = 0.0
    phase_damping: float = 0.0
    t1: float = 0.0
    t2: float = 0.0
    gate_time_1q: float = 0.05
    gate_time_2q: float = 0.3
    readout_error: float = 0.0
    shots: int = 0

    @classmethod
    def from_config(cls, cfg) -> NoiseModel:
        return cls(
            depolarizing=cfg.depolarizing,
            amplitude_damping=cfg.amplitude_damping,
            phase_damping=cfg.phase_damping,
            t1=cfg.t1,
            t2=cfg.t2,
            gate_time_1q=cfg.gate_time_1q,
            gate_time_2q=cfg.gate_time_2q,
            readout_error=cfg.readout_error,
            shots=cfg.shots,
        )

    @property
    def has_gate_noise(self) -> bool:
        return any(
            v > 0 for v in (self.depolarizing, self.amplitude_damping, self.phase_damping)
        ) or (self.t1 > 0)

    @property
    def is_noiseless(self) -> bool:
        return not self.has_gate_noise and self.readout_error == 0 and self.shots == 0

    def gate_channels(self, two_qubit: bool) -> list[torch.Tensor]:
        """Kraus sets (each ``(m, 2, 2)`` complex128) applied, in order, to each touched wire."""
        out = []
        if self.depolarizing > 0:
            out.append(density.depolarizing_kraus(self.depolarizing))
        if self.amplitude_damping > 0:
            out.append(density.amplitude_damping_kraus(self.amplitude_damping))
        if self.phase_damping > 0:
            out.append(density.phase_damping_kraus(self.phase_damping))
        if self.t1 > 0:
            tg = self.gate_time_2q if two_qubit else self.gate_time_1q
            out.append(density.thermal_relaxation_kraus(self.t1, self.t2, tg))
        return out

    def gate_superop(self, two_qubit: bool) -> torch.Tensor | None:
        """All of :meth:`gate_channels` fused into one (2, 2, 2, 2) superoperator."""
        chans = self.gate_channels(two_qubit)
        if not chans:
            return None
        return density.compose_superops(*[density.kraus_to_superop(k) for k in chans])

    def pennylane_ops(self, wire: int, two_qubit: bool) -> None:
        """Queue the same channels as PennyLane operations (inside a QNode)."""
        import pennylane as qml

        if self.depolarizing > 0:
            qml.DepolarizingChannel(self.depolarizing, wires=wire)
        if self.amplitude_damping > 0:
            qml.AmplitudeDamping(self.amplitude_damping, wires=wire)
        if self.phase_damping > 0:
            qml.PhaseDamping(self.phase_damping, wires=wire)
        if self.t1 > 0:
            tg = self.gate_time_2q if two_qubit else self.gate_time_1q
            qml.ThermalRelaxationError(0.0, self.t1, self.t2, tg, wires=wire)

    def measure(
        self, probs: torch.Tensor, n_qubits: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Readout error then finite shots (straight-through) on exact probabilities (B, D)."""
        if self.readout_error > 0:
            probs = density.apply_readout_error(
                probs, self.readout_error, self.readout_error, n_qubits
            )
        if self.shots > 0:
            probs = sample_frequencies(probs, self.shots, generator)
        return probs


def sample_frequencies(
    probs: torch.Tensor, shots: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Frequencies of ``shots`` seeded draws per row, with a straight-through gradient."""
    p = probs.detach().clamp_min(0).reshape(-1, probs.shape[-1])
    p = p / p.sum(-1, keepdim=True)
    draws = torch.multinomial(p.float().cpu(), shots, replacement=True, generator=generator)
    counts = torch.zeros(p.shape, dtype=probs.dtype)
    counts.scatter_add_(1, draws, torch.ones(draws.shape, dtype=probs.dtype))
    freq = (counts / shots).to(probs.device).reshape(probs.shape)
    return probs + (freq - probs).detach()
