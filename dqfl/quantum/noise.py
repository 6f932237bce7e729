"""Noise model of the DQNN: which channels follow which gate, and measurement imperfections.

Convention (identical in every backend, including the PennyLane ``default.mixed`` reference):
after every gate (each U3, each CU3, each RY of the angle encoding; amplitude encoding is an
ideal state preparation), every wire the gate touched gets, in this order,

1. depolarizing(p) (``depolarizing_2q`` after two-qubit gates when set, else the same p),
2. amplitude damping(gamma_ad), 3. phase damping(gamma_pd),
4. zero-temperature thermal relaxation from (T1, T2) over the gate's duration
   (``gate_time_1q`` for U3/RY, ``gate_time_2q`` for CU3; same unit as T1/T2).

At measurement: a readout bit flip on every qubit (P(read 1 | 0) = ``readout_error``,
P(read 0 | 1) = ``readout_error_10`` when set, else symmetric), then (if ``shots > 0``) finite
sampling: the exit's probabilities are replaced by the frequencies of ``shots`` draws from a
seeded generator. Gradient: straight-through, i.e. the forward value is the sampled frequency
and the backward pass uses the gradient of the exact expectation (an unbiased estimate of the
gradient of any quantity linear in the probabilities; for the log in the Born readout it is the
usual biased-but-useful plug-in estimate).

The DQNN's defaults are noiseless; :data:`PRESETS` holds named device models (the therapy
planner's simulated NISQ device is ``PRESETS["superconducting"]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from dqfl.errors import DqflError
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
    depolarizing_2q: float | None = None  # None: same as ``depolarizing``
    readout_error_10: float | None = None  # P(read 0 | 1); None: same as ``readout_error``

    @classmethod
    def preset(cls, name: str) -> NoiseModel:
        """A named device model from :data:`PRESETS`."""
        if name not in PRESETS:
            raise DqflError(f"noise preset must be one of {', '.join(PRESETS)}; got {name!r}")
        return PRESETS[name]

    @property
    def p1(self) -> float:
        """Depolarizing probability after a single-qubit gate."""
        return self.depolarizing

    @property
    def p2(self) -> float:
        """Depolarizing probability (per touched wire) after a two-qubit gate."""
        return self.depolarizing if self.depolarizing_2q is None else self.depolarizing_2q

    @property
    def readout_p01(self) -> float:
        """P(read 1 | true 0)."""
        return self.readout_error

    @property
    def readout_p10(self) -> float:
        """P(read 0 | true 1)."""
        return self.readout_error if self.readout_error_10 is None else self.readout_error_10

    def validate(self, section: str = "noise") -> NoiseModel:
        """Raise a one-line :class:`DqflError` naming ``section`` for unphysical values."""
        for name in ("depolarizing", "amplitude_damping", "phase_damping", "readout_error"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise DqflError(f"{section}.{name} must be in [0, 1]; got {v}")
        for name in ("depolarizing_2q", "readout_error_10"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= v <= 1.0:
                raise DqflError(f"{section}.{name} must be in [0, 1]; got {v}")
        if self.t1 < 0 or self.t2 < 0 or self.gate_time_1q < 0 or self.gate_time_2q < 0:
            raise DqflError(f"{section}: t1, t2 and gate times must be >= 0")
        if (self.t1 > 0) != (self.t2 > 0):
            raise DqflError(f"{section}.t1 and {section}.t2 must be both 0 (off) or both > 0")
        if self.t1 > 0 and self.t2 > 2 * self.t1:
            raise DqflError(
                f"{section}.t2 must be <= 2 * {section}.t1; got t1={self.t1}, t2={self.t2}"
            )
        if self.shots < 0:
            raise DqflError(f"{section}.shots must be >= 0; got {self.shots}")
        return self

    def scaled(self, factor: float) -> NoiseModel:
        """Every error probability times ``factor`` (capped at 1) and T1, T2 divided by it, for
        noise sweeps; gate times and shots are kept."""
        if not factor > 0 or math.isinf(factor):
            raise DqflError(f"noise scale must be > 0; got {factor}")

        def p(v: float | None) -> float | None:
            return None if v is None else min(1.0, v * factor)

        return replace(
            self,
            depolarizing=p(self.depolarizing),
            depolarizing_2q=p(self.depolarizing_2q),
            amplitude_damping=p(self.amplitude_damping),
            phase_damping=p(self.phase_damping),
            t1=self.t1 / factor,
            t2=self.t2 / factor,
            readout_error=p(self.readout_error),
            readout_error_10=p(self.readout_error_10),
        )

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
            v > 0 for v in (self.p1, self.p2, self.amplitude_damping, self.phase_damping)
        ) or (self.t1 > 0)

    @property
    def is_noiseless(self) -> bool:
        return (
            not self.has_gate_noise
            and self.readout_p01 == 0
            and self.readout_p10 == 0
            and self.shots == 0
        )

    def gate_channels(self, two_qubit: bool) -> list[torch.Tensor]:
        """Kraus sets (each ``(m, 2, 2)`` complex128) applied, in order, to each touched wire."""
        out = []
        dep = self.p2 if two_qubit else self.p1
        if dep > 0:
            out.append(density.depolarizing_kraus(dep))
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

        dep = self.p2 if two_qubit else self.p1
        if dep > 0:
            qml.DepolarizingChannel(dep, wires=wire)
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
        if self.readout_p01 > 0 or self.readout_p10 > 0:
            probs = density.apply_readout_error(probs, self.readout_p01, self.readout_p10, n_qubits)
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


#: Named device models. ``superconducting``: error rates of the order published for current
#: superconducting devices (1q depolarizing 1e-3, 2q 1e-2, T1 100 us, T2 80 us, 50 ns / 300 ns
#: gates, readout P(1|0) = 1.5 %, P(0|1) = 3 %); the therapy planner's default device.
PRESETS: dict[str, NoiseModel] = {
    "noiseless": NoiseModel(),
    "superconducting": NoiseModel(
        depolarizing=1e-3,
        depolarizing_2q=1e-2,
        t1=100.0,
        t2=80.0,
        gate_time_1q=0.05,
        gate_time_2q=0.3,
        readout_error=0.015,
        readout_error_10=0.03,
    ),
}
