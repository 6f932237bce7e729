"""PNG figures of a results folder: accuracy per round and per channel quality, delivered depths."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dqfl.report.collect import RunRecord  # noqa: E402
from dqfl.report.tables import RunMetrics, group, mean_std  # noqa: E402

_BASE = ("dqfl", "qfl", "classical", "centralized")


def _order(label: str) -> tuple[int, str]:
    """Methods in the product's order; variants ("dqfl (strategy=fedprox)") after their method."""
    base = label.split(" ")[0]
    return (_BASE.index(base) if base in _BASE else len(_BASE), label)


def _colors(labels: list[str]) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {label: cycle[i % len(cycle)] for i, label in enumerate(sorted(labels, key=_order))}


def accuracy_vs_round(runs: list[RunRecord], labels: list[str], path: Path) -> Path:
    """One panel per method, one line per exit (mean over seeds) at a representative quality."""
    by_method: dict[str, list[RunRecord]] = defaultdict(list)
    for run, label in zip(runs, labels, strict=True):
        by_method[label].append(run)
    methods = sorted(by_method, key=_order)
    fig, axes = plt.subplots(1, len(methods), figsize=(4.2 * len(methods), 3.4), squeeze=False)
    for ax, method in zip(axes[0], methods, strict=True):
        method_runs = by_method[method]
        snrs = sorted({r.snr_db for r in method_runs})
        snr = snrs[len(snrs) // 2]
        chosen = [r for r in method_runs if r.snr_db == snr and r.history]
        n_exits = max(len(r.history[-1].get("top1", [])) for r in chosen) if chosen else 0
        for exit_idx in range(n_exits):
            curves = [
                [rec["top1"][exit_idx] for rec in r.history if exit_idx < len(rec.get("top1", []))]
                for r in chosen
            ]
            length = min(len(c) for c in curves)
            curve = np.mean([c[:length] for c in curves], axis=0) * 100
            label = "network" if n_exits == 1 else f"exit {exit_idx + 1}"
            ax.plot(np.arange(1, length + 1), curve, marker="o", ms=3, label=label)
        ax.set_title(f"{method} ({snr:g} dB, {len(chosen)} seed(s))")
        ax.set_xlabel("round")
        ax.set_ylabel("top-1 on held-out set (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def accuracy_vs_quality(metrics: list[RunMetrics], path: Path) -> Path:
    """Fleet top-1 (solid) and the global model's deepest exit (dashed) against channel quality."""
    groups = group(metrics)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = _colors(list({m for m, _ in groups}))
    for method in sorted({m for m, _ in groups}, key=_order):
        snrs = sorted(s for m, s in groups if m == method)
        color = colors[method]
        for attr, style, suffix in (("fleet_top1", "-", "fleet"), ("global_top1", "--", "global")):
            stats = [mean_std(getattr(r, attr) for r in groups[(method, s)]) for s in snrs]
            means = np.array([s[0] for s in stats]) * 100
            stds = np.array([s[1] for s in stats]) * 100
            ax.errorbar(
                snrs, means, yerr=stds, fmt=style, marker="o", ms=4, capsize=3, color=color,
                label=f"{method} ({suffix})", alpha=1.0 if suffix == "fleet" else 0.6,
            )  # fmt: skip
    ax.set_xlabel("channel quality: mean SNR at the reference distance (dB)")
    ax.set_ylabel("top-1 on held-out set (%)")
    ax.set_title("Accuracy against channel quality (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def depth_distribution(metrics: list[RunMetrics], path: Path) -> Path | None:
    """Stacked fractions of delivered depth d = 0..L per channel quality, one panel per method."""
    groups = group([m for m in metrics if m.depth_counts])
    methods = sorted({m for m, _ in groups}, key=_order)
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
