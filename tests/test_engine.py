"""The round engine without Flower: partial deliveries, server optimisers that move only the
delivered blocks, every aggregator against a hand computation, fault accounting, the step-size
schedule, and the library's import boundary."""

from __future__ import annotations

import ast
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_federation_units import tiny

from dqfl.aggregation import (
    aggregate_blocks,
    block_update_norms,
    clip_update,
    robust_combine,
    trim_count,
)
from dqfl.blocks import block_index
from dqfl.errors import DqflError
from dqfl.federation.engine import Reply, RoundEngine
from dqfl.federation.server_opt import ServerOptimizer
from dqfl.federation.vehicle import train_vehicle

ROOT = Path(__file__).resolve().parents[1]


def _shifted(state, delta: float, depth: int | None = None):
    return {k: v + delta for k, v in state.items() if depth is None or block_index(k) < depth}


def _engine(*extra: str) -> RoundEngine:
    cfg = tiny("channel.snr_db=40", *extra)
    return RoundEngine(cfg, range(cfg.data.n_vehicles))


def test_partial_deliveries_move_only_delivered_blocks() -> None:
    engine = _engine()
    before = {k: v.clone() for k, v in engine.global_state.items()}
    plan = engine.plan(1)
    plan.channel_depths.update({0: 1, 1: 2, 2: 0})
    replies = [
        Reply(0, _shifted(before, 1.0), num_examples=1.0),
        Reply(1, _shifted(before, 4.0), num_examples=3.0),
        Reply(2, _shifted(before, 100.0), num_examples=5.0),  # outage: never used
    ]
    out = engine.conclude(plan, replies)
    assert out.accepted == [0, 1] and [out.delivered[v] for v in (0, 1, 2)] == [1, 2, 0]
    for key, old in before.items():
        want = (1 * 1.0 + 3 * 4.0) / 4 if block_index(key) == 0 else 4.0
        assert torch.allclose(engine.global_state[key], old + want, atol=1e-5), key


def test_fedadam_state_moves_only_for_delivered_blocks() -> None:
    opt = ServerOptimizer(kind="fedadam", lr=0.1, beta1=0.9, beta2=0.99, tau=1e-3)
    glob = {"blocks.0.w": torch.zeros(2), "blocks.1.w": torch.zeros(2)}
    new = opt.step(glob, {"blocks.0.w": torch.tensor([1.0, -2.0], dtype=torch.float64)})
    # hand computation: m = 0.1 d, v = 0.01 d^2, step = 0.1 m / (sqrt(v) + tau)
    d = torch.tensor([1.0, -2.0], dtype=torch.float64)
    m, v = 0.1 * d, 0.01 * d * d
    assert torch.allclose(new["blocks.0.w"].double(), 0.1 * m / (v.sqrt() + 1e-3), atol=1e-6)
    assert torch.equal(new["blocks.1.w"], glob["blocks.1.w"])
    assert "blocks.1.w" not in opt.m and opt.steps == {"blocks.0.w": 1}
    # round 2: block 1 delivered for the first time, block 0 absent: its moments stay put
    m0 = opt.m["blocks.0.w"].clone()
    opt.step(new, {"blocks.1.w": torch.ones(2, dtype=torch.float64)})
    assert torch.equal(opt.m["blocks.0.w"], m0) and opt.steps["blocks.1.w"] == 1


def test_fedavgm_and_fedyogi_by_hand() -> None:
    glob = {"w": torch.zeros(1)}
    avgm = ServerOptimizer(kind="fedavgm", lr=1.0, momentum=0.5)
    x1 = avgm.step(glob, {"w": torch.tensor([2.0], dtype=torch.float64)})  # m = 2
    x2 = avgm.step(x1, {"w": x1["w"].double() + 1.0})  # m = 0.5 * 2 + 1 = 2
    assert float(x1["w"]) == pytest.approx(2.0) and float(x2["w"]) == pytest.approx(4.0)
    yogi = ServerOptimizer(kind="fedyogi", lr=1.0, beta1=0.0, beta2=0.5, tau=0.0)
    y1 = yogi.step(glob, {"w": torch.tensor([2.0], dtype=torch.float64)})
    # m = d = 2; v = 0 - 0.5 * 4 * sign(0 - 4) = 2; step = 2 / sqrt(2)
    assert float(y1["w"]) == pytest.approx(2.0 / math.sqrt(2.0), rel=1e-6)


