"""Interval and paired-difference maths against hand computations, and the report's paired table,
CSV files and self-contained HTML built from runs whose numbers are known."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pytest
from test_report import _fake_run

from dqfl.report import write_report
from dqfl.report.convergence import settled_round
from dqfl.report.stats import mean_ci, paired_difference, t_quantile

ROOT = Path(__file__).resolve().parents[1]


def test_t_quantiles_match_the_printed_table() -> None:
    # Student t, two-sided 95 %: 12.706 (1 dof), 4.303 (2), 2.776 (4), 1.960 as dof → ∞
    assert t_quantile(2) == pytest.approx(12.7062, abs=1e-4)
    assert t_quantile(3) == pytest.approx(4.3027, abs=1e-4)
    assert t_quantile(5) == pytest.approx(2.7764, abs=1e-4)
    assert t_quantile(100_000) == pytest.approx(1.95996, abs=1e-4)
    assert math.isnan(t_quantile(1))


def test_mean_ci_by_hand() -> None:
    # 1..5: mean 3, s = sqrt(10/4) = 1.5811, sem = s/sqrt(5) = 0.70711, × 2.7764 = 1.9632
    ci = mean_ci([1, 2, 3, 4, 5])
    assert (ci.mean, ci.n) == (3.0, 5)
    assert ci.half_width == pytest.approx(1.9632, abs=1e-4)
    assert (ci.low, ci.high) == pytest.approx((1.0368, 4.9632), abs=1e-4)
    assert ci.format(scale=1, digits=2) == "3.00 ± 1.96"
    # two seeds 0.6, 0.8: sem 0.1, × 12.706 → 127.1 points
    assert mean_ci([0.6, 0.8]).format() == "70.0 ± 127.1"
    # NaN and None are not seeds
    assert mean_ci([0.6, None, float("nan"), 0.8]).n == 2


def test_one_seed_has_no_interval_and_says_so() -> None:
    ci = mean_ci([0.42])
    assert ci.n == 1 and ci.mean == 0.42
    assert not ci.has_interval and math.isnan(ci.half_width) and not ci.excludes_zero
    assert ci.format() == "42.0 (n=1)"
    assert mean_ci([]).format() == "–"


def test_paired_difference_by_hand() -> None:
    a = {0: 0.50, 1: 0.60, 2: 0.70}
    b = {0: 0.40, 1: 0.45, 2: 0.65, 3: 0.90}  # seed 3 has no partner: not paired
    d = paired_difference(a, b)
    # differences 0.10, 0.15, 0.05: mean 0.10, s 0.05, sem 0.028868, × 4.3027 = 0.12421
    assert d.seeds == (0, 1, 2)
    assert d.interval.mean == pytest.approx(0.10)
    assert d.interval.half_width == pytest.approx(0.12421, abs=1e-5)
    assert (d.n_positive, d.n_negative, d.sign_holds) == (3, 0, 3)
    assert not d.significant  # the interval [-0.024, 0.224] holds 0
    assert d.format() == "+10.0 ± 12.4"
    assert d.sign_text() == "3/3 seeds"


def test_paired_difference_significant_and_negative() -> None:
    # b − a per seed: −0.10, −0.12, −0.11, −0.09, −0.13: mean −0.11, s 0.015811,
    # sem 0.0070711, × 2.7764 = 0.019632 → [−0.1296, −0.0904], excludes 0
    a = {s: 0.5 for s in range(5)}
    b = {s: 0.5 - d for s, d in enumerate((0.10, 0.12, 0.11, 0.09, 0.13))}
    d = paired_difference(b, a)
    assert d.interval.mean == pytest.approx(-0.11)
    assert d.interval.half_width == pytest.approx(0.019632, abs=1e-6)
    assert d.significant and d.sign_holds == 5 and d.n_positive == 0
    assert d.format() == "-11.0 ± 2.0 *"
    # the same differences with one seed flipped: the sign holds on 4 of 5 seeds
    b[4] = 0.6
    flipped = paired_difference(b, a)
    assert (flipped.sign_holds, flipped.n_positive) == (4, 1) and not flipped.significant


def test_settled_round() -> None:
    # rises, then stays within 1 point from round 4 on (window of 5 rounds = 6 values)
    curve = [0.1, 0.3, 0.5, 0.60, 0.605, 0.609, 0.602, 0.608, 0.609, 0.607]
    assert settled_round(curve) == 4
    assert settled_round(curve, tolerance=0.001) is None
    assert settled_round(curve[:5]) is None  # no whole window after any round
    # a calm stretch followed by a jump is not settled
    assert settled_round([0.5] * 7 + [0.7]) is None


def test_report_paired_table_csv_and_html(tmp_path: Path) -> None:
    # three seeds at 5 dB: dqfl beats qfl by 10, 12, 11 points at the deepest exit and
    # classical by 1, -1, 3 points
    for seed, (d, q, c) in enumerate(((0.60, 0.50, 0.59), (0.62, 0.50, 0.63), (0.64, 0.53, 0.61))):
        _fake_run(tmp_path, "dqfl", 5.0, seed, [0.3, d])
        _fake_run(tmp_path, "qfl", 5.0, seed, [0.3, q])
        _fake_run(tmp_path, "classical", 5.0, seed, [c])
    report = write_report(tmp_path)
    text = report.read_text()
    section = text.split("## Paired differences: deepest exit", 1)[1].split("##", 1)[0]
    # dqfl − qfl: mean 11, s 1, sem 0.57735, × 4.3027 = 2.484 → significant
    assert "| dqfl − qfl | +11.0 ± 2.5 * (3/3 seeds) |" in section
    # dqfl − classical: 1, -1, 3 → mean 1, s 2, sem 1.1547, × 4.3027 = 4.968 → not significant
    assert "| dqfl − classical | +1.0 ± 5.0 (2/3 seeds) |" in section

    folder = report.parent
    with open(folder / "paired_differences.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r["metric"] == "global_top1"]
    by_pair = {(r["a"], r["b"]): r for r in rows}
    q = by_pair[("dqfl", "qfl")]
    assert (q["n_pairs"], q["seeds"], q["significant"]) == ("3", "0 1 2", "true")
    assert q["sign_holds"] == "3"
    assert float(q["mean_diff"]) == pytest.approx(0.11)
    assert float(q["ci95_low"]) == pytest.approx(0.11 - 0.024841, abs=1e-5)
    assert by_pair[("dqfl", "classical")]["significant"] == "false"
    with open(folder / "cells.csv") as handle:
        cells = {(r["method"], r["metric"]): r for r in csv.DictReader(handle)}
    dq = cells[("dqfl", "global_top1")]
    assert dq["n_seeds"] == "3" and float(dq["mean"]) == pytest.approx(0.62)
    # 0.60, 0.62, 0.64: s 0.02, sem 0.011547, × 4.3027 = 0.049683
    assert float(dq["ci95_high"]) == pytest.approx(0.62 + 0.049683, abs=1e-5)

    page = (folder / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "+11.0 ± 2.5 *" in page and "62.0 ± 5.0" in page
    images = re.findall(r'<img alt="[^"]*" src="([^"]+)"', page)
    assert len(images) >= 5 and all(src.startswith("data:image/png;base64,") for src in images)
    # self-contained: no stylesheet, script or image fetched from anywhere
    assert not re.search(r"<(script|link)\b", page)
    assert not re.search(r'(src|href)="(https?:)?//', page)


def _run_with_curve(root: Path, method: str, snr: float, seed: int, curve: list[float]) -> None:
    """A finished run whose deepest exit follows ``curve`` round by round."""
    before = set(root.iterdir())
    _fake_run(root, method, snr, seed, [0.1, curve[-1]])
    (run_dir,) = set(root.iterdir()) - before
    rows = [
        json.dumps({"round": r + 1, "top1": [0.1, a], "fleet_top1": a, "energy_j": 0.01})
        for r, a in enumerate(curve)
    ]
    (run_dir / "history.jsonl").write_text("\n".join(rows) + "\n")


def test_convergence_rounds_script(tmp_path: Path, capsys) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "convergence_rounds", ROOT / "experiments" / "convergence_rounds.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rising = [0.1, 0.3, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    # two seeds whose mean settles at round 4 (each moves, the mean does not after round 4)
    _run_with_curve(tmp_path, "dqfl", 0.0, 0, [a + 0.004 * (i % 2) for i, a in enumerate(rising)])
    _run_with_curve(tmp_path, "dqfl", 0.0, 1, [a - 0.004 * (i % 2) for i, a in enumerate(rising)])
    # settles at round 2: 0.2, then flat
    _run_with_curve(tmp_path, "qfl", 0.0, 0, [0.1] + [0.2] * 9)
    assert script.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| dqfl | round 4 of 10 |" in out and "| qfl | round 2 of 10 |" in out
    assert "Every cell settled by round 4: default rounds = 4." in out
    # still rising at the end: not settled, exit 1
    _run_with_curve(tmp_path, "classical", 0.0, 0, [0.05 * r for r in range(10)])
    assert script.main([str(tmp_path)]) == 1
    assert "not settled in 10" in capsys.readouterr().out
    assert script.main([str(tmp_path / "nothing")]) == 2


def test_knob_sweep_pairs_each_variant_with_the_first(tmp_path: Path) -> None:
    for seed in range(3):
        for plan, final in (("false", 0.50 + 0.01 * seed), ("true", 0.45 + 0.02 * seed)):
            _fake_run(
                tmp_path, "dqfl", 10.0, seed, [0.3, final], f"federation.plan_depth={plan}",
                f"name=p{plan}-s{seed}",
            )  # fmt: skip
    text = write_report(tmp_path).read_text()
    # true − false per seed: −0.05, −0.04, −0.03 → mean −4, s 1, sem 0.57735, × 4.3027 = 2.484
    assert "| dqfl (plan_depth=True) − dqfl (plan_depth=False) | -4.0 ± 2.5 * (3/3 seeds) |" in text


def test_publish_report_copies_figures_and_points_links_at_the_copies(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "publish_report", ROOT / "experiments" / "publish_report.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for seed in (0, 1):
        _fake_run(tmp_path / "sweep", "dqfl", 5.0, seed, [0.3, 0.6])
        _fake_run(tmp_path / "sweep", "qfl", 5.0, seed, [0.3, 0.5])
    report = write_report(tmp_path / "sweep")
    docs = tmp_path / "docs"
    assert script.main([str(report.parent), "--prefix", "x_", "--docs", str(docs)]) == 0
    text = (docs / "x_report.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert "figures/x_acc_vs_quality.png" in links and "x_paired.csv" in links
    assert all((docs / link).is_file() for link in links), links
    assert script.main([str(tmp_path / "nothing"), "--docs", str(docs)]) == 2
