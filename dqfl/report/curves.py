"""Per-round curves of runs, averaged over seeds: the one place that reads a history by round.

A sweep cell (one method at one channel quality) holds one run per seed; its curve is the mean
over those seeds at each round, with the 95 % interval (Student t over seeds) as a band. Runs of
a cell that stopped early are cut to the shortest, so every round averages the same seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dqfl.report.collect import RunRecord
from dqfl.report.stats import mean_ci

RoundValue = Callable[[dict], float]


def top1_at(exit_idx: int) -> RoundValue:
    """A round's top-1 at exit ``exit_idx`` (-1: the deepest)."""

    def value(record: dict) -> float:
        top1 = record.get("top1") or []
        try:
            return float(top1[exit_idx])
        except IndexError:
            return float("nan")

    return value


DEEPEST: RoundValue = top1_at(-1)


def per_round(run: RunRecord, value: RoundValue) -> np.ndarray:
    return np.array([value(record) for record in run.history], dtype=float)


def cumulative(run: RunRecord, key: str) -> np.ndarray:
    """Running total of a per-round cost (``energy_j``, ``airtime_s``, ``bits_sent``)."""
    return np.cumsum([float(record.get(key) or 0.0) for record in run.history])


@dataclass(frozen=True)
class Band:
    """Seed-mean of a per-round quantity with its 95 % interval (NaN where one seed)."""

    rounds: np.ndarray  # 1-based
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_seeds: int


def band(runs: Sequence[RunRecord], value: RoundValue) -> Band | None:
    """The cell's curve: mean over seeds at each round, with its interval."""
    curves = [per_round(run, value) for run in runs if run.history]
    if not curves:
        return None
    length = min(len(c) for c in curves)
    stacked = np.stack([c[:length] for c in curves])
    intervals = [mean_ci(stacked[:, t]) for t in range(length)]
    return Band(
        rounds=np.arange(1, length + 1),
        mean=np.array([i.mean for i in intervals]),
        low=np.array([i.low for i in intervals]),
        high=np.array([i.high for i in intervals]),
        n_seeds=len(curves),
    )


def cost_band(runs: Sequence[RunRecord], key: str) -> np.ndarray | None:
    """Seed-mean cumulative cost at each round (the x of an accuracy-per-cost curve)."""
    costs = [cumulative(run, key) for run in runs if run.history]
    if not costs:
        return None
    length = min(len(c) for c in costs)
    return np.mean(np.stack([c[:length] for c in costs]), axis=0)
