"""A two-seed miniature of the headline sweep through the real `dqfl sweep` (Flower's simulation
engine, one start) and `dqfl report`: the Markdown, the CSV files and the HTML page carry the 95 %
intervals, the paired differences with their significance marks and the sign counts."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "data.n_vehicles=2", "data.samples_per_vehicle=24", "data.test_per_class=2",
    "data.image_size=8", "model.n_qubits=6", "model.n_layers=2", "federation.rounds=2",
    "federation.local_epochs=1",
]  # fmt: skip


def _dqfl(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DQFL_CACHE_DIR": str(tmp / "cache"), "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "dqfl", *args],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.mark.slow
def test_two_seed_miniature_sweep_report_carries_intervals(tmp_path: Path) -> None:
    sets = [a for kv in TINY for a in ("--set", kv)]
    sweep = _dqfl(
        tmp_path, "sweep", *sets, "--methods", "dqfl,qfl,classical", "--snr-db", "0,20",
        "--seeds", "0,1", "--out", "sweep",
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert "12 points" in sweep.stderr and "sweep complete" in sweep.stdout
    assert "[12/12, " in sweep.stderr  # progress: points done, time so far
    assert len(list((tmp_path / "sweep").rglob("summary.json"))) == 12

    report = _dqfl(tmp_path, "report", "sweep")
    assert report.returncode == 0, report.stderr[-3000:]
    folder = tmp_path / "sweep" / "report"
    text = (folder / "report.md").read_text()

    # every cell of the accuracy tables is "mean ± half-width" over the two seeds
    table = text.split("## Global model top-1 at the deepest exit", 1)[1].split("##", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "dB" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["dqfl", "qfl", "classical"]
    cells = [c.strip() for r in rows for c in r.split("|")[2:-1]]
    assert len(cells) == 6 and all(re.fullmatch(r"\d+\.\d ± \d+\.\d", c) for c in cells), cells

    # the paired table: both comparisons at both qualities, each with its sign count; a
    # significance mark wherever the CSV says the interval excludes 0
    paired = text.split("## Paired differences: deepest exit", 1)[1].split("##", 1)[0]
    for pair in ("dqfl − qfl", "dqfl − classical"):
        line = next(row for row in paired.splitlines() if row.startswith(f"| {pair} |"))
        assert len(re.findall(r"[+-]\d+\.\d ± \d+\.\d( \*)? \(\d/2 seeds\)", line)) == 2, line
    with open(folder / "paired_differences.csv") as handle:
        diffs = list(csv.DictReader(handle))
    assert {(d["metric"], d["a"], d["b"], d["snr_db"]) for d in diffs} == {
        (m, "dqfl", b, s)
        for m in ("global_top1", "fleet_top1")
        for b in ("qfl", "classical")
        for s in ("0", "20")
    }
    for d in diffs:
        assert d["n_pairs"] == "2" and d["seeds"] == "0 1"
        low, high = float(d["ci95_low"]), float(d["ci95_high"])
        assert low <= float(d["mean_diff"]) <= high
        assert d["significant"] == str(low > 0 or high < 0).lower()
    marks = sum(d["significant"] == "true" for d in diffs)
    assert text.count(" * (") == marks

    with open(folder / "cells.csv") as handle:
        cells_csv = list(csv.DictReader(handle))
    top = [c for c in cells_csv if c["metric"] == "global_top1"]
    assert len(top) == 6 and all(c["n_seeds"] == "2" and c["ci95_low"] for c in top)

    page = (folder / "report.html").read_text()
    assert "Paired differences" in page and page.count("<table>") >= 7
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 6
    for cell in cells:
        assert cell in page