def test_aggregators_against_hand_computations() -> None:
    values = torch.tensor([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0], [3.0, 40.0], [100.0, -50.0]])
    values = values.double()
    w = torch.tensor([1.0, 1.0, 1.0, 1.0, 6.0], dtype=torch.float64)
    assert robust_combine(values, w, "mean").tolist() == pytest.approx(
        [60.6, -20.0]
    )  # (0+1+2+3+600)/10
    assert robust_combine(values, w, "median").tolist() == [2.0, 20.0]
    # ceil(0.2 * 5) = 1 value cut from each end per coordinate
    assert robust_combine(values, w, "trimmed_mean", 0.2).tolist() == pytest.approx([2.0, 20.0])
    # four contributors at f = 0.2: one cut from each end (floor(0.8) = 0 would keep the 100)
    assert robust_combine(values[1:], w[1:], "trimmed_mean", 0.2).tolist() == pytest.approx(
        [2.5, 25.0]
    )
    # krum, f = 1, k = 5 - 1 - 2 = 2 nearest: row 1 or 2 ([1, 20], [2, 30]) wins; ties -> first
    rows = values.tolist()
    scores = []
    for i, a in enumerate(rows):
        d = sorted(
            sum((x - y) ** 2 for x, y in zip(a, b, strict=True))
            for j, b in enumerate(rows)
            if j != i
        )
        scores.append(sum(d[:2]))
    best = rows[scores.index(min(scores))]
    assert robust_combine(values, w, "krum", 0.2).tolist() == best
    assert robust_combine(values[:4], w[:4], "median").tolist() == [1.5, 25.0]


def test_trim_count_rounds_up_and_keeps_the_middle() -> None:
    assert [trim_count(n, 0.2) for n in range(1, 12)] == [0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3]
    assert [trim_count(n, 0.4) for n in (3, 5, 6, 10)] == [1, 2, 2, 4]
    assert trim_count(10, 0.0) == 0 and trim_count(100, 0.45) == 45


def test_clip_update_pulls_a_block_to_its_bound_along_its_direction() -> None:
    glob = {"blocks.0.a": torch.zeros(2), "blocks.1.a": torch.ones(1)}
    update = {"blocks.0.a": torch.tensor([3.0, 4.0]), "blocks.1.a": torch.tensor([1.5])}
    assert block_update_norms(glob, update) == pytest.approx({0: 5.0, 1: 0.5})
    out = clip_update(glob, update, {0: 1.0, 1: 1.0})
    assert out["blocks.0.a"].tolist() == pytest.approx([0.6, 0.8])  # norm 5 -> 1, same direction
    assert torch.equal(out["blocks.1.a"], update["blocks.1.a"])  # under its bound: untouched
    assert update["blocks.0.a"].tolist() == [3.0, 4.0]  # the input is not modified


def test_clipping_bounds_an_attacker_by_the_median_norm_of_recent_rounds() -> None:
    engine = _engine("federation.clip_updates=1", "data.n_vehicles=3")
    before = {k: v.clone() for k, v in engine.global_state.items()}
    plan = engine.plan(1)
    plan.channel_depths.update({0: 1, 1: 1, 2: 1})
    # block 0 moved by +1, +1 and -10 per coordinate: the attacker is cut to the median norm
    replies = [
        Reply(0, _shifted(before, 1.0, depth=1), num_examples=1.0),
        Reply(1, _shifted(before, 1.0, depth=1), num_examples=1.0),
        Reply(2, _shifted(before, -10.0, depth=1), num_examples=1.0),
    ]
    engine.conclude(plan, replies)
    for key, old in before.items():
        want = (1.0 + 1.0 - 1.0) / 3 if block_index(key) == 0 else 0.0
        assert torch.allclose(engine.global_state[key], old + want, atol=1e-5), key
    (norms,) = [sorted(h[0]) for h in engine.norm_history]  # per unit step size, for the window
    assert [n / norms[0] for n in norms] == pytest.approx([1, 1, 10], rel=1e-6)


def test_rejection_refuses_an_update_far_above_the_median_norm_and_counts_it() -> None:
    engine = _engine("federation.reject_updates=3", "data.n_vehicles=3")
    before = {k: v.clone() for k, v in engine.global_state.items()}
    plan = engine.plan(1)
    plan.channel_depths.update({0: 1, 1: 1, 2: 1})
    replies = [
        Reply(0, _shifted(before, 1.0, depth=1), num_examples=1.0),
        Reply(1, _shifted(before, 2.0, depth=1), num_examples=1.0),  # 2x the median: kept
        Reply(2, _shifted(before, -10.0, depth=1), num_examples=1.0),  # 5x: refused
    ]
    out = engine.conclude(plan, replies)
    assert out.accepted == [0, 1] and out.rejected == 1 and out.delivered[2] == 0
    for key, old in before.items():
        want = 1.5 if block_index(key) == 0 else 0.0
        assert torch.allclose(engine.global_state[key], old + want, atol=1e-5), key


