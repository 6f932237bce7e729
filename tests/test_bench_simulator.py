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
    assert "| statevector n=8 | torch (fused) |" in out
    assert "PennyLane: default.qubit" in out and "one QNode per forward" in out
