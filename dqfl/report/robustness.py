"""Accuracy against the byzantine fraction per aggregator, when a sweep varies them.

Rows are aggregators (``federation.aggregator``), columns the injected faults (the byzantine
fraction, with the crash and straggler fractions beside it when they are set); cells are the final
global model's deepest-exit top-1, mean ± 95 % CI over seeds, and the fault counts of those runs.
"""

from __future__ import annotations

from collections import defaultdict

from dqfl.report.collect import RunRecord
from dqfl.report.stats import mean_ci


def _faults(run: RunRecord) -> tuple[float, float, float, str]:
    f = run.config.get("faults", {})
    return (
        float(f.get("byzantine_fraction", 0.0)),
        float(f.get("crash_fraction", 0.0)),
        float(f.get("straggler_fraction", 0.0)),
        str(f.get("byzantine_attack", "sign_flip")),
    )


def _aggregator(run: RunRecord) -> str:
    return str(run.config.get("federation", {}).get("aggregator", "mean"))


def applies(runs: list[RunRecord]) -> bool:
    """Only when some run injected faults or the aggregators differ."""
    return any(any(_faults(r)[:3]) for r in runs) or len({_aggregator(r) for r in runs}) > 1


def _column(key: tuple[float, float, float, str]) -> str:
    byz, crash, straggle, attack = key
    text = f"byzantine {100 * byz:g} %" + (f" ({attack})" if byz > 0 else "")
    extra = [f"crash {100 * crash:g} %" if crash else "", f"straggler {100 * straggle:g} %"]
    extra = [e for e in extra if e and not e.endswith(" 0 %")]
    return text + ("; " + ", ".join(extra) if extra else "")


def robustness_table(runs: list[RunRecord]) -> str:
    """Markdown: aggregator x injected faults → deepest-exit top-1 and the rounds' fault counts."""
    cells: dict[tuple[str, tuple], list[RunRecord]] = defaultdict(list)
    for run in runs:
        cells[(_aggregator(run), _faults(run))].append(run)
    aggregators = sorted({a for a, _ in cells})
    columns = sorted({f for _, f in cells})
    lines = [
        "| aggregator | " + " | ".join(_column(c) for c in columns) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    for agg in aggregators:
        row = []
        for col in columns:
            group = cells.get((agg, col), [])
            top1 = mean_ci(
                float((r.final.get("top1") or [float("nan")])[-1]) for r in group
            ).format()
            counts = [
                sum(sum(int(h.get(k, 0) or 0) for h in r.history) for r in group)
                for k in ("failures", "timeouts", "rejected")
            ]
            row.append(
                f"{top1} ({counts[0]} failed, {counts[1]} timed out, {counts[2]} rejected)"
                if group
                else "–"
            )
        lines.append(f"| {agg} | " + " | ".join(row) + " |")
    return "\n".join(lines)
