"""The simulator benchmark runs in its quick mode, so it cannot rot (numbers are not asserted)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_simulator_quick_prints_its_table():
    out = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "bench_simulator.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    assert "| 8 | 32 | dqfl torch (simulator=auto" in out
    assert "default.qubit: one QNode per forward, backprop, broadcasting, qml.Snapshot" in out
    assert "useful GFLOP/s (% of sgemm peak)" in out
    assert "default.mixed" in out and "| 8 | 32 | 16 |" in out  # density and trajectory rows
    assert "failed (" not in out  # every installed peer ran and was compared
