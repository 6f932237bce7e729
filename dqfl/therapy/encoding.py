"""Binary plan encoding: one qubit per (modality, dose level, sequence slot).

x[m, l, s] = 1 means "give modality m at dose level l (a fraction of the standard dose) in sequence
slot s" (a slot is one treatment phase, e.g. a 3-week cycle block; slots are ordered in time).

Default: 3 modalities (chemo, radio, immuno) x 1 dose level (the standard dose, 1.0) x 2 slots =
6 qubits. Two slots rather than two dose levels so that the sequencing term has something to say
(order and recovery windows); the cumulative dose of a modality still ranges over 0, 1, 2 standard
units. Larger instances, e.g. levels (0.5, 1.0) x 3 slots = 18 qubits, use the same code.

Qubit (wire) order is modality-major, then slot, then level; wire 0 is the most significant bit of
a basis-state index, as in PennyLane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqfl.errors import DqflError
from dqfl.therapy.patient import MODALITIES

MAX_QUBITS = 20


@dataclass(frozen=True)
class PlanEncoding:
    """Sizes of the decision grid; ``n_qubits = 3 * len(levels) * n_slots``."""

    levels: tuple[float, ...] = (1.0,)
    n_slots: int = 2

    def __post_init__(self) -> None:
        if not self.levels:
            raise DqflError("therapy.levels must list at least one dose level")
        if any(not 0 < lv <= 2 for lv in self.levels):
            raise DqflError(f"therapy.levels must be dose fractions in (0, 2]; got {self.levels}")
        if len(set(self.levels)) != len(self.levels):
            raise DqflError(f"therapy.levels must be distinct; got {self.levels}")
        if self.n_slots < 1:
            raise DqflError(f"therapy.slots must be >= 1; got {self.n_slots}")
        if self.n_qubits > MAX_QUBITS:
            raise DqflError(
                f"plan encoding needs {self.n_qubits} qubits; at most {MAX_QUBITS} are supported "
                "(3 modalities x levels x slots)"
            )

    @property
    def modalities(self) -> tuple[str, ...]:
        return MODALITIES

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def n_qubits(self) -> int:
        return len(MODALITIES) * self.n_levels * self.n_slots

    def index(self, m: int, level: int, slot: int) -> int:
        """Wire of variable x[m, level, slot]."""
        return (m * self.n_slots + slot) * self.n_levels + level

    def variables(self) -> list[tuple[int, int, int]]:
        """(modality, level, slot) of every wire, in wire order."""
        out = [(0, 0, 0)] * self.n_qubits
        for m in range(len(MODALITIES)):
            for s in range(self.n_slots):
                for lv in range(self.n_levels):
                    out[self.index(m, lv, s)] = (m, lv, s)
        return out

    def label(self, i: int) -> str:
        m, lv, s = self.variables()[i]
        return f"{MODALITIES[m]}@{self.levels[lv]:g}/slot{s}"

    def dose(self, i: int) -> float:
        return self.levels[self.variables()[i][1]]

    def decode(self, bits: np.ndarray | list[int] | str) -> dict[str, list[float]]:
        """Plan as {modality: [dose fraction in slot 0, slot 1, ...]} (0 = not given).

        Two levels chosen for the same modality and slot (an invalid plan) add up, so that the
        table shows what the bitstring literally says.
        """
        x = as_bits(bits, self.n_qubits)
        plan = {name: [0.0] * self.n_slots for name in MODALITIES}
        for i, (m, lv, s) in enumerate(self.variables()):
            if x[i]:
                plan[MODALITIES[m]][s] += self.levels[lv]
        return plan

    def cumulative_dose(self, bits: np.ndarray | list[int] | str) -> dict[str, float]:
        return {k: float(sum(v)) for k, v in self.decode(bits).items()}


def as_bits(bits: np.ndarray | list[int] | str, n: int) -> np.ndarray:
    """A bitstring ("010011"), list or array as a uint8 vector of length n."""
    if isinstance(bits, str):
        if len(bits) != n or set(bits) - {"0", "1"}:
            raise DqflError(f"plan bitstring must have {n} characters 0/1; got {bits!r}")
        return np.array([int(c) for c in bits], dtype=np.uint8)
    x = np.asarray(bits).astype(np.uint8).ravel()
    if x.size != n:
        raise DqflError(f"plan must have {n} bits; got {x.size}")
    return x


def bitstring(bits: np.ndarray | list[int]) -> str:
    return "".join(str(int(b)) for b in bits)


def index_to_bits(index: np.ndarray | int, n: int) -> np.ndarray:
    """Basis-state index -> bits (wire 0 = most significant), shape (..., n)."""
    idx = np.asarray(index, dtype=np.int64)
    shifts = np.arange(n - 1, -1, -1, dtype=np.int64)
    return ((idx[..., None] >> shifts) & 1).astype(np.uint8)


def bits_to_index(bits: np.ndarray) -> np.ndarray:
    b = np.asarray(bits, dtype=np.int64)
    n = b.shape[-1]
    return (b << np.arange(n - 1, -1, -1, dtype=np.int64)).sum(-1)
