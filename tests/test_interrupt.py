"""Ctrl-C on real commands: SIGINT to a real `dqfl run` / `dqfl sweep` (Flower's simulation engine,
Ray's services and workers underneath) ends it within seconds with exit code 130, one line saying
what was kept, finished results intact, no partial files and no process left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dqfl.interrupt import alive, descendants

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "--set",
    "data.n_vehicles=2",
    "--set",
    "data.samples_per_vehicle=20",
    "--set",
    "federation.local_epochs=1",
]
EXIT_WITHIN_S = 15.0  # generous for a busy 2-core machine; measured about 2 s when idle


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    log = tmp_path / "log.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dqfl", *args],
        cwd=tmp_path,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return proc, log


def _wait_for(path: Path, proc: subprocess.Popen, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert proc.poll() is None, "the command ended before it could be interrupted"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def _interrupt(proc: subprocess.Popen, log: Path) -> tuple[float, str, list[int]]:
    """SIGINT once; returns (seconds to exit, output, processes that were below it)."""
    children = descendants(proc.pid)
    assert children, "the simulation engine should have started child processes"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        for pid in descendants(proc.pid) + children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        pytest.fail("the command was still running 120 s after SIGINT")
    return time.monotonic() - t0, log.read_text(), children


def _assert_clean_exit(proc, elapsed, output, children) -> None:
    assert proc.returncode == 130, output
    assert elapsed < EXIT_WITHIN_S, f"took {elapsed:.1f} s to exit"
    assert "Traceback" not in output and "Exception ignored" not in output, output
    lines = [ln for ln in output.splitlines() if ln.startswith("interrupted:")]
    assert len(lines) == 1, output
    time.sleep(0.5)
    left = [pid for pid in children if alive(pid)]
    assert not left, f"processes left running after the interrupt: {left}"


@pytest.mark.slow
def test_sigint_stops_a_real_run_and_removes_its_partial_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc, log = _start(tmp_path, "run", *SMALL, "--set", "federation.rounds=500", "--out", "run")
    _wait_for(out / "history.jsonl", proc)  # round 1 finished: well inside the federation
    elapsed, output, children = _interrupt(proc, log)
    _assert_clean_exit(proc, elapsed, output, children)
    assert "start it over" in output
    assert not out.exists(), sorted(p.name for p in out.iterdir())  # no partial files


@pytest.mark.slow
def test_sigint_stops_a_real_sweep_keeping_finished_points(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = [*SMALL, "--set", "federation.rounds=1", "--methods", "dqfl", "--seeds", "0"]
    proc, log = _start(tmp_path, "sweep", *args, "--snr-db", "0:60:5", "--out", "sweep")
    _wait_for(out / "dqfl-snr0-seed0" / "summary.json", proc)
    elapsed, output, children = _interrupt(proc, log)
    _assert_clean_exit(proc, elapsed, output, children)
    assert "run the same command again to resume" in output
    finished = sorted(p.parent.name for p in out.glob("*/summary.json"))
    assert finished and "dqfl-snr0-seed0" in finished
    assert f"kept {len(finished)} of 13 finished points" in output
    for folder in out.iterdir():  # every folder left is a whole, finished point
        assert {p.name for p in folder.iterdir()} == {
            "config.toml",
            "history.jsonl",
            "model.pt",
            "summary.json",
        }
    assert not list(out.rglob(".*.tmp"))


@pytest.mark.parametrize(
    "args",
    [
        ["therapy", "benchmark", "--out", "bench"],  # minutes of VQE / SA / GA
        ["therapy", "classify", "--out", "bench/classifier.png", "--epochs", "100000"],
    ],
    ids=["therapy-benchmark", "therapy-classify"],
)
def test_sigint_stops_any_command_with_exit_130(args: list[str], tmp_path: Path) -> None:
    """Commands without run folders too: exit 130, one line, no output file, no temp file."""
    proc, log = _start(tmp_path, *args)
    time.sleep(8.0)  # imports done, computing
    assert proc.poll() is None, log.read_text()
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    output = log.read_text()
    assert proc.returncode == 130, output
    assert time.monotonic() - t0 < EXIT_WITHIN_S
    assert "Traceback" not in output
    assert len([ln for ln in output.splitlines() if ln.startswith("interrupted:")]) == 1, output
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "log.txt"]
