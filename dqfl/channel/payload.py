"""Bits per block, rate per block and the SINR threshold each block needs.

Block l carries layer l's circuit parameters plus exit l's readout (the federation passes the
model's real counts), times bits per parameter. In a slot of tau seconds over W Hz there are W tau
channel uses, so block l needs R_l = b_l / (W tau) bit/s/Hz and, by Shannon, SINR >= 2^R_l - 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dqfl.errors import DqflError


def block_bits(param_counts: Sequence[int], bits_per_param: int = 32) -> list[int]:
    """Bits of each block: its parameter count times bits per parameter."""
    counts = list(param_counts)
    if not counts:
        raise DqflError("block parameter counts must not be empty")
    if any(int(c) != c or c < 0 for c in counts):
        raise DqflError(f"block parameter counts must be non-negative integers; got {counts}")
    if int(bits_per_param) != bits_per_param or bits_per_param <= 0:
        raise DqflError(f"channel.bits_per_param must be a positive integer; got {bits_per_param}")
    return [int(c) * int(bits_per_param) for c in counts]


def block_rates(bits: Sequence[int], bandwidth_hz: float, slot_s: float) -> np.ndarray:
    """Spectral efficiency R_l = b_l / (W tau) each block needs (bit/s/Hz)."""
    return np.asarray(bits, dtype=float) / (bandwidth_hz * slot_s)


def thresholds(rates: np.ndarray) -> np.ndarray:
    """SINR thresholds theta_l = 2^R_l - 1 (linear)."""
    return np.expm1(np.asarray(rates, dtype=float) * np.log(2.0))


def vanilla_threshold(bits: Sequence[int], bandwidth_hz: float, slot_s: float) -> float:
    """Threshold of the all-or-nothing message carrying every block at once."""
    return float(thresholds(block_rates([sum(bits)], bandwidth_hz, slot_s))[0])