def test_aggregators_use_only_vehicles_that_delivered_the_block() -> None:
    glob = {"blocks.0.a": torch.zeros(1), "blocks.1.a": torch.zeros(1)}
    ups = [
        {"blocks.0.a": torch.tensor([1.0]), "blocks.1.a": torch.tensor([1.0])},
        {"blocks.0.a": torch.tensor([2.0]), "blocks.1.a": torch.tensor([1000.0])},
        {"blocks.0.a": torch.tensor([9.0]), "blocks.1.a": torch.tensor([3.0])},
    ]
    for rule in ("median", "krum", "trimmed_mean"):
        out = aggregate_blocks(glob, ups, [2, 1, 2], [1.0, 1.0, 1.0], aggregator=rule)
        assert float(out["blocks.1.a"]) in (1.0, 2.0, 3.0), rule  # vehicle 1's 1000 never used
    out = aggregate_blocks(glob, ups, [0, 0, 0], [1.0] * 3, aggregator="median")
    assert out == {}


def test_rejection_holds_when_attackers_are_the_majority_of_the_first_round() -> None:
    # 3 of 5 first-round updates are attackers (x10): the median norm would be an attacker's,
    # the lower quartile is an honest one's, so all three are refused.
    engine = _engine("federation.reject_updates=3", "data.n_vehicles=5")
    before = {k: v.clone() for k, v in engine.global_state.items()}
    plan = engine.plan(1)
    plan.channel_depths.update({v: 1 for v in range(5)})
    shifts = (1.0, -10.0, 1.0, -10.0, -10.0)
    replies = [
        Reply(v, _shifted(before, d, depth=1), num_examples=1.0) for v, d in enumerate(shifts)
    ]
    out = engine.conclude(plan, replies)
    assert out.accepted == [0, 2] and out.rejected == 3


def test_rejection_follows_a_decaying_step_size() -> None:
    # Cosine over 10 rounds: round 9's step is 0.0955 of round 1's. Honest updates shrink with it;
    # an attacker sending 10x a round-9 honest update stays under 3x the raw norms of round 1
    # (pooled quartile 1) but is 10x the pooled quartile per unit step size: refused.
    engine = _engine(
        "federation.reject_updates=3",
        "data.n_vehicles=3",
        "federation.rounds=10",
        "federation.lr_schedule=cosine",
    )
    fed = engine.cfg.federation
    ratio = fed.learning_rate(8) / fed.learning_rate(0)
    assert ratio == pytest.approx(0.0955, abs=1e-4)
    for rnd, shifts in ((1, (1.0, 1.0, 1.0)), (9, (ratio, ratio, -10 * ratio))):
        before = {k: v.clone() for k, v in engine.global_state.items()}
        plan = engine.plan(rnd)
        plan.channel_depths.update({0: 1, 1: 1, 2: 1})
        replies = [
            Reply(v, _shifted(before, d, depth=1), num_examples=1.0) for v, d in enumerate(shifts)
        ]
        out = engine.conclude(plan, replies)
    assert out.accepted == [0, 1] and out.rejected == 1


def test_fault_accounting_and_nan_rejection() -> None:
    engine = _engine()
    before = {k: v.clone() for k, v in engine.global_state.items()}
    plan = engine.plan(1)
    nan = {k: torch.full_like(v, float("nan")) for k, v in before.items()}
    replies = [
        Reply(0, nan, num_examples=10.0),
        Reply(1, error="crashed"),
        Reply(7, _shifted(before, 1.0), num_examples=1.0),  # nobody asked vehicle 7
    ]  # vehicle 2 never answers: a timeout
    out = engine.conclude(plan, replies)
    record = engine.record(plan, out, engine.evaluate())
    assert (record.failures, record.timeouts, record.rejected, record.accepted) == (1, 1, 2, 0)
    assert record.sent == 3 and record.delivered_depths == [0, 0, 0]
    assert all(torch.equal(engine.global_state[k], before[k]) for k in before)


def test_inf_updates_are_rejected_and_counted_with_norm_rejection_on() -> None:
    engine = _engine("federation.reject_updates=3")
    before = {k: v.clone() for k, v in engine.global_state.items()}
    plan = engine.plan(1)
    inf = {k: torch.full_like(v, float("inf")) for k, v in before.items()}
    out = engine.conclude(plan, [Reply(v, inf, num_examples=1.0) for v in plan.channel_depths])
    assert out.rejected == sum(d > 0 for d in plan.channel_depths.values()) > 0
    assert out.accepted == []
    assert all(torch.equal(engine.global_state[k], before[k]) for k in before)


