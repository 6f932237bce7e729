"""Federation pieces without a simulation engine: seeding, the fleet metric, results folders,
the vehicle's train function on a real Message/Context, and the strategy's reply handling."""

from __future__ import annotations

import json
import math

import pytest
import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, Error, Message, MetricRecord, RecordDict
from torch import nn

from dqfl.config import RunConfig
from dqfl.federation import common
from dqfl.federation.results import RunRecorder, atomic_write_text, is_done, summarise

TINY = {
    "data.n_vehicles": 3,
    "data.samples_per_vehicle": 24,
    "data.test_per_class": 4,
    "data.image_size": 8,
    "model.n_qubits": 6,
    "model.n_layers": 2,
    "federation.rounds": 2,
    "federation.batch_size": 8,
}


def make_cfg(values: dict) -> RunConfig:
    """A validated RunConfig from typed dotted keys."""
    cfg = RunConfig()
    for key, value in values.items():
        target = cfg
        *path, attr = key.split(".")
        for part in path:
            target = getattr(target, part)
        setattr(target, attr, value)
    return cfg.validate()


def tiny(*extra: str) -> RunConfig:
    values = dict(TINY)
    for item in extra:
        key, text = item.split("=", 1)
        values[key] = {"true": True, "false": False}.get(text, text)
        for cast in (int, float):
            try:
                values[key] = cast(text)
                break
            except ValueError:
                continue
    return make_cfg(values)


# -- Flower-free rules -------------------------------------------------------------------------
def test_sampling_is_seeded_sorted_and_sized() -> None:
    pool = list(range(10))
    a = common.sample_vehicles(3, 1, pool, 0.3)
    assert a == common.sample_vehicles(3, 1, list(reversed(pool)), 0.3)
    assert len(a) == 3 and a == sorted(a)
    assert (
        common.sample_vehicles(3, 2, pool, 0.3) != a or common.sample_vehicles(4, 1, pool, 0.3) != a
    )
    assert common.sample_vehicles(0, 0, pool, 1.0) == pool
    assert len(common.sample_vehicles(0, 0, pool, 0.01)) == 1
    assert common.seed_for(1, 2, 3) == common.seed_for(1, 2, 3) != common.seed_for(1, 2, 4)


def test_fleet_top1_counts_outage_as_chance() -> None:
    exits = [0.5, 0.7, 0.9]
    fleet, delivered = common.fleet_top1(exits, [3, 1, 0], [1.0, 1.0, 2.0], n_classes=10)
    assert fleet == pytest.approx((0.9 + 0.5 + 2 * 0.1) / 4)
    assert delivered == pytest.approx(0.7)
    _, none = common.fleet_top1(exits, [0], [1.0], 10)
    assert math.isnan(none)


def test_uplink_modes() -> None:
    assert common.uplink_mode("dqfl") == "superposition"
    assert common.uplink_mode("qfl") == common.uplink_mode("classical") == "vanilla"


def test_results_folder_atomic_and_summary(tmp_path) -> None:
    cfg = tiny()
    rec = RunRecorder(cfg, tmp_path / "run")
    assert (tmp_path / "run" / "config.toml").read_text() == cfg.to_toml()
    assert not is_done(tmp_path / "run")
    for r in (1, 2):
        rec.add_round(
            {
                "round": r,
                "top1": [0.1 * r, 0.2 * r],
                "fleet_top1": 0.2,
                "delivered_depths": [0, 2],
                "bits_sent": 10,
                "energy_j": 0.5,
                "failures": 0,
                "rejected": r - 1,
                "wall_s": 1.0,
                "train_loss": float("nan"),
            }
        )
    rec.save_model({"blocks.0.w": torch.ones(2)})
    summary = rec.finish({"extra": 1})
    assert is_done(tmp_path / "run")
    lines = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    assert [json.loads(x)["round"] for x in lines] == [1, 2]
    assert json.loads(lines[0])["train_loss"] is None  # NaN never reaches JSON
    assert summary["top1"] == pytest.approx([0.2, 0.4]) and summary["total_rejected"] == 1
    assert summary["mean_delivered_depth"] == 1.0 and summary["outage_rate"] == 0.5
    assert summarise(cfg, [])["rounds"] == 0
    saved = torch.load(tmp_path / "run" / "model.pt")
    assert RunConfig().__class__ and json.loads(saved["config"])["seed"] == cfg.seed
    atomic_write_text(tmp_path / "x.txt", "hello")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.fixture(autouse=True)
def task_identity():
    """Messages are stamped with the sender's identity, which a runtime normally sets."""
    from flwr.supercore.task_identity import TaskIdentity

    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 1
    yield
    TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


