"""experiments/time_run.py runs (a tiny centralised run, no Ray) and refuses a non-checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "time_run.py"
TINY = [
    "--set", "data.n_vehicles=2", "--set", "data.samples_per_vehicle=24",
    "--set", "data.test_per_class=2", "--set", "data.image_size=8", "--set", "model.n_qubits=6",
    "--set", "model.n_layers=2", "--set", "federation.rounds=1",
    "--set", "federation.local_epochs=1", "--set", "federation.method=centralized",
]  # fmt: skip


def _time_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_time_run_prints_each_run_and_the_median(tmp_path, monkeypatch):
    monkeypatch.setenv("DQFL_CACHE_DIR", str(tmp_path / "cache"))
    done = _time_run("--reps", "1", "--", *TINY)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("rep 1")]
    assert len(rows) == 1 and " s" in rows[0] and "top-1 (" in rows[0], done.stdout
    assert "median wall" in done.stdout


def test_time_run_refuses_a_folder_that_is_not_a_checkout(tmp_path):
    done = _time_run("--checkout", str(tmp_path))
    assert (done.returncode, "Traceback" in done.stderr) == (1, False)
    assert "is not a dqfl checkout" in done.stderr
