"""When has a method converged? The first round after which its seed-mean stops moving.

The rule (issue 13): the first round r after which the seed-mean of the deepest exit moves less
than ``tolerance`` (one point of top-1) over every window of ``window`` (five) rounds, i.e.
max − min of rounds r..r+window < tolerance, and the same for every later window that fits in the
history. A run too short to hold one whole window after r has not shown that it settled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dqfl.report.collect import RunRecord
from dqfl.report.curves import DEEPEST, band
from dqfl.report.tables import method_order

WINDOW = 5
TOLERANCE = 0.01  # one point of top-1


def settled_round(
    curve: Sequence[float], window: int = WINDOW, tolerance: float = TOLERANCE
) -> int | None:
    """First 1-based round r with every window r'..r'+window (r' ≥ r) spanning < tolerance."""
    values = np.asarray(curve, dtype=float)
    n_windows = len(values) - window
    if n_windows <= 0:
        return None
    spans = np.array([np.ptp(values[s : s + window + 1]) for s in range(n_windows)])
    calm = spans < tolerance
    if not calm[-1]:
        return None
    start = n_windows - 1
    while start > 0 and calm[start - 1]:
        start -= 1
    return start + 1


@dataclass(frozen=True)
class Convergence:
    label: str
    snr_db: float
    n_seeds: int
    rounds: int  # rounds every seed of the cell ran
    settled: int | None  # first settled round, None: not within ``rounds``
    final_mean: float  # seed-mean of the deepest exit at the last round


def convergence(
    runs: Sequence[RunRecord],
    labels: Sequence[str],
    window: int = WINDOW,
    tolerance: float = TOLERANCE,
) -> list[Convergence]:
    """One entry per (label, channel quality), in the order the labels and qualities sort."""
    cells: dict[tuple[str, float], list[RunRecord]] = defaultdict(list)
    for run, label in zip(runs, labels, strict=True):
        cells[(label, run.snr_db)].append(run)
    out = []
    for (label, snr), cell in cells.items():
        curve = band(cell, DEEPEST)
        if curve is None:
            continue
        out.append(
            Convergence(
                label=label,
                snr_db=snr,
                n_seeds=curve.n_seeds,
                rounds=len(curve.rounds),
                settled=settled_round(curve.mean, window, tolerance),
                final_mean=float(curve.mean[-1]),
            )
        )
    return sorted(out, key=lambda c: (method_order(c.label), c.snr_db))


def convergence_table(rows: Sequence[Convergence]) -> str:
    """Markdown: rows = method, columns = channel quality, cells = first settled round."""
    labels = sorted({r.label for r in rows}, key=method_order)
    snrs = sorted({r.snr_db for r in rows})
    cell = {(r.label, r.snr_db): r for r in rows}
    lines = [
        "| method | " + " | ".join(f"{s:g} dB" for s in snrs) + " |",
        "|" + "---|" * (len(snrs) + 1),
    ]
    for label in labels:
        texts = []
        for snr in snrs:
            r = cell.get((label, snr))
            if r is None:
                texts.append("–")
            elif r.settled is None:
                texts.append(f"not settled in {r.rounds}")
            else:
                texts.append(f"round {r.settled} of {r.rounds}")
        lines.append(f"| {label} | " + " | ".join(texts) + " |")
    return "\n".join(lines)
