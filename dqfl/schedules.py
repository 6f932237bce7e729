"""Learning-rate schedules: one home, free of torch so the config can validate without it."""

from __future__ import annotations

import math

from dqfl.errors import DqflError

LR_SCHEDULES = ("constant", "cosine")


def scheduled_lr(schedule: str, base: float, step: int, total: int) -> float:
    """Learning rate of step ``step`` of ``total`` (epochs centrally, rounds in a federation).

    ``cosine``: base * (1 + cos(pi * step / total)) / 2, from ``base`` at step 0 down towards 0,
    which lets the last steps settle instead of bouncing around the optimum at a large step.
    """
    if schedule == "constant":
        return base
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * step / max(total, 1)))
    raise DqflError(f"lr schedule must be one of {', '.join(LR_SCHEDULES)}; got {schedule!r}")
