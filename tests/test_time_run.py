"""experiments/time_run.py and run_timeline.py run on tiny configs; refusals are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


TIMELINE = SCRIPT.parent / "run_timeline.py"
FEDERATED = [a for a in TINY if a != "federation.method=centralized"][:-1]


@pytest.mark.slow
def test_run_timeline_splits_a_federated_run_into_phases_that_add_up(tmp_path, monkeypatch):
    monkeypatch.setenv("DQFL_CACHE_DIR", str(tmp_path / "cache"))
    args = [*FEDERATED, "--set", "federation.rounds=2"]
    done = subprocess.run(
        [sys.executable, str(TIMELINE), "--", *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    total = float(lines[0].rsplit(": ", 1)[1].split()[0])
    rows = [line.rsplit(None, 2) for line in lines[1:] if not line.startswith("  (")]
    phases = {name.strip(): float(seconds) for name, seconds, _ in rows}
    assert {"imports", "checks", "ray start", "rounds 2..2", "engine stop", "exit"} <= set(phases)
    assert sum(phases.values()) == pytest.approx(total, abs=0.05 * len(phases))


def test_run_timeline_refuses_a_run_without_the_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("DQFL_CACHE_DIR", str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, str(TIMELINE), "--", *TINY], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "did not reach the engine" in done.stderr and "Traceback" not in done.stderr


def _timeline_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_timeline", TIMELINE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_timeline_marks_a_wrapped_call_and_refuses_a_missing_one_in_one_line():
    import types

    timeline = _timeline_module()
    marks: list[str] = []
    owner = types.ModuleType("dqfl_timeline_probe")
    owner.Engine = type("Engine", (), {"stop": lambda self: marks.append("inside") or 7})
    sys.modules[owner.__name__] = owner
    try:
        timeline.wrap(owner.__name__, "Engine.stop", "stop", marks.append)
        assert owner.Engine().stop() == 7 and marks == ["stop start", "inside", "stop end"]
        with pytest.raises(SystemExit) as refused:
            timeline.wrap(owner.__name__, "Engine.terminate", "stop", marks.append)
    finally:
        del sys.modules[owner.__name__]
    assert str(refused.value).startswith("error: cannot time dqfl_timeline_probe.Engine.terminate")
