"""experiments/compare_runs.py: paired differences of two runs tables, against hand-made tables."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "compare_runs.py"
HEADER = "method,strategy,snr_db,seed,fleet_top1,global_top1\n"


def _module():
    spec = importlib.util.spec_from_file_location("compare_runs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table(path: Path, rows: list[tuple]) -> Path:
    path.write_text(HEADER + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd
    )


def test_paired_differences_match_the_hand_computed_statistics(tmp_path):
    a = _table(
        tmp_path / "a.csv",
        [
            ("dqfl", "fedavg", 0, 0, "0.5000", "0.6000"),
            ("dqfl", "fedavg", 0, 1, "0.5000", "0.7000"),
            ("dqfl", "fedavg", 5, 0, "0.5000", "0.8000"),
            ("qfl", "fedavg", 0, 0, "0.4000", "0.6000"),  # not in b: unpaired
        ],
    )
    b = _table(
        tmp_path / "b.csv",
        [
            ("dqfl", "fedavg", 5, 0, "0.5000", "0.8000"),  # order differs from a
            ("dqfl", "fedavg", 0, 0, "0.5000", "0.6100"),
            ("dqfl", "fedavg", 0, 1, "0.5000", "0.6700"),
        ],
    )
    m = _module()
    rows = {r["metric"]: r for r in m.compare(m.read_table(str(a)), m.read_table(str(b)))}
    top1 = rows["global_top1"]  # differences +0.0, +1.0, -3.0 points (b's order)
    assert top1["runs"] == 3 and top1["identical"] == 1
    assert top1["mean"] == pytest.approx(-2 / 3)
    assert top1["sd"] == pytest.approx(((4 / 9 + 25 / 9 + 49 / 9) / 2) ** 0.5)
    assert top1["largest"] == pytest.approx(3.0)
    # seed spread of b: stdev(61, 67) at 0 dB; 5 dB has one seed and is left out
    assert top1["seed_sd"] == pytest.approx(3 * 2**0.5)
    assert rows["fleet_top1"]["identical"] == 3 and rows["fleet_top1"]["largest"] == 0.0


def test_a_committed_table_compares_with_itself_as_identical(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the project's git history")
    done = _cli("HEAD:docs/sweep_runs.csv", "HEAD:docs/sweep_runs.csv")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("dqfl ")]
    assert len(rows) == 2 and all(r[-4:-1] == ["35", "of", "35"] for r in rows), done.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["nowhere.csv", "nowhere.csv"], "neither a file, a results folder nor REV:PATH"),
        (["HEAD:no/such.csv", "HEAD:no/such.csv"], "cannot read HEAD:no/such.csv from git"),
        (["{folder}", "{folder}"], "has no report/runs.csv"),
        (["{csv}", "{csv}", "--metrics", "top1_exit_9"], "--metrics: no column"),
        (["{other}", "{csv}"], "is not a runs table"),
    ],
)
def test_bad_inputs_are_one_line_and_exit_2(tmp_path, args, message):
    csv = _table(tmp_path / "a.csv", [("dqfl", "fedavg", 0, 0, "0.5", "0.6")])
    other = tmp_path / "other.csv"
    other.write_text("x,y\n1,2\n")
    fill = {"folder": str(tmp_path), "csv": str(csv), "other": str(other)}
    done = _cli(*(a.format(**fill) for a in args))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr


def _report(folder: Path, top1: str, significant: list[tuple[int, str]]) -> Path:
    report = folder / "report"
    report.mkdir(parents=True)
    _table(report / "runs.csv", [("dqfl", "fedavg", 0, 0, "0.5", top1)])
    rows = "".join(f"global_top1,dqfl,classical,{snr},{flag}\n" for snr, flag in significant)
    (report / "paired_differences.csv").write_text("metric,a,b,snr_db,significant\n" + rows)
    return folder


def test_results_folders_compare_their_findings_too(tmp_path):
    a = _report(tmp_path / "a", "0.6", [(0, "true"), (5, "false")])
    b = _report(tmp_path / "b", "0.7", [(0, "true"), (5, "true")])
    done = _cli(str(a), str(b))
    assert done.returncode == 0, done.stderr
    assert "paired intervals excluding 0: A 1, B 2 (different)" in done.stdout
    assert "only in B: global_top1 dqfl-classical @ 5 dB" in done.stdout
    row = next(line for line in done.stdout.splitlines() if "global_top1" in line).split()
    assert row[3:6] == ["+10.00", "±", "0.00"] and row[7:10] == ["0", "of", "1"]
