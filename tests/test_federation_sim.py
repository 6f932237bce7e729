"""End to end through Flower's real simulation engine (Ray): history shape, learning happened,
same seed -> same numbers, injected crashes and byzantine vehicles counted in the history with
FedProx + FedBN + FedAdam + trimmed mean in one run, resume skips finished points, and the
deployment runtime on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_federation_units import tiny

from dqfl.cli.apps import run_points
from dqfl.federation import common

ROOT = Path(__file__).resolve().parents[1]


def _history(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "history.jsonl").read_text().splitlines()]


def _comparable(rows: list[dict]) -> list[dict]:
    """Everything except timings, which no seed can fix."""
    return [{k: v for k, v in r.items() if k not in ("wall_s", "max_train_s")} for r in rows]


FAULTY = (
    "channel.snr_db=25",
    "data.n_vehicles=8",
    "federation.strategy=fedprox+fedbn",
    "federation.server_opt=fedadam",
    "federation.aggregator=trimmed_mean",
    "faults.crash_fraction=0.25",
    "faults.byzantine_fraction=0.25",
    "faults.byzantine_attack=nan",
)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two identical points (same seed) and a faulty one in ONE start of the simulation engine."""
    out = tmp_path_factory.mktemp("sim")
    cfg = tiny("channel.snr_db=25")
    events: list[dict] = []
    summaries = run_points(
        [(cfg, out / "a"), (tiny("channel.snr_db=25"), out / "b"), (tiny(*FAULTY), out / "c")],
        events.append,
    )
    return cfg, out, summaries, events


def _pooled_loss(cfg, state) -> float:
    """Mean cross-entropy of every exit on the union of the vehicles' training data."""
    model = common.build(cfg)
    model.load_state_dict(state)
    parts = [common.partition(cfg, v) for v in range(cfg.data.n_vehicles)]
    x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    with torch.no_grad():
        logits = model(x)
    return float(sum(torch.nn.functional.cross_entropy(z, y.long()) for z in logits)) / len(logits)


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
    assert len(summary["novel_top1"]) == 2  # the novel-conditions set, scored per exit
    # learning happened: the final global model fits the fleet's data better than the initial one
    assert any(d > 0 for r in rows for d in r["delivered_depths"])
    saved = torch.load(out / "a" / "model.pt")
    start = common.build(cfg).state_dict()
    assert _pooled_loss(cfg, saved["state_dict"]) < _pooled_loss(cfg, start) - 0.01
    kinds = [e["event"] for e in events]
    assert kinds.count("round") == 6 and kinds.count("point_done") == 3
    assert [e["point"] for e in events if e["event"] == "point_done"] == [0, 1, 2]
    assert all("delivered_depths" in e and "timeouts" in e for e in events if e["event"] == "round")


def test_injected_faults_are_counted_in_the_history(two_runs) -> None:
    """Crashes raise inside the real ClientApp; NaN updates are all rejected and counted."""
    from dqfl.federation.faults import draw_fault

    _, out, summaries, _ = two_runs
    cfg = tiny(*FAULTY)
    rows = _history(out / "c")
    assert len(rows) == cfg.federation.rounds and summaries[2]["server_opt"] == "fedadam"
    for r in rows:
        faults = {v: draw_fault(cfg.faults, cfg.seed, r["round"] - 1, v) for v in r["vehicles"]}
        crashed = [v for v, f in faults.items() if f == "crash"]
        byzantine = [
            v
            for v, d in zip(r["vehicles"], r["channel_depths"], strict=True)
            if faults[v] == "byzantine" and d > 0
        ]
        assert r["failures"] == len(crashed) and r["rejected"] == len(byzantine)
        assert r["timeouts"] == 0 and r["faults"].get("crash", 0) == len(crashed)
        assert all(r["delivered_depths"][r["vehicles"].index(v)] == 0 for v in crashed)
    assert sum(r["failures"] for r in rows) > 0 and sum(r["rejected"] for r in rows) > 0
    assert summaries[2]["total_failures"] == sum(r["failures"] for r in rows)


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
    assert len(summary["novel_top1"]) == cfg.model.n_layers
    assert all(0.0 <= a <= 1.0 for a in summary["novel_top1"])


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
