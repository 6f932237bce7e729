"""Finished results are reused only for the configuration that made them; any other is refused
with a clear message before work starts, and the old results are left exactly as they were."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dqfl.config import apply_overrides, load_config
from dqfl.errors import DqflError
from dqfl.federation.results import RunRecorder, discard_unfinished, reusable_summary

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["data.n_vehicles=2", "data.samples_per_vehicle=20", "federation.rounds=2"]


def finished_folder(path: Path, overrides: list[str]) -> Path:
    """A finished results folder written the way a run writes it (no simulation needed)."""
    rec = RunRecorder(load_config(None, overrides), path)
    rec.add_round({"round": 1, "top1": [0.5, 0.5, 0.5, 0.5], "fleet_top1": 0.5})
    rec.save_model({"w": torch.zeros(1)})
    rec.finish({})
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_configuration_is_reused(tmp_path: Path) -> None:
    out = finished_folder(tmp_path / "a", SMALL)
    summary = reusable_summary(load_config(None, SMALL), out)
    assert summary is not None and summary["rounds"] == 1
    # where results go and the cache folder do not change the numbers
    moved = load_config(None, [*SMALL, "output_dir=elsewhere", "data.cache_dir=/tmp/c"])
    assert reusable_summary(moved, out) is not None


def test_different_configuration_is_refused_naming_the_key(tmp_path: Path) -> None:
    out = finished_folder(tmp_path / "a", SMALL)
    before = snapshot(out)
    other = apply_overrides(load_config(None, SMALL), ["channel.snr_db=5"]).validate()
    with pytest.raises(DqflError, match=r"different configuration: channel\.snr_db = 15\.0 there"):
        reusable_summary(other, out)
    assert snapshot(out) == before


def test_unfinished_folder_is_not_reused_and_can_be_discarded(tmp_path: Path) -> None:
    cfg = load_config(None, SMALL)
    rec = RunRecorder(cfg, tmp_path / "a")
    rec.add_round({"round": 1, "top1": [0.1]})
    (tmp_path / "a" / "notes.txt").write_text("mine")
    assert reusable_summary(cfg, tmp_path / "a") is None
    assert discard_unfinished(tmp_path / "a")
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["notes.txt"]  # user files stay


def test_result_files_are_readable_by_others(tmp_path: Path) -> None:
    out = finished_folder(tmp_path / "a", SMALL)
    umask = os.umask(0)
    os.umask(umask)
    for path in out.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path


def _dqfl(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "dqfl", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_run_into_a_finished_folder_of_another_config_is_refused(tmp_path: Path) -> None:
    out = finished_folder(tmp_path / "old", SMALL)
    before = snapshot(out)
    sets = [a for kv in [*SMALL, "channel.snr_db=5"] for a in ("--set", kv)]
    result = _dqfl(tmp_path, "run", *sets, "--out", "old")
    assert result.returncode == 2, result.stderr
    assert "different configuration: channel.snr_db" in result.stderr
    assert "Traceback" not in result.stderr and "results written" not in result.stdout
    assert snapshot(out) == before


def test_run_into_its_own_finished_folder_reports_it_without_rerunning(tmp_path: Path) -> None:
    out = finished_folder(tmp_path / "old", SMALL)
    before = snapshot(out)
    sets = [a for kv in SMALL for a in ("--set", kv)]
    result = _dqfl(tmp_path, "run", *sets, "--out", "old")
    assert result.returncode == 0, result.stderr
    assert "finished earlier with this configuration" in result.stdout
    assert snapshot(out) == before


def test_sweep_refuses_a_stale_point_before_running_any(tmp_path: Path) -> None:
    # the 5 dB point's folder holds results made with 3 rounds; the sweep asks for 2
    finished_folder(
        tmp_path / "sw" / "dqfl-snr5-seed0",
        [*SMALL[:2], "federation.rounds=3", "channel.snr_db=5", "name=dqfl-snr5-seed0"],
    )
    sets = [a for kv in SMALL for a in ("--set", kv)]
    result = _dqfl(
        tmp_path, "sweep", *sets, "--snr-db", "0,5", "--methods", "dqfl", "--seeds", "0",
        "--out", "sw",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "dqfl-snr5-seed0" in result.stderr and "federation.rounds = 3 there" in result.stderr
    assert sorted(p.name for p in (tmp_path / "sw").iterdir()) == ["dqfl-snr5-seed0"]
