"""Turn runs into numbers per (method, channel quality): mean ± 95 % CI over seeds, paired
differences between methods per seed, Markdown and CSV."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from dqfl.report.collect import RunRecord
from dqfl.report.stats import Interval, PairedDifference, mean_ci, paired_difference

Groups = dict[tuple[str, float], list["RunMetrics"]]


@dataclass
class RunMetrics:
    """The figures of one finished run that the report compares across runs."""

    method: str  # the label: the method and, for grid variants, the keys that differ
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
    airtime_per_round: float = math.nan
    total_energy_j: float = math.nan  # uplink energy of the whole run, all vehicles
    total_airtime_s: float = math.nan

    @property
    def global_top1(self) -> float:
        """Top-1 of the deepest exit of the final global model."""
        return self.exit_top1[-1] if self.exit_top1 else math.nan


def base_method(label: str) -> str:
    """``"dqfl (plan_depth=True)"`` → ``"dqfl"``."""
    return label.split(" ")[0]


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
        airtime_per_round=_mean(r.get("airtime_s") for r in run.history),
        total_energy_j=_sum(r.get("energy_j") for r in run.history),
        total_airtime_s=_sum(r.get("airtime_s") for r in run.history),
    )


def group(metrics: list[RunMetrics]) -> Groups:
    """Runs of the same method and channel quality (the seeds of one sweep point)."""
    groups: dict[tuple[str, float], list[RunMetrics]] = defaultdict(list)
    for m in metrics:
        groups[(m.method, m.snr_db)].append(m)
    return dict(sorted(groups.items(), key=lambda kv: (method_order(kv[0][0]), kv[0][1])))


def ci_of(runs: Iterable[RunMetrics], value: Callable[[RunMetrics], float]) -> Interval:
    """Mean ± 95 % CI of ``value(run)`` over the runs (the seeds of one cell)."""
    return mean_ci(value(r) for r in runs)


def _exit(i: int, attr: str = "exit_top1") -> Callable[[RunMetrics], float]:
    def value(r: RunMetrics) -> float:
        values = getattr(r, attr)
        return values[i] if i < len(values) else math.nan

    return value


def top1_table(groups: Groups, attr: str) -> str:
    """Markdown: rows = method, columns = channel quality, cells = top-1 % mean ± 95 % CI."""
    methods = sorted({k[0] for k in groups}, key=method_order)
    snrs = sorted({k[1] for k in groups})
    header = "| method | " + " | ".join(f"{s:g} dB" for s in snrs) + " |"
    lines = [header, "|" + "---|" * (len(snrs) + 1)]
    for method in methods:
        cells = []
        for snr in snrs:
            runs = groups.get((method, snr), [])
            cells.append(ci_of(runs, lambda r: getattr(r, attr)).format())
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def exit_table(groups: Groups, attr: str = "exit_top1") -> str:
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
        cells = [ci_of(runs, _exit(i, attr)).format() for i in range(n_exits)]
        lines.append(f"| {method} | {snr:g} dB | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def link_table(groups: Groups) -> str:
    """Markdown: delivered depth, uplink bits, energy and airtime, per method and quality."""
    lines = [
        "| method | channel quality | mean delivered depth | kbit per round"
        " | energy per round (mJ) | airtime per round (ms) | energy, whole run (mJ)"
        " | airtime, whole run (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (method, snr), runs in groups.items():
        cells = [
            ci_of(runs, lambda r: r.mean_depth).format(scale=1, digits=2),
            ci_of(runs, lambda r: r.bits_per_round).format(scale=1e-3, digits=1),
            ci_of(runs, lambda r: r.energy_per_round).format(scale=1e3, digits=3),
            ci_of(runs, lambda r: r.airtime_per_round).format(scale=1e3, digits=2),
            ci_of(runs, lambda r: r.total_energy_j).format(scale=1e3, digits=2),
            ci_of(runs, lambda r: r.total_airtime_s).format(scale=1, digits=3),
        ]
        lines.append(f"| {method} | {snr:g} dB | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- paired differences ---------------------------------------------------------------------------
#: What a paired-difference table compares, as (attribute, title).
PAIRED_METRICS = (
    ("global_top1", "deepest exit of the final global model"),
    ("fleet_top1", "fleet top-1 (each vehicle at its delivered depth)"),
)


def comparisons(labels: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs (a, b) reported as a − b: every dqfl label against every qfl and classical label,
    then, per method with grid variants, each variant against the first one."""
    labels = sorted(set(labels), key=method_order)
    pairs = [
        (a, b)
        for a in labels
        if base_method(a) == "dqfl"
        for b in labels
        if base_method(b) in ("qfl", "classical")
    ]
    by_base: dict[str, list[str]] = defaultdict(list)
    for label in labels:
        by_base[base_method(label)].append(label)
    for variants in by_base.values():
        pairs += [(v, variants[0]) for v in variants[1:]]
    return pairs


