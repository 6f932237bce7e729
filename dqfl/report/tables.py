"""Turn runs into numbers per (method, channel quality): mean ± std over seeds, Markdown and CSV."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from dqfl.report.collect import RunRecord


@dataclass
class RunMetrics:
    """The figures of one finished run that the report compares across runs."""

    method: str
    strategy: str
    snr_db: float
    seed: int
    exit_top1: list[float]
    fleet_top1: float
    mean_depth: float
    bits_per_round: float
    energy_per_round: float
    wall_s: float
    depth_counts: dict[int, int] = field(default_factory=dict)
    novel_top1: list[float] = field(default_factory=list)  # unseen fonts/conditions, per exit

    @property
    def global_top1(self) -> float:
        """Top-1 of the deepest exit of the final global model."""
        return self.exit_top1[-1] if self.exit_top1 else math.nan


def metrics_of(run: RunRecord, variant_keys: list[str] | None = None) -> RunMetrics:
    """The run's figures; ``variant_keys`` (config keys that differ) are folded into its label."""
    final = run.final
    method = run.method
    if variant_keys:
        flat = run.flat_config()
        method += " (" + ", ".join(f"{k.split('.')[-1]}={flat.get(k)}" for k in variant_keys) + ")"
    exit_top1 = [float(v) for v in final.get("top1", [])]
    fleet = final.get("fleet_top1")
    depths = [d for record in run.history for d in record.get("delivered_depths", []) or []]
    counts: dict[int, int] = defaultdict(int)
    for depth in depths:
        counts[int(depth)] += 1
    return RunMetrics(
        method=method,
        strategy=run.strategy,
        snr_db=run.snr_db,
        seed=run.seed,
        exit_top1=exit_top1,
        fleet_top1=float(fleet)
        if fleet is not None
        else (exit_top1[-1] if exit_top1 else math.nan),
        mean_depth=float(np.mean(depths)) if depths else math.nan,
        bits_per_round=_mean(r.get("bits_sent") for r in run.history),
        energy_per_round=_mean(r.get("energy_j") for r in run.history),
        wall_s=float(run.summary.get("wall_s", _sum(r.get("wall_s") for r in run.history))),
        depth_counts=dict(counts),
        novel_top1=[float(v) for v in run.summary.get("novel_top1") or []],
    )


def group(metrics: list[RunMetrics]) -> dict[tuple[str, float], list[RunMetrics]]:
    """Runs of the same method and channel quality (the seeds of one sweep point)."""
    groups: dict[tuple[str, float], list[RunMetrics]] = defaultdict(list)
    for m in metrics:
        groups[(m.method, m.snr_db)].append(m)
    return dict(sorted(groups.items(), key=lambda kv: (_method_order(kv[0][0]), kv[0][1])))


def mean_std(values: Iterable[float]) -> tuple[float, float, int]:
    arr = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan, 0
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0, int(arr.size)


