"""PNG figures of a results folder, with 95 % confidence bands over seeds.

Accuracy against channel quality (deepest exit and fleet; every exit), against the cumulative
uplink energy and airtime (the fair quantum-vs-classical comparison: what the accuracy cost on
the air), against round per exit, and the delivered-depth distribution per channel quality.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from dqfl.report.collect import RunRecord  # noqa: E402
from dqfl.report.curves import DEEPEST, band, cost_band, top1_at  # noqa: E402
from dqfl.report.tables import RunMetrics, ci_of, group, method_order  # noqa: E402

_BAND_ALPHA = 0.18


def _colors(labels: Sequence[str]) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {
        label: cycle[i % len(cycle)] for i, label in enumerate(sorted(labels, key=method_order))
    }


def _styles(labels: Sequence[str]) -> dict[str, str]:
    """Marker and line style per label, so methods whose curves coincide stay visible."""
    ordered = sorted(labels, key=method_order)
    return {
        label: _MARKERS[i % len(_MARKERS)] + _LINES[i % len(_LINES)]
        for i, label in enumerate(ordered)
    }


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cells(runs: Sequence[RunRecord], labels: Sequence[str]) -> dict[tuple[str, float], list]:
    cells: dict[tuple[str, float], list[RunRecord]] = defaultdict(list)
    for run, label in zip(runs, labels, strict=True):
        cells[(label, run.snr_db)].append(run)
    return cells


def representative_qualities(snrs: Sequence[float], most: int = 3) -> list[float]:
    """Poorest, middle and best channel quality (fewer when fewer were run)."""
    snrs = sorted(set(snrs))
    if len(snrs) <= most:
        return snrs
    picks = {snrs[0], snrs[len(snrs) // 2], snrs[-1]}
    return sorted(picks)


_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_LINES = ("-", "--", ":", "-.")


def _bands(ax, x, mean, low, high, color, label, style="-", limits=(0.0, 100.0)) -> None:
    """A line with its interval as a band (clipped to the quantity's range: an interval of a
    bounded quantity can reach past it with few seeds; the tables show it unclipped)."""
    ax.plot(x, mean, style, ms=4, mfc="none", color=color, label=label)
    if np.isfinite(low).any():
        low, high = np.clip(low, *limits), np.clip(high, *limits)
        ax.fill_between(x, low, high, color=color, alpha=_BAND_ALPHA, linewidth=0)


def accuracy_vs_quality(metrics: list[RunMetrics], path: Path) -> Path:
    """Deepest exit of the global model (left) and fleet top-1 (right) against channel quality,
    mean over seeds with the 95 % interval as a band."""
    groups = group(metrics)
    labels = sorted({m for m, _ in groups}, key=method_order)
    colors, styles = _colors(labels), _styles(labels)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    titles = (("global_top1", "deepest exit, final global model"), ("fleet_top1", "fleet"))
    for ax, (attr, title) in zip(axes, titles, strict=True):
        _quality_bands(ax, groups, labels, colors, styles, lambda r, a=attr: getattr(r, a))
        ax.set_title(f"{title} (mean, 95 % CI over seeds)", fontsize=10)
        ax.set_xlabel("channel quality: mean SNR at the reference distance (dB)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("top-1 on held-out set (%)")
    axes[0].legend(fontsize=8)
    return _save(fig, path)


def _quality_bands(ax, groups, labels, colors, styles, value) -> None:
    """One band per method against channel quality: the seed-mean of ``value(run)`` with its
    95 % interval, in percent."""
    for label in labels:
        snrs = sorted(s for m, s in groups if m == label)
        cis = [ci_of(groups[(label, s)], value) for s in snrs]
        _bands(
            ax, snrs, np.array([c.mean for c in cis]) * 100,
            np.array([c.low for c in cis]) * 100, np.array([c.high for c in cis]) * 100,
            colors[label], label, styles[label],
        )  # fmt: skip


def accuracy_vs_quality_per_exit(metrics: list[RunMetrics], path: Path) -> Path | None:
    """One panel per exit: every multi-exit method's top-1 at that exit against channel quality."""
    multi = [m for m in metrics if len(m.exit_top1) > 1]
    if not multi:
        return None
    groups = group(multi)
    labels = sorted({m for m, _ in groups}, key=method_order)
    colors, styles = _colors(labels), _styles(labels)
    n_exits = max(len(m.exit_top1) for m in multi)
    fig, axes = plt.subplots(1, n_exits, figsize=(3.6 * n_exits, 3.6), sharey=True, squeeze=False)
    for i, ax in enumerate(axes[0]):
        _quality_bands(
            ax, groups, labels, colors, styles,
            lambda r, i=i: r.exit_top1[i] if i < len(r.exit_top1) else float("nan"),
        )  # fmt: skip
        ax.set_title(f"exit {i + 1}", fontsize=10)
        ax.set_xlabel("channel quality (dB)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("top-1 on held-out set (%)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Top-1 of every exit of the final global model (mean, 95 % CI)", fontsize=10)
    return _save(fig, path)


def accuracy_vs_cost(
    runs: Sequence[RunRecord], labels: Sequence[str], path: Path, key: str
) -> Path | None:
    """Deepest-exit top-1 after each round against the cumulative uplink ``key`` (``energy_j``
    or ``airtime_s``) of the whole fleet, one panel per representative channel quality."""
    cells = _cells(runs, labels)
    costly = {k: v for k, v in cells.items() if (c := cost_band(v, key)) is not None and c[-1] > 0}
    if not costly:
        return None
    snrs = representative_qualities([s for _, s in costly])
    names = sorted({label for label, _ in costly}, key=method_order)
    colors, styles = _colors(names), _styles(names)
    fig, axes = plt.subplots(1, len(snrs), figsize=(4.4 * len(snrs), 3.8), sharey=True,
                             squeeze=False)  # fmt: skip
    unit, scale = ("J", 1.0) if key == "energy_j" else ("s", 1.0)
    what = "uplink energy" if key == "energy_j" else "uplink airtime"
    for ax, snr in zip(axes[0], snrs, strict=True):
        for label in names:
            cell = costly.get((label, snr))
            if not cell:
                continue
            cost = cost_band(cell, key)
            curve = band(cell, DEEPEST)
            if cost is None or curve is None:
                continue
            n = min(len(cost), len(curve.mean))
            _bands(
                ax, cost[:n] * scale, curve.mean[:n] * 100, curve.low[:n] * 100,
                curve.high[:n] * 100, colors[label], f"{label} ({curve.n_seeds} seeds)",
                styles[label],
            )  # fmt: skip
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{snr:g} dB", fontsize=10)
        ax.set_xlabel(f"cumulative {what}, whole fleet ({unit}, log)")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("deepest-exit top-1 (%)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Accuracy against {what} spent (mean, 95 % CI over seeds)", fontsize=10)
    return _save(fig, path)


def accuracy_vs_round(runs: Sequence[RunRecord], labels: Sequence[str], path: Path) -> Path:
    """Rows = methods, columns = poorest/middle/best channel quality; one line per exit, the
    seed-mean with its 95 % band."""
    cells = _cells(runs, labels)
    names = sorted({label for label, _ in cells}, key=method_order)
    snrs = representative_qualities([s for _, s in cells])
    fig, axes = plt.subplots(
        len(names), len(snrs), figsize=(4.2 * len(snrs), 3.0 * len(names)), squeeze=False,
        sharey=True,
    )  # fmt: skip
    for row, label in zip(axes, names, strict=True):
        for ax, snr in zip(row, snrs, strict=True):
            cell = [r for r in cells.get((label, snr), []) if r.history]
            if not cell:
                ax.set_visible(False)
                continue
            n_exits = max(len(r.history[-1].get("top1", [])) for r in cell)
            colors = plt.get_cmap("viridis", max(n_exits, 2) + 1)
            for e in range(n_exits):
                curve = band(cell, top1_at(e))
                if curve is None:
                    continue
                name = "network" if n_exits == 1 else f"exit {e + 1}"
                _bands(ax, curve.rounds, curve.mean * 100, curve.low * 100, curve.high * 100,
                       colors(e), name, _MARKERS[e % len(_MARKERS)] + "-")  # fmt: skip
            ax.set_title(f"{label}, {snr:g} dB ({len(cell)} seeds)", fontsize=9)
            ax.set_xlabel("round")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        row[0].set_ylabel("top-1 (%)")
    return _save(fig, path)


def depth_distribution(metrics: list[RunMetrics], path: Path) -> Path | None:
    """Stacked fractions of delivered depth d = 0..L per channel quality, one panel per method."""
    groups = group([m for m in metrics if m.depth_counts])
    methods = sorted({m for m, _ in groups}, key=method_order)
    if not methods:
        return None
    max_depth = max(d for runs in groups.values() for r in runs for d in r.depth_counts)
    fig, axes = plt.subplots(1, len(methods), figsize=(4.2 * len(methods), 3.4), squeeze=False)
    cmap = plt.get_cmap("viridis", max_depth + 1)
    for ax, method in zip(axes[0], methods, strict=True):
        snrs = sorted(s for m, s in groups if m == method)
        bottom = np.zeros(len(snrs))
        for depth in range(max_depth + 1):
            fractions = []
            for snr in snrs:
                counts: dict[int, int] = defaultdict(int)
                for r in groups[(method, snr)]:
                    for d, c in r.depth_counts.items():
                        counts[d] += c
                total = sum(counts.values()) or 1
                fractions.append(counts.get(depth, 0) / total)
            ax.bar(
                [f"{s:g}" for s in snrs], fractions, bottom=bottom, color=cmap(depth),
                label=f"d={depth}" if depth else "d=0 (outage)",
            )  # fmt: skip
            bottom += np.array(fractions)
        ax.set_title(method)
        ax.set_xlabel("channel quality (dB)")
        ax.set_ylabel("fraction of uploads")
    axes[0][-1].legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    return _save(fig, path)


def scenario_figures(runs: list[RunRecord], out: Path) -> list[Path]:
    """One scenario figure (roads, RSU, tracks, mean SNR per round) per distinct mobility and
    path loss setting among the runs that recorded positions; the first such run is drawn."""
    import dataclasses
    import logging

    from dqfl.channel import ChannelConfig
    from dqfl.channel import scenario_plot as sp
    from dqfl.channel.mobility import make_mobility
    from dqfl.errors import DqflError

    fields = {f.name for f in dataclasses.fields(ChannelConfig)}
    seen: set[tuple] = set()
    paths: list[Path] = []
    for run in runs:
        if not run.history or "position_m" not in run.history[0]:
            continue
        channel = {k: v for k, v in run.config.get("channel", {}).items() if k in fields}
        cfg = ChannelConfig(**channel)
        key = (cfg.mobility, cfg.scenario, cfg.pathloss, cfg.rsu_x_m, cfg.rsu_y_m)
        if key in seen:
            continue
        seen.add(key)
        n = int(run.config.get("data", {}).get("n_vehicles", 0)) or 1
        try:
            mobility = make_mobility(cfg, n, run.seed, rounds=len(run.history))
        except DqflError as exc:  # e.g. SUMO not installed where the report is written
            logging.getLogger("dqfl.report").warning("no scenario figure for %s: %s", key, exc)
            continue
        xy, snr = sp.tracks_from_history(run.history, n)
        name = "scenario" if not paths else f"scenario_{len(paths) + 1}"
        paths.append(sp.draw(out / f"{name}.png", cfg, mobility, xy, snr, title=run.path.name))
    return paths
