"""End to end through Flower's real simulation engine (Ray): history shape, learning happened,
same seed -> same numbers, resume skips finished points, and the deployment runtime on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_federation_units import tiny

from dqfl.federation import common, run_points

ROOT = Path(__file__).resolve().parents[1]


def _history(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "history.jsonl").read_text().splitlines()]


def _comparable(rows: list[dict]) -> list[dict]:
    """Everything except timings, which no seed can fix."""
    return [{k: v for k, v in r.items() if k not in ("wall_s", "max_train_s")} for r in rows]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two identical points (same seed) in ONE start of the simulation engine, 3 vehicles."""
    out = tmp_path_factory.mktemp("sim")
    cfg = tiny("channel.snr_db=15")
    events: list[dict] = []
    summaries = run_points(
        [(cfg, out / "a"), (tiny("channel.snr_db=15"), out / "b")], events.append
    )
    return cfg, out, summaries, events


def test_history_shape_and_learning(two_runs) -> None:
    cfg, out, summaries, events = two_runs
    rows = _history(out / "a")
    assert [r["round"] for r in rows] == [1, 2]
    for r in rows:
        assert len(r["top1"]) == cfg.model.n_layers
        assert len(r["delivered_depths"]) == cfg.data.n_vehicles  # fraction 1.0
        assert all(0 <= d <= cfg.model.n_layers for d in r["delivered_depths"])
        assert r["failures"] == 0 and r["rejected"] == 0
        assert r["bits_sent"] > 0 and r["energy_j"] > 0 and r["wall_s"] > 0
        assert 0.0 <= r["fleet_top1"] <= 1.0
    assert {p.name for p in (out / "a").iterdir()} >= {
        "config.toml",
        "history.jsonl",
        "summary.json",
        "model.pt",
    }
    summary = summaries[0]
    assert summary["rounds"] == 2 and summary["method"] == "dqfl" and len(summary["top1"]) == 2
    assert summary["parameters_quantum"] > 0
    # the global model moved away from its initialisation (some block was delivered)
    saved = torch.load(out / "a" / "model.pt")
    start = common.build(common.config_from_json(saved["config"])).state_dict()
    if any(d > 0 for r in rows for d in r["delivered_depths"]):
        assert any(not torch.equal(saved["state_dict"][k], start[k]) for k in start)
    kinds = [e["event"] for e in events]
    assert kinds.count("round") == 4 and kinds.count("point_done") == 2
    assert [e["point"] for e in events if e["event"] == "point_done"] == [0, 1]


def test_same_seed_same_numbers(two_runs) -> None:
    _, out, summaries, _ = two_runs
    assert _comparable(_history(out / "a")) == _comparable(_history(out / "b"))
    a = torch.load(out / "a" / "model.pt")["state_dict"]
    b = torch.load(out / "b" / "model.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_skips_finished_points(two_runs) -> None:
    cfg, out, summaries, _ = two_runs
    before = (out / "a" / "summary.json").stat().st_mtime_ns
    events: list[dict] = []
    again = run_points([(cfg, out / "a")], events.append)  # no engine start: returns at once
    assert [e["event"] for e in events] == ["point_skipped"]
    assert again[0]["fingerprint"] == summaries[0]["fingerprint"]
    assert (out / "a" / "summary.json").stat().st_mtime_ns == before


def test_centralized_runs_in_process(tmp_path) -> None:
    cfg = tiny("federation.method=centralized", "federation.rounds=1")
    summary = run_points([(cfg, tmp_path / "c")])[0]
    assert summary["engine"] == "in-process" and summary["rounds"] == 1
    assert len(_history(tmp_path / "c")[0]["top1"]) == cfg.model.n_layers


@pytest.mark.slow
def test_deployment_runtime_on_loopback(tmp_path) -> None:
    """SuperLink + 2 SuperNodes + `flwr run` on 127.0.0.1 with TLS and SuperNode authentication;
    plain HTTP and an unregistered SuperNode are turned away; every process stopped afterwards."""
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "experiments" / "deployment_loopback.py"),
            "--vehicles",
            "2",
            "--rounds",
            "2",
            "--samples",
            "24",
            "--out",
            str(tmp_path),
            "--timeout",
            "400",
        ],
        capture_output=True,
        text=True,
        timeout=460,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["rounds"] == 2 and result["vehicles_connected"] == 2
    assert result["secure"] and result["tls_certificate"] == "127.0.0.1"
    assert result["plaintext_refused"] and result["intruder_refused"]
    assert result["nodes_online"] == 2  # the two registered vehicles, not the intruder
