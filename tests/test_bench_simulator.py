"""The simulator benchmark runs in its quick mode, so it cannot rot (numbers are not asserted)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

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
    assert "| 8 | 32 | dqfl (simulator=auto: adjoint, compiled" in out
    assert "default.qubit: one QNode per forward, backprop, broadcasting, qml.Snapshot" in out
    assert "useful GFLOP/s (% of sgemm peak)" in out
    assert "default.mixed" in out and "| 8 | 32 | 16 |" in out  # density and trajectory rows
    assert "failed (" not in out  # every installed peer ran and was compared


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the script runs")
def test_bench_gpu_says_it_needs_a_gpu_on_a_cpu_only_machine():
    done = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "bench_gpu.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert "error: bench_gpu.py needs a CUDA GPU" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_bench_gpu_dry_run_on_the_cpu_prints_its_tables(tmp_path):
    """No GPU here: --device cpu runs the script's own code paths so it cannot rot unseen; the
    end-to-end row with the centralised baseline (the form for a GPU machine without Ray)."""
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "experiments" / "bench_gpu.py"),
            "--device",
            "cpu",
            "--sizes",
            "4",
            "--batches",
            "8",
            "--reps",
            "1",
            "--method",
            "centralized",
            "--rounds",
            "1",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env={**os.environ, "DQFL_CACHE_DIR": str(tmp_path / "cache")},
    ).stdout
    assert "| 4 | 8 |" in out and "PennyLane lightning.gpu" in out
    end_to_end = out.split("federation.method=centralized, 1 rounds")[-1]
    runs = [line.split("|") for line in end_to_end.splitlines() if line.startswith("| cpu |")]
    assert len(runs) == 2 and all(float(r[2]) > 0 for r in runs)
    assert runs[0][3] == runs[1][3] and len(runs[0][3].split(",")) == 4  # same seed, 4 exits
