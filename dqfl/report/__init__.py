"""Results folder → Markdown/CSV tables and PNG plots (``dqfl report``)."""

from __future__ import annotations

import os
from pathlib import Path

from dqfl.report.collect import RunRecord, find_runs, variant_keys
from dqfl.report.tables import (
    exit_table,
    group,
    grouped_csv,
    link_table,
    metrics_of,
    runs_csv,
    top1_table,
)

__all__ = ["RunRecord", "find_runs", "write_report"]


def write_report(results: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write report.md, two CSV tables and the plots for every finished run under ``results``."""
    from dqfl.report import plots

    runs = find_runs(results)
    out = Path(out_dir) if out_dir else Path(results) / "report"
    out.mkdir(parents=True, exist_ok=True)
    variants = variant_keys(runs)
    metrics = [metrics_of(run, variants[run.method]) for run in runs]
    groups = group(metrics)

    figures = {
        "Accuracy against round, per exit": plots.accuracy_vs_round(
            runs, [m.method for m in metrics], out / "acc_vs_round.png"
        ),
        "Accuracy against channel quality": plots.accuracy_vs_quality(
            metrics, out / "acc_vs_quality.png"
        ),
        "Delivered depth against channel quality": plots.depth_distribution(
            metrics, out / "depth_vs_quality.png"
        ),
    }
    _atomic_write(out / "runs.csv", runs_csv(metrics))
    _atomic_write(out / "table_top1.csv", grouped_csv(groups))

    n_seeds = max(len(v) for v in groups.values())
    sections = [
        f"# dqfl report: {Path(results)}",
        f"{len(runs)} finished run(s); cells are top-1 in % on the held-out set, "
        f"mean ± std over up to {n_seeds} seed(s).",
        "## Fleet top-1 (each vehicle's accuracy at its delivered exit depth, weighted by data)",
        top1_table(groups, "fleet_top1"),
        "## Global model top-1 at the deepest exit",
        top1_table(groups, "global_top1"),
        "## Top-1 of every exit of the final global model",
        exit_table(groups),
        *(
            [
                "## Top-1 of every exit on the novel set (fonts and camera conditions never "
                "used in training)",
                exit_table(groups, "novel_top1"),
            ]
            if any(m.novel_top1 for m in metrics)
            else []
        ),
        "## Uplink: delivered depth, bits and energy per round",
        link_table(groups),
    ]
    from dqfl.report import robustness

    if robustness.applies(runs):
        sections += [
            "## Robustness: deepest-exit top-1 per aggregator against the injected faults "
            "(failures, timeouts and rejected updates summed over the runs' rounds)",
            robustness.robustness_table(runs),
        ]
    sections.append("## Figures")
    for i, path in enumerate(plots.scenario_figures(runs, out)):
        figures[f"Scenario and mean SNR per round ({i + 1})"] = path
    for title, path in figures.items():
        if path is not None:
            sections.append(f"### {title}\n\n![{title}]({path.name})")
    sections.append("Raw numbers: [runs.csv](runs.csv), [table_top1.csv](table_top1.csv).")
    _atomic_write(out / "report.md", "\n\n".join(sections) + "\n")
    return out / "report.md"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
