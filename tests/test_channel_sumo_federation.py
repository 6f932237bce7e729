"""A short federation on each built-in SUMO scenario through the real simulation engine, and the
CLI's errors for SUMO (missing install, broken scenario) before any training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_federation_units import tiny

from dqfl.channel import sumo as sumo_mod
from dqfl.cli.apps import run_points


def _history(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "history.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_short_federation_on_each_builtin_scenario(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DQFL_CACHE_DIR", str(tmp_path / "cache"))
    points = [
        (
            tiny(
                "channel.mobility=sumo",
                f"channel.scenario={name}",
                f"channel.pathloss=3gpp_{name}",
                "channel.snr_db=30",
                "federation.rounds=3",
            ),
            tmp_path / name,
        )
        for name in ("highway", "urban")
    ]
    summaries = run_points(points)
    assert not sumo_mod.ACTIVE_PIDS
    for (cfg, out), summary in zip(points, summaries, strict=True):
        rows = _history(out)
        assert [r["round"] for r in rows] == [1, 2, 3]
        for r in rows:
            assert len(r["position_m"]) == len(r["vehicles"]) == cfg.data.n_vehicles
            assert r["failures"] == 0
            assert 0 <= r["out_of_range"] <= cfg.data.n_vehicles
            for pos, snr in zip(r["position_m"], r["mean_snr_db"], strict=True):
                assert (pos[0] is None) == (snr is None)  # off the road: no position, no SNR
        moved = [a != b for a, b in zip(rows[0]["position_m"], rows[-1]["position_m"], strict=True)]
        assert any(moved)
        assert summary["rounds"] == 3
    # the report draws each scenario from the recorded tracks
    from dqfl.report import write_report

    report = write_report(tmp_path, tmp_path / "report")
    text = report.read_text()
    assert "scenario.png" in text and "scenario_2.png" in text
    assert (tmp_path / "report" / "scenario.png").stat().st_size > 10_000


def _dqfl(args: list[str], tmp_path: Path, extra_path: str = "") -> subprocess.CompletedProcess:
    root = str(Path(__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k != "SUMO_HOME"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, root) if p)
    env["DQFL_CACHE_DIR"] = str(tmp_path / "cache")
    return subprocess.run(
        [sys.executable, "-m", "dqfl", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_cli_errors_before_training(tmp_path) -> None:
    """Exit code 2 and one clear line, nothing written, for a broken scenario or no SUMO."""
    broken = tmp_path / "broken.sumocfg"
    broken.write_text(
        '<configuration><input><net-file value="nope.net.xml"/></input></configuration>'
    )
    out = tmp_path / "runs"
    common = ["--set", "channel.mobility=sumo", "--set", f"output_dir={out}"]
    result = _dqfl(["run", *common, "--set", f"channel.scenario={broken}"], tmp_path)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: SUMO could not load") and "Traceback" not in result.stderr
    assert not any(out.rglob("history.jsonl"))
    fake = tmp_path / "fake"  # an environment without SUMO: importing it fails
    (fake / "sumo").mkdir(parents=True)
    (fake / "sumo" / "__init__.py").write_text("raise ImportError('not installed')\n")
    result = _dqfl(["run", *common], tmp_path, extra_path=str(fake))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: channel.mobility = 'sumo'")
    assert "pip install 'dqfl[sumo]'" in result.stderr and "Traceback" not in result.stderr
    assert not any(out.rglob("history.jsonl"))