@dataclass(frozen=True)
class PairedRow:
    a: str
    b: str
    snr_db: float
    metric: str
    diff: PairedDifference


def paired_rows(groups: Groups, metric: str) -> list[PairedRow]:
    """``a − b`` per seed at every channel quality both were run at."""
    rows = []
    labels = {k[0] for k in groups}
    snrs = sorted({k[1] for k in groups})
    for a, b in comparisons(labels):
        for snr in snrs:
            if (a, snr) not in groups or (b, snr) not in groups:
                continue
            per_seed = [{r.seed: getattr(r, metric) for r in groups[(x, snr)]} for x in (a, b)]
            diff = paired_difference(*per_seed)
            if diff.interval.n:
                rows.append(PairedRow(a, b, snr, metric, diff))
    return rows


def paired_table(rows: list[PairedRow]) -> str:
    """Markdown: rows = comparison, columns = channel quality; cells = mean difference in
    points ± 95 % CI, ``*`` when the interval excludes 0, and the seeds where the sign holds."""
    if not rows:
        return "No pair of methods ran at the same channel quality with the same seeds."
    snrs = sorted({r.snr_db for r in rows})
    pairs = list(dict.fromkeys((r.a, r.b) for r in rows))
    cell = {(r.a, r.b, r.snr_db): r.diff for r in rows}
    lines = [
        "| difference (points) | " + " | ".join(f"{s:g} dB" for s in snrs) + " |",
        "|" + "---|" * (len(snrs) + 1),
    ]
    for a, b in pairs:
        cells = []
        for snr in snrs:
            diff = cell.get((a, b, snr))
            cells.append(f"{diff.format()} ({diff.sign_text()})" if diff else "–")
        lines.append(f"| {a} − {b} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_csv(rows: list[PairedRow]) -> str:
    """One row per (metric, comparison, channel quality); differences as fractions."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["metric", "a", "b", "snr_db", "n_pairs", "seeds", "mean_diff", "ci95_low", "ci95_high"]
        + ["n_positive", "n_negative", "sign_holds", "significant"]
    )
    for r in rows:
        i = r.diff.interval
        writer.writerow(
            [r.metric, r.a, r.b, f"{r.snr_db:g}", i.n, " ".join(str(s) for s in r.diff.seeds)]
            + [f"{i.mean:.4f}", _num(i.low), _num(i.high)]
            + [r.diff.n_positive, r.diff.n_negative, r.diff.sign_holds]
            + [str(r.diff.significant).lower()]
        )
    return out.getvalue()


# -- CSV ------------------------------------------------------------------------------------------
def runs_csv(metrics: list[RunMetrics]) -> str:
    """Long format, one row per run: easy to load into pandas or a spreadsheet."""
    n_exits = max((len(m.exit_top1) for m in metrics), default=0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["method", "strategy", "snr_db", "seed", "fleet_top1", "global_top1"]
        + [f"top1_exit_{i + 1}" for i in range(n_exits)]
        + ["mean_depth", "bits_per_round", "energy_j_per_round", "airtime_s_per_round"]
        + ["total_energy_j", "total_airtime_s", "wall_s"]
    )
    for m in sorted(metrics, key=lambda m: (method_order(m.method), m.snr_db, m.seed)):
        exits = [f"{v:.4f}" for v in m.exit_top1] + [""] * (n_exits - len(m.exit_top1))
        writer.writerow(
            [m.method, m.strategy, f"{m.snr_db:g}", m.seed, f"{m.fleet_top1:.4f}"]
            + [f"{m.global_top1:.4f}"]
            + exits
            + [f"{m.mean_depth:.3f}", f"{m.bits_per_round:.0f}", f"{m.energy_per_round:.5f}"]
            + [f"{m.airtime_per_round:.6f}", f"{m.total_energy_j:.5f}"]
            + [f"{m.total_airtime_s:.5f}", f"{m.wall_s:.1f}"]
        )
    return out.getvalue()


def cell_metrics(n_exits: int) -> list[tuple[str, Callable[[RunMetrics], float]]]:
    """Every figure a table cell shows, by CSV name."""
    named: list[tuple[str, Callable[[RunMetrics], float]]] = [
        ("fleet_top1", lambda r: r.fleet_top1),
        ("global_top1", lambda r: r.global_top1),
    ]
    named += [(f"top1_exit_{i + 1}", _exit(i)) for i in range(n_exits)]
    named += [(f"novel_top1_exit_{i + 1}", _exit(i, "novel_top1")) for i in range(n_exits)]
    named += [
        ("mean_depth", lambda r: r.mean_depth),
        ("bits_per_round", lambda r: r.bits_per_round),
        ("energy_j_per_round", lambda r: r.energy_per_round),
        ("airtime_s_per_round", lambda r: r.airtime_per_round),
        ("total_energy_j", lambda r: r.total_energy_j),
        ("total_airtime_s", lambda r: r.total_airtime_s),
    ]
    return named


def grouped_csv(groups: Groups) -> str:
    """One row per (method, channel quality): the headline figures as mean and 95 % CI."""
    out = io.StringIO()
    writer = csv.writer(out)
    heads = ["fleet_top1", "global_top1"]
    writer.writerow(
        ["method", "snr_db", "n_seeds"]
        + [f"{h}_{s}" for h in heads for s in ("mean", "ci95_low", "ci95_high")]
        + ["mean_depth", "bits_per_round", "energy_j", "airtime_s", "total_energy_j"]
    )
    for (method, snr), runs in groups.items():
        row: list[object] = [method, f"{snr:g}", len(runs)]
        for head in heads:
            i = ci_of(runs, lambda r, h=head: getattr(r, h))
            row += [f"{i.mean:.4f}", _num(i.low), _num(i.high)]
        row += [f"{ci_of(runs, lambda r: r.mean_depth).mean:.3f}"]
        row += [f"{ci_of(runs, lambda r: r.bits_per_round).mean:.0f}"]
        row += [f"{ci_of(runs, lambda r: r.energy_per_round).mean:.5f}"]
        row += [f"{ci_of(runs, lambda r: r.airtime_per_round).mean:.6f}"]
        row += [f"{ci_of(runs, lambda r: r.total_energy_j).mean:.5f}"]
        writer.writerow(row)
    return out.getvalue()


def cells_csv(groups: Groups) -> str:
    """Long format: every (method, channel quality, figure) cell as n, mean and its 95 % CI."""
    n_exits = max((len(r.exit_top1) for runs in groups.values() for r in runs), default=0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["method", "snr_db", "metric", "n_seeds", "mean", "ci95_low", "ci95_high"])
    for (method, snr), runs in groups.items():
        for name, value in cell_metrics(n_exits):
            i = ci_of(runs, value)
            if i.n:
                writer.writerow(
                    [method, f"{snr:g}", name, i.n, f"{i.mean:.6g}", _num(i.low), _num(i.high)]
                )
    return out.getvalue()


_ORDER = {"dqfl": 0, "qfl": 1, "classical": 2, "centralized": 3}


def method_order(method: str) -> tuple[int, str]:
    """Methods in the product's order; variants ("dqfl (strategy=fedprox)") after their method."""
    return (_ORDER.get(base_method(method), 99), method)


def _num(value: float) -> str:
    """A CSV number; empty where there is none (one seed has no interval)."""
    return f"{value:.6g}" if math.isfinite(value) else ""


def _mean(values: Iterable[float | None]) -> float:
    arr = [float(v) for v in values if v is not None]
    return float(np.mean(arr)) if arr else math.nan


def _sum(values: Iterable[float | None]) -> float:
    arr = [float(v) for v in values if v is not None]
    return float(sum(arr)) if arr else math.nan