def test_injected_faults_are_seeded_per_round_and_vehicle_and_counted() -> None:
    engine = _engine(
        "data.n_vehicles=12",
        "faults.crash_fraction=0.3",
        "faults.byzantine_fraction=0.3",
        "faults.byzantine_attack=nan",
    )
    plan = engine.plan(1)
    again = _engine(
        "data.n_vehicles=12",
        "faults.crash_fraction=0.3",
        "faults.byzantine_fraction=0.3",
        "faults.byzantine_attack=nan",
    ).plan(1)
    assert plan.faults == again.faults and plan.faults != engine.plan(2).faults
    cfg = engine.cfg

    def train(ins, state):
        try:
            r = train_vehicle(cfg, ins, state)
        except Exception as exc:  # the injected crash, as Flower would report it
            return Reply(ins.vehicle, error=str(exc))
        return Reply(ins.vehicle, r.update, r.num_examples, r.train_loss, r.train_seconds)

    replies = [train(ins, engine.global_state) for ins in plan.instructions]
    record = engine.record(plan, engine.conclude(plan, replies), engine.evaluate())
    n_crash = sum(1 for f in plan.faults.values() if f == "crash")
    n_byz = sum(1 for f in plan.faults.values() if f == "byzantine")
    assert n_crash > 0 and n_byz > 0
    assert record.failures == n_crash and record.rejected == n_byz  # every NaN update refused
    assert record.accepted == 12 - n_crash - n_byz
    assert record.faults == {k: v for k, v in {"crash": n_crash, "byzantine": n_byz}.items()}


def test_cosine_schedule_is_decided_by_the_server() -> None:
    engine = _engine("federation.lr_schedule=cosine", "federation.rounds=4")
    lrs = [engine.plan(r).instructions[0].lr for r in (1, 2, 3, 4)]
    base = engine.cfg.federation.lr
    want = [base * 0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(4)]
    assert lrs == pytest.approx(want) and lrs[0] == base
    assert _engine("federation.lr_schedule=constant").plan(3).instructions[0].lr == base


def test_fedprox_fedbn_fedadam_trimmed_mean_is_one_config() -> None:
    engine = _engine(
        "federation.strategy=fedprox+fedbn",
        "federation.server_opt=fedadam",
        "federation.aggregator=trimmed_mean",
    )
    ins = engine.plan(1).instructions[0]
    assert ins.prox_mu == engine.cfg.federation.prox_mu > 0 and ins.local == (".norm.",)
    with pytest.raises(DqflError, match="strategy"):
        tiny("federation.strategy=fedavg+fedprox")
    with pytest.raises(DqflError, match="aggregator"):
        tiny("federation.aggregator=mode")


def test_library_never_imports_the_flower_apps() -> None:
    """Nothing under dqfl/ but the CLI (the top floor that wires them) imports clients/server."""
    offenders = []
    for path in (ROOT / "dqfl").rglob("*.py"):
        if path.parts[len(ROOT.parts) + 1] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}"
                for n in names
                if n.split(".")[0] in ("clients", "server")
            ]
    assert offenders == []


BLOCK_ENGINE = """
import sys
class _NoEngine:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("flwr", "ray", "clients", "server"):
            raise ImportError("not importable in this test: " + name)
sys.meta_path.insert(0, _NoEngine())
"""


def test_the_centralised_baseline_runs_where_flower_and_ray_cannot_be_imported(tmp_path) -> None:
    """The baseline trains without Flower's engine, so `dqfl run` of it must not import the
    engine or the apps (a GPU machine without Ray can run it; layers stay one-way)."""
    (tmp_path / "sitecustomize.py").write_text(BLOCK_ENGINE)
    out = tmp_path / "run"
    sets = [
        "data.n_vehicles=2", "data.samples_per_vehicle=24", "data.test_per_class=2",
        "data.image_size=8", "model.n_qubits=6", "model.n_layers=2", "federation.rounds=1",
        "federation.local_epochs=1", "federation.method=centralized",
    ]  # fmt: skip
    args = ["run", "--out", str(out), *(a for kv in sets for a in ("--set", kv))]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
        DQFL_CACHE_DIR=str(tmp_path / "cache"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "dqfl", *args], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "centralized" and len(summary["top1"]) == 2
    # the blocker works: the same run of a federated method fails on the engine's import
    fed = [a.replace("federation.method=centralized", "federation.method=dqfl") for a in args]
    fed[2] = str(tmp_path / "fed")
    refused = subprocess.run(
        [sys.executable, "-m", "dqfl", *fed], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert refused.returncode != 0 and "not importable in this test" in refused.stderr
