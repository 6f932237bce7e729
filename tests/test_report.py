"""`dqfl report` on results folders the test writes: tables hold the right means, plots exist."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dqfl.config import RunConfig, apply_overrides
from dqfl.errors import DqflError
from dqfl.report import write_report


def _fake_run(
    root: Path, method: str, snr: float, seed: int, final: list[float], *extra: str
) -> None:
    cfg = apply_overrides(
        RunConfig(),
        [f"federation.method={method}", f"channel.snr_db={snr}", f"seed={seed}", *extra],
    )
    run_dir = root / cfg.run_name()
    run_dir.mkdir(parents=True)
    (run_dir / "config.toml").write_text(cfg.to_toml())
    history = []
    for r in range(1, 4):
        scale = r / 3
        history.append(
            {
                "round": r,
                "top1": [a * scale for a in final],
                "fleet_top1": final[0] * scale,
                "delivered_depths": [len(final), 1, 0] if method == "dqfl" else [len(final), 0, 0],
                "bits_sent": 1000.0 * r,
                "energy_j": 0.01,
                "wall_s": 1.0,
            }
        )
    (run_dir / "history.jsonl").write_text("\n".join(json.dumps(h) for h in history) + "\n")
    (run_dir / "summary.json").write_text(json.dumps({"wall_s": 3.0}))


def test_report_tables_and_plots(tmp_path: Path) -> None:
    _fake_run(tmp_path, "dqfl", 0.0, 0, [0.4, 0.6])
    _fake_run(tmp_path, "dqfl", 0.0, 1, [0.5, 0.8])
    _fake_run(tmp_path, "qfl", 0.0, 0, [0.2, 0.3])
    _fake_run(tmp_path, "qfl", 10.0, 0, [0.5, 0.7])
    report = write_report(tmp_path)
    text = report.read_text()
    assert "## Fleet top-1" in text
    # dqfl at 0 dB over two seeds: deepest exit 60% and 80% → mean 70.0, sample std 14.14,
    # standard error 10.0, t(0.975, 1 dof) = 12.706 → 95 % CI half-width 127.1
    assert "70.0 ± 127.1" in text
    assert "30.0 (n=1)" in text  # qfl at 0 dB: one seed, no interval, and the table says so
    # paired: seed 0 is the only seed both ran at 0 dB: dqfl − qfl = 60 − 30 = +30 points
    assert "| dqfl − qfl | +30.0 (n=1) (1/1 seeds) |" in text
    for png in (
        "acc_vs_round.png",
        "acc_vs_quality.png",
        "acc_vs_quality_per_exit.png",
        "acc_vs_energy.png",
        "depth_vs_quality.png",
    ):
        assert (report.parent / png).stat().st_size > 1000
        assert f"({png})" in text
    with open(report.parent / "table_top1.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["method"], r["snr_db"], r["n_seeds"]) for r in rows] == [
        ("dqfl", "0", "2"),
        ("qfl", "0", "1"),
        ("qfl", "10", "1"),
    ]
    assert float(rows[0]["fleet_top1_mean"]) == pytest.approx(0.45)
    # dqfl delivered depths per round [2, 1, 0] → mean 1.0; qfl [2, 0, 0] → 0.667
    assert float(rows[0]["mean_depth"]) == pytest.approx(1.0)
    assert float(rows[1]["mean_depth"]) == pytest.approx(2 / 3, abs=1e-3)


def test_report_rejects_folder_without_runs(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "history.jsonl").write_text("{}\n")  # unfinished: no summary.json
    with pytest.raises(DqflError, match="no finished runs"):
        write_report(tmp_path)


def test_report_keeps_grid_variants_apart(tmp_path: Path) -> None:
    _fake_run(tmp_path, "dqfl", 5.0, 0, [0.2, 0.4], "federation.strategy=fedavg")
    _fake_run(tmp_path, "dqfl", 5.0, 0, [0.3, 0.6], "federation.strategy=fedprox")
    _fake_run(tmp_path, "qfl", 5.0, 0, [0.1, 0.2])
    report = write_report(tmp_path)
    with open(report.parent / "table_top1.csv") as handle:
        rows = {r["method"]: r for r in csv.DictReader(handle)}
    assert set(rows) == {"dqfl (strategy=fedavg)", "dqfl (strategy=fedprox)", "qfl"}
    assert float(rows["dqfl (strategy=fedprox)"]["global_top1_mean"]) == pytest.approx(0.6)


def test_report_shows_accuracy_against_byzantine_fraction_per_aggregator(tmp_path: Path) -> None:
    for agg, byz, final in (("mean", 0.0, 0.5), ("mean", 0.2, 0.1), ("median", 0.2, 0.45)):
        _fake_run(
            tmp_path,
            "dqfl",
            15.0,
            0,
            [0.3, final],
            f"federation.aggregator={agg}",
            f"faults.byzantine_fraction={byz}",
            f"name={agg}-{byz}",
        )
    text = write_report(tmp_path).read_text()
    assert "## Robustness" in text
    table = text.split("## Robustness", 1)[1].split("##", 1)[0]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.count("|") > 3}
    assert "byzantine 0 %" in rows["aggregator"] and "byzantine 20 % (sign_flip)" in table
    assert "| 50.0 (n=1) (0 failed" in rows["mean"] and "| 10.0 (" in rows["mean"]
    assert "| – | 45.0 (" in rows["median"]
    # a sweep without faults and with one aggregator gets no robustness section
    clean = tmp_path / "clean"
    _fake_run(clean, "dqfl", 15.0, 0, [0.3, 0.5])
    assert "## Robustness" not in write_report(clean).read_text()
