"""Seed statistics for the report: mean ± 95 % confidence interval and paired differences.

Seeds are the unit of replication: each seed fixes the data, the fleet, the fading and the
training draws of one run, and two methods run with the same seed see the same vehicles and the
same channel. So a comparison of two methods is made **per seed** (a paired difference), which
removes the seed-to-seed spread they share; its interval is Student's t over the paired
differences. With one seed there is no spread to estimate and no interval is given (it is said,
never printed as ± 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

LEVEL = 0.95
#: Appended to a paired difference whose interval excludes 0.
SIGNIFICANT = "*"


def t_quantile(n: int, level: float = LEVEL) -> float:
    """Two-sided Student t quantile for ``n`` samples (``n - 1`` degrees of freedom)."""
    if n < 2:
        return math.nan
    return float(_scipy_stats.t.ppf(0.5 + level / 2, n - 1))


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values and its ``level`` confidence interval (half-width NaN when n < 2)."""

    mean: float
    half_width: float
    n: int
    level: float = LEVEL

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    @property
    def has_interval(self) -> bool:
        return self.n >= 2 and math.isfinite(self.half_width)

    @property
    def excludes_zero(self) -> bool:
        """Significant at ``level``: the whole interval lies on one side of 0."""
        return self.has_interval and (self.low > 0 or self.high < 0)

    def format(self, scale: float = 100.0, digits: int = 1, signed: bool = False) -> str:
        """``"70.0 ± 5.2"``; one value: ``"70.0 (n=1)"`` (no interval); none: ``"–"``."""
        if self.n == 0 or not math.isfinite(self.mean):
            return "–"
        sign = "+" if signed else ""
        mean = f"{self.mean * scale:{sign}.{digits}f}"
        if not self.has_interval:
            return f"{mean} (n=1)"
        return f"{mean} ± {self.half_width * scale:.{digits}f}"


def clean(values: Iterable[float | None]) -> np.ndarray:
    """The finite values (None and NaN dropped)."""
    return np.array(
        [float(v) for v in values if v is not None and math.isfinite(float(v))], dtype=float
    )


def mean_ci(values: Iterable[float | None], level: float = LEVEL) -> Interval:
    """Mean ± t_{n-1} · s / √n over the finite ``values`` (one per seed)."""
    arr = clean(values)
    n = int(arr.size)
    if n == 0:
        return Interval(math.nan, math.nan, 0, level)
    if n == 1:
        return Interval(float(arr[0]), math.nan, 1, level)
    sem = float(arr.std(ddof=1)) / math.sqrt(n)
    return Interval(float(arr.mean()), t_quantile(n, level) * sem, n, level)


@dataclass(frozen=True)
class PairedDifference:
    """``a − b`` per seed where both ran: the interval and how often the sign holds."""

    interval: Interval
    seeds: tuple[int, ...]
    n_positive: int
    n_negative: int

    @property
    def significant(self) -> bool:
        return self.interval.excludes_zero

    @property
    def sign_holds(self) -> int:
        """Seeds whose difference has the sign of the mean difference."""
        if not math.isfinite(self.interval.mean) or self.interval.mean == 0:
            return 0
        return self.n_positive if self.interval.mean > 0 else self.n_negative

    def format(self, scale: float = 100.0, digits: int = 1) -> str:
        """``"+3.2 ± 1.5 *"`` (``*``: the interval excludes 0)."""
        text = self.interval.format(scale, digits, signed=True)
        return f"{text} {SIGNIFICANT}" if self.significant else text

    def sign_text(self) -> str:
        """``"5/5 seeds"``: seeds where the difference has the sign of its mean."""
        n = self.interval.n
        return f"{self.sign_holds}/{n} seeds" if n else "–"


def paired_difference(
    a: Mapping[int, float], b: Mapping[int, float], level: float = LEVEL
) -> PairedDifference:
    """Per-seed differences ``a[s] − b[s]`` over the seeds both have (finite values only)."""
    seeds = tuple(
        sorted(
            s
            for s in set(a) & set(b)
            if a[s] is not None
            and b[s] is not None
            and math.isfinite(float(a[s]))
            and math.isfinite(float(b[s]))
        )
    )
    diffs = np.array([float(a[s]) - float(b[s]) for s in seeds], dtype=float)
    return PairedDifference(
        interval=mean_ci(diffs, level),
        seeds=seeds,
        n_positive=int((diffs > 0).sum()),
        n_negative=int((diffs < 0).sum()),
    )
