"""Results folder → report.md, report.html, CSV tables and PNG plots (``dqfl report``)."""

from __future__ import annotations

from pathlib import Path

from dqfl.outputs import save_text
from dqfl.report.collect import RunRecord, find_runs, variant_keys
from dqfl.report.document import Figure, Heading, Table, Text, html_page, markdown
from dqfl.report.tables import (
    PAIRED_METRICS,
    cells_csv,
    exit_table,
    group,
    grouped_csv,
    link_table,
    metrics_of,
    paired_csv,
    paired_rows,
    paired_table,
    runs_csv,
    top1_table,
)

__all__ = ["RunRecord", "find_runs", "write_report"]

CSV_FILES = ("runs.csv", "table_top1.csv", "cells.csv", "paired_differences.csv")


def write_report(results: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write report.md, report.html, the CSV tables and the plots for every finished run under
    ``results``; return the path of report.md."""
    from dqfl.report import plots
    from dqfl.report.convergence import WINDOW, convergence, convergence_table

    runs = find_runs(results)
    out = Path(out_dir) if out_dir else Path(results) / "report"
    out.mkdir(parents=True, exist_ok=True)
    variants = variant_keys(runs)
    metrics = [metrics_of(run, variants[run.method]) for run in runs]
    labels = [m.method for m in metrics]
    groups = group(metrics)
    paired = {metric: paired_rows(groups, metric) for metric, _ in PAIRED_METRICS}

    figures = {
        "Accuracy against channel quality": plots.accuracy_vs_quality(
            metrics, out / "acc_vs_quality.png"
        ),
        "Accuracy of every exit against channel quality": plots.accuracy_vs_quality_per_exit(
            metrics, out / "acc_vs_quality_per_exit.png"
        ),
        "Accuracy against cumulative uplink energy": plots.accuracy_vs_cost(
            runs, labels, out / "acc_vs_energy.png", "energy_j"
        ),
        "Accuracy against cumulative uplink airtime": plots.accuracy_vs_cost(
            runs, labels, out / "acc_vs_airtime.png", "airtime_s"
        ),
        "Accuracy against round, per exit": plots.accuracy_vs_round(
            runs, labels, out / "acc_vs_round.png"
        ),
        "Delivered depth against channel quality": plots.depth_distribution(
            metrics, out / "depth_vs_quality.png"
        ),
    }
    for i, path in enumerate(plots.scenario_figures(runs, out)):
        figures[f"Scenario and mean SNR per round ({i + 1})"] = path

    n_seeds = max(len(v) for v in groups.values())
    blocks = [
        Heading(f"dqfl report: {Path(results)}", 1),
        Text(
            f"{len(runs)} finished run(s), up to {n_seeds} seed(s) per cell. Every cell is the "
            "mean over seeds ± the half-width of its 95 % confidence interval (Student t with "
            "n − 1 degrees of freedom); top-1 in % on the held-out set. `(n=1)`: one seed, so "
            "no interval."
        ),
        Text(
            "**Paired differences** are taken per seed (the same seed gives both methods the "
            "same data, fleet and fading) in points of top-1: mean ± 95 % CI of the per-seed "
            "differences, `*` when that interval excludes 0 (significant at 5 %), and in "
            "brackets the seeds whose difference has the sign of the mean."
        ),
    ]
    n_tests = sum(1 for rows in paired.values() for r in rows if r.diff.interval.has_interval)
    if n_tests:
        marked = sum(1 for rows in paired.values() for r in rows if r.diff.significant)
        blocks.append(
            Text(
                f"{marked} of the {n_tests} paired intervals below exclude 0. Each is a 95 % "
                f"interval on its own: with no true difference anywhere about {0.05 * n_tests:.1f} "
                "of them would exclude 0 by chance, so read an isolated mark with care and a "
                "pattern across channel qualities with more confidence."
            )
        )
    for metric, title in PAIRED_METRICS:
        blocks += [Heading(f"Paired differences: {title}"), Table(paired_table(paired[metric]))]
    blocks += [
        Heading("Fleet top-1 (each vehicle's accuracy at its delivered exit depth, by data)"),
        Table(top1_table(groups, "fleet_top1")),
        Heading("Global model top-1 at the deepest exit"),
        Table(top1_table(groups, "global_top1")),
        Heading("Top-1 of every exit of the final global model"),
        Table(exit_table(groups)),
    ]
    if any(m.novel_top1 for m in metrics):
        blocks += [
            Heading(
                "Top-1 of every exit on the novel set (fonts and camera conditions never used "
                "in training)"
            ),
            Table(exit_table(groups, "novel_top1")),
        ]
    blocks += [
        Heading("Uplink: delivered depth, bits, energy and airtime (whole fleet)"),
        Table(link_table(groups)),
        Heading("Convergence: first round after which the deepest exit settled"),
        Text(
            f"The seed-mean of the deepest exit moves less than 1 point over every window of "
            f"{WINDOW} rounds from that round on (`python experiments/convergence_rounds.py "
            "RESULTS` prints the same with other windows and tolerances)."
        ),
        Table(convergence_table(convergence(runs, labels))),
    ]
    from dqfl.report import robustness

    if robustness.applies(runs):
        blocks += [
            Heading(
                "Robustness: deepest-exit top-1 per aggregator against the injected faults "
                "(failures, timeouts and rejected updates summed over the runs' rounds)"
            ),
            Table(robustness.robustness_table(runs)),
        ]
    blocks.append(Heading("Figures"))
    blocks += [Figure(title, path) for title, path in figures.items() if path is not None]
    blocks.append(Text("Raw numbers: " + ", ".join(f"[{n}]({n})" for n in CSV_FILES) + "."))

    save_text(out / "runs.csv", runs_csv(metrics))
    save_text(out / "table_top1.csv", grouped_csv(groups))
    save_text(out / "cells.csv", cells_csv(groups))
    save_text(
        out / "paired_differences.csv",
        "".join(
            text if i == 0 else text.split("\n", 1)[1]
            for i, text in enumerate(paired_csv(paired[m]) for m, _ in PAIRED_METRICS)
        ),
    )
    save_text(out / "report.html", html_page(f"dqfl report: {Path(results)}", blocks))
    return save_text(out / "report.md", markdown(blocks))