def fmt(mean: float, std: float, n: int, *, pct: bool = True, digits: int = 1) -> str:
    if n == 0 or math.isnan(mean):
        return "–"
    scale = 100.0 if pct else 1.0
    if n == 1:
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def top1_table(groups: dict[tuple[str, float], list[RunMetrics]], attr: str) -> str:
    """Markdown: rows = method, columns = channel quality, cells = top-1 % mean ± std."""
    methods = sorted({k[0] for k in groups}, key=_method_order)
    snrs = sorted({k[1] for k in groups})
    header = "| method | " + " | ".join(f"{s:g} dB" for s in snrs) + " |"
    lines = [header, "|" + "---|" * (len(snrs) + 1)]
    for method in methods:
        cells = []
        for snr in snrs:
            runs = groups.get((method, snr), [])
            cells.append(fmt(*mean_std(getattr(r, attr) for r in runs)))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def exit_table(groups: dict[tuple[str, float], list[RunMetrics]], attr: str = "exit_top1") -> str:
    """Markdown: top-1 % of every exit of the final global model, per method and quality
    (``attr="novel_top1"``: on the novel set)."""
    n_exits = max((len(getattr(r, attr)) for runs in groups.values() for r in runs), default=0)
    lines = [
        "| method | channel quality | "
        + " | ".join(f"exit {i + 1}" for i in range(n_exits))
        + " |",
        "|" + "---|" * (n_exits + 2),
    ]
    for (method, snr), runs in groups.items():
        cells = []
        for i in range(n_exits):
            values = [getattr(r, attr) for r in runs]
            cells.append(fmt(*mean_std(v[i] for v in values if i < len(v))))
        lines.append(f"| {method} | {snr:g} dB | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def link_table(groups: dict[tuple[str, float], list[RunMetrics]]) -> str:
    """Markdown: delivered depth, uplink bits and energy per round, per method and quality."""
    lines = [
        "| method | channel quality | mean delivered depth | kbit per round"
        " | energy per round (mJ) |",
        "|---|---|---|---|---|",
    ]
    for (method, snr), runs in groups.items():
        depth = fmt(*mean_std(r.mean_depth for r in runs), pct=False, digits=2)
        kbits = fmt(*mean_std(r.bits_per_round / 1e3 for r in runs), pct=False, digits=1)
        energy = fmt(*mean_std(r.energy_per_round * 1e3 for r in runs), pct=False, digits=3)
        lines.append(f"| {method} | {snr:g} dB | {depth} | {kbits} | {energy} |")
    return "\n".join(lines)


def runs_csv(metrics: list[RunMetrics]) -> str:
    """Long format, one row per run: easy to load into pandas or a spreadsheet."""
    n_exits = max((len(m.exit_top1) for m in metrics), default=0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["method", "strategy", "snr_db", "seed", "fleet_top1", "global_top1"]
        + [f"top1_exit_{i + 1}" for i in range(n_exits)]
        + ["mean_depth", "bits_per_round", "energy_j_per_round", "wall_s"]
    )
    for m in sorted(metrics, key=lambda m: (_method_order(m.method), m.snr_db, m.seed)):
        exits = [f"{v:.4f}" for v in m.exit_top1] + [""] * (n_exits - len(m.exit_top1))
        writer.writerow(
            [m.method, m.strategy, f"{m.snr_db:g}", m.seed, f"{m.fleet_top1:.4f}"]
            + [f"{m.global_top1:.4f}"]
            + exits
            + [f"{m.mean_depth:.3f}", f"{m.bits_per_round:.0f}", f"{m.energy_per_round:.5f}"]
            + [f"{m.wall_s:.1f}"]
        )
    return out.getvalue()


def grouped_csv(groups: dict[tuple[str, float], list[RunMetrics]]) -> str:
    """One row per (method, channel quality): mean and std over seeds of the headline figures."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["method", "snr_db", "n_seeds", "fleet_top1_mean", "fleet_top1_std"]
        + ["global_top1_mean", "global_top1_std", "mean_depth", "bits_per_round", "energy_j"]
    )
    for (method, snr), runs in groups.items():
        fleet = mean_std(r.fleet_top1 for r in runs)
        glob = mean_std(r.global_top1 for r in runs)
        writer.writerow(
            [method, f"{snr:g}", fleet[2], f"{fleet[0]:.4f}", f"{fleet[1]:.4f}"]
            + [f"{glob[0]:.4f}", f"{glob[1]:.4f}"]
            + [f"{mean_std(r.mean_depth for r in runs)[0]:.3f}"]
            + [f"{mean_std(r.bits_per_round for r in runs)[0]:.0f}"]
            + [f"{mean_std(r.energy_per_round for r in runs)[0]:.5f}"]
        )
    return out.getvalue()


_ORDER = {"dqfl": 0, "qfl": 1, "classical": 2, "centralized": 3}


def _method_order(method: str) -> tuple[int, str]:
    return (_ORDER.get(method.split(" ")[0], 99), method)


def _mean(values: Iterable[float | None]) -> float:
    arr = [float(v) for v in values if v is not None]
    return float(np.mean(arr)) if arr else math.nan


def _sum(values: Iterable[float | None]) -> float:
    return float(sum(float(v) for v in values if v is not None))