# -- the vehicle, called directly with a real Message and Context --------------------------------
class NormNet(nn.Module):
    """Two-exit stand-in with FedBN-local ``.norm.`` layers (the DQNN has none)."""

    def __init__(self, n_inputs: int, n_classes: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        for _ in range(2):
            block = nn.Module()
            block.lin = nn.Linear(n_inputs, n_inputs)
            block.norm = nn.BatchNorm1d(n_inputs)
            block.head = nn.Linear(n_inputs, n_classes)
            self.blocks.append(block)

    def forward(self, x: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        outs, h = [], x
        for block in self.blocks[: depth or len(self.blocks)]:
            h = torch.tanh(block.norm(block.lin(h)))
            outs.append(block.head(h))
        return torch.stack(outs)


def _train_message(cfg: RunConfig, state: dict[str, torch.Tensor], **config) -> Message:
    record = ConfigRecord(
        {
            common.CONFIG_KEY: cfg.to_json(),
            "server-round": 1,
            "run-key": "0-x",
            "train-depth": -1,
            "prox-mu": 0.0,
            "local-seed": 1,
            **config,
        }
    )
    content = RecordDict({"arrays": ArrayRecord(state), "config": record})
    return Message(content=content, dst_node_id=7, message_type="train")


def _context(pid: int = 0) -> Context:
    return Context(
        run_id=1,
        node_id=7,
        node_config={"partition-id": pid, "num-partitions": 3},
        state=RecordDict(),
        run_config={},
    )


@pytest.fixture()
def norm_net(monkeypatch):
    monkeypatch.setattr(
        common, "build", lambda cfg, seed=None: NormNet(common.n_inputs(cfg), common.n_classes(cfg))
    )
    return NormNet


def test_fedbn_norms_never_leave_the_vehicle(norm_net) -> None:
    from clients.client_app import app

    cfg = tiny("federation.strategy=fedbn")
    torch.manual_seed(0)
    state = norm_net(common.n_inputs(cfg), common.n_classes(cfg)).state_dict()
    context = _context()
    reply = app(_train_message(cfg, state), context)
    assert not reply.has_error(), reply.error if reply.has_error() else ""
    sent = reply.content["arrays"].to_torch_state_dict()
    assert sent and not [k for k in sent if ".norm." in k]
    assert set(sent) == {k for k in state if ".norm." not in k}
    kept = context.state["fedbn-0-x"].to_torch_state_dict()
    assert kept and all(".norm." in k for k in kept)
    metrics = reply.content["metrics"]
    assert {"num-examples", "train-loss", "train-seconds", "acc-exit-1", "acc-exit-2"} <= set(
        metrics
    )
    # next round: the vehicle's own running statistics come back, not the server's
    reply2 = app(_train_message(cfg, state), context)
    assert not reply2.has_error()
    kept2 = context.state["fedbn-0-x"].to_torch_state_dict()
    assert int(kept2["blocks.0.norm.num_batches_tracked"]) > int(
        kept["blocks.0.norm.num_batches_tracked"]
    )


def test_fedavg_sends_everything_and_planned_depth_cuts(norm_net) -> None:
    from clients.client_app import app

    cfg = tiny("federation.plan_depth=true")
    state = norm_net(common.n_inputs(cfg), common.n_classes(cfg)).state_dict()
    full = app(_train_message(cfg, state), _context()).content["arrays"].to_torch_state_dict()
    assert set(full) == set(state)
    cut = app(_train_message(cfg, state, **{"train-depth": 1}), _context()).content["arrays"]
    assert {k.split(".")[1] for k in cut.to_torch_state_dict()} == {"0"}


def test_fedprox_pulls_the_update_towards_the_global_model() -> None:
    from clients.client_app import app

    def distance(mu: float) -> float:
        cfg = tiny("federation.strategy=fedprox", "federation.local_epochs=3", "federation.lr=0.1")
        state = common.build(cfg).state_dict()
        reply = app(_train_message(cfg, state, **{"prox-mu": mu}), _context())
        sent = reply.content["arrays"].to_torch_state_dict()
        return sum(float(((sent[k] - state[k]) ** 2).sum()) for k in sent) ** 0.5

    free, prox = distance(0.0), distance(50.0)
    assert prox < 0.9 * free


# -- the strategy's handling of replies (errors, NaN, partial depth) -----------------------------
def test_strategy_counts_failures_and_rejects_bad_updates() -> None:
    from server.strategy import ChannelAwareStrategy

    cfg = tiny("channel.snr_db=40")
    strategy = ChannelAwareStrategy(cfg, vehicles={0: 100, 1: 101, 2: 102})
    before = {k: v.clone() for k, v in strategy.global_state.items()}
    messages = list(
        strategy.configure_train(1, strategy.initial_arrays(), ConfigRecord(), grid=None)
    )
    assert sorted(m.metadata.dst_node_id for m in messages) == [100, 101, 102]
    assert json.loads(messages[0].content["config"][common.CONFIG_KEY])["seed"] == cfg.seed
    by_node = {m.metadata.dst_node_id: m for m in messages}
    good = {k: v + 0.01 for k, v in before.items()}
    bad = {k: v.clone() for k, v in before.items()}
    next(iter(bad.values())).view(-1)[0] = float("nan")

    def reply(node: int, state) -> Message:
        metrics = MetricRecord({"num-examples": 10, "train-loss": 1.0, "train-seconds": 0.1})
        return Message(
            RecordDict({"arrays": ArrayRecord(state), "metrics": metrics}), reply_to=by_node[node]
        )

    replies = [
        reply(100, good),
        reply(101, bad),
        Message(Error(code=0, reason="boom"), reply_to=by_node[102]),
    ]
    arrays, _ = strategy.aggregate_train(1, replies)
    info = strategy._round
    assert info["failures"] == 1 and info["rejected"] == 1
    assert info["delivered"][1:] == [0, 0]
    d = info["channel_depths"][0]
    new = arrays.to_torch_state_dict()
    from dqfl.aggregation import block_index

    for key in before:
        if block_index(key) < d:
            assert torch.allclose(new[key], good[key])
        else:
            assert torch.equal(new[key], before[key])
    # a vehicle that never answered (timeout) is a failure too
    strategy.configure_train(2, arrays, ConfigRecord(), grid=None)
    strategy.aggregate_train(2, [])
    assert strategy._round["failures"] == 3
