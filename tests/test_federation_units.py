"""Federation pieces without a simulation engine: sampling, seed streams, the fleet metric,
methods as records, results folders and the vehicle obeying its instruction."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from dqfl import seeds
from dqfl.config import RunConfig, apply_overrides, load_config
from dqfl.errors import DqflError
from dqfl.federation import common, vehicle
from dqfl.federation.engine import Instruction
from dqfl.federation.methods import METHODS, method
from dqfl.federation.record import RoundRecord
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
    """The tiny test config with ``key=value`` overrides (parsed like ``--set``)."""
    return apply_overrides(make_cfg(dict(TINY)), list(extra)).validate()


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


def test_each_purpose_has_its_own_stream() -> None:
    """Vehicle 2's training seed in round 1 is not the round's fading stream (it once was)."""
    train = seeds.int_seed(0, seeds.Stream.LOCAL_TRAINING, 1, 2)
    assert train == seeds.int_seed(0, seeds.Stream.LOCAL_TRAINING, 1, 2)
    fading = int(np.random.SeedSequence([0, 1, 2]).generate_state(1)[0])  # channel: [seed, r, 2]
    others = {seeds.int_seed(0, s, 1, 2) for s in seeds.Stream if s != seeds.Stream.LOCAL_TRAINING}
    assert train != fading and train not in others
    assert len({s.value for s in seeds.Stream}) == len(seeds.Stream)


def test_fleet_top1_counts_outage_as_chance() -> None:
    exits = [0.5, 0.7, 0.9]
    fleet, delivered = common.fleet_top1(exits, [3, 1, 0], [1.0, 1.0, 2.0], n_classes=10)
    assert fleet == pytest.approx((0.9 + 0.5 + 2 * 0.1) / 4)
    assert delivered == pytest.approx(0.7)
    _, none = common.fleet_top1(exits, [0], [1.0], 10)
    assert math.isnan(none)


def test_methods_are_records() -> None:
    assert set(METHODS) == {"dqfl", "qfl", "classical", "centralized"}
    assert method("dqfl").uplink == "superposition"
    assert method("qfl").uplink == method("classical").uplink == "vanilla"
    assert method("classical").one_block and not method("classical").plans_depth
    assert not method("centralized").federated
    assert tiny("federation.method=classical").federation.learning_rate() == 0.005
    assert len(common.payload_bits(tiny("federation.method=classical"), nn.Linear(4, 2))) == 1


def test_results_folder_atomic_and_summary(tmp_path) -> None:
    cfg = tiny()
    rec = RunRecorder(cfg, tmp_path / "run")
    assert (tmp_path / "run" / "config.toml").read_text() == cfg.to_toml()
    assert not is_done(tmp_path / "run")
    for r in (1, 2):
        rec.add_round(
            RoundRecord(
                round=r,
                top1=[0.1 * r, 0.2 * r],
                fleet_top1=0.2,
                fleet_top1_delivered=0.3,
                lr=0.05,
                train_loss=float("nan"),
                wall_s=1.0,
                vehicles=[0, 1],
                delivered_depths=[0, 2],
                bits_sent=10,
                energy_j=0.5,
                rejected=r - 1,
                timeouts=1,
            )
        )
    rec.save_model({"blocks.0.w": torch.ones(2)})
    summary = rec.finish({"extra": 1})
    assert is_done(tmp_path / "run")
    lines = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    assert [json.loads(x)["round"] for x in lines] == [1, 2]
    assert json.loads(lines[0])["train_loss"] is None  # NaN never reaches JSON
    assert RoundRecord.from_row(json.loads(lines[1])).rejected == 1
    assert summary["top1"] == pytest.approx([0.2, 0.4]) and summary["total_rejected"] == 1
    assert summary["total_timeouts"] == 2 and summary["extra"] == 1
    assert summary["mean_delivered_depth"] == 1.0 and summary["outage_rate"] == 0.5
    assert summarise(cfg, [])["rounds"] == 0
    saved = torch.load(tmp_path / "run" / "model.pt")
    assert json.loads(saved["config"])["seed"] == cfg.seed
    assert torch.equal(saved["state_dict"]["blocks.0.w"], torch.ones(2))
    atomic_write_text(tmp_path / "x.txt", "hello")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# -- the vehicle, obeying its instruction --------------------------------------------------------
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


def instruction(cfg: RunConfig, **values) -> Instruction:
    base = {
        "vehicle": 0,
        "round": 1,
        "train_depth": 0,
        "lr": cfg.federation.learning_rate(),
        "prox_mu": cfg.federation.vehicle_prox_mu(),
        "local": cfg.federation.local_patterns(),
        "seed": 1,
    }
    base.update(values)
    return Instruction(**base)


@pytest.fixture()
def norm_net(monkeypatch):
    monkeypatch.setattr(
        common,
        "build",
        lambda cfg, seed=None, placed=False: NormNet(common.n_inputs(cfg), common.n_classes(cfg)),
    )
    monkeypatch.setattr(vehicle, "_TEMPLATES", {})
    return NormNet


def test_the_kept_model_loads_a_state_as_load_state_dict_does(monkeypatch) -> None:
    """One batched copy into the kept model: the same values as ``load_state_dict``, the
    parameters still leaves that train, and the same refusal of a state that does not fit."""
    monkeypatch.setattr(vehicle, "_TEMPLATES", {})
    monkeypatch.setattr(vehicle, "_SLOTS", {})
    cfg = tiny()
    state = {k: v + 0.5 for k, v in common.build(cfg, seed=3).state_dict().items()}
    model = vehicle.model_for(cfg, state)
    assert vehicle._SLOTS[id(model)][1]  # the batched path was taken
    reference = common.build(cfg)
    reference.load_state_dict(state)
    theirs = reference.state_dict()
    assert list(model.state_dict()) == list(theirs)
    for key, ours in model.state_dict().items():
        assert torch.equal(ours, theirs[key]), key
    assert all(p.is_leaf and p.requires_grad and p.grad is None for p in model.parameters())
    state["blocks.0.u3"] = torch.zeros(5)  # wrong shape: load_state_dict's own error
    with pytest.raises(RuntimeError, match="size mismatch"):
        vehicle.model_for(cfg, state)
    with pytest.raises(RuntimeError, match="Missing key"):
        vehicle.model_for(cfg, {k: v for k, v in state.items() if k != "blocks.0.u3"})


def test_modules_with_their_own_loading_rules_load_through_torch(norm_net) -> None:
    cfg = tiny()
    state = {k: v + 1 for k, v in norm_net(common.n_inputs(cfg), common.n_classes(cfg))
             .state_dict().items()}  # fmt: skip
    model = vehicle.model_for(cfg, state)
    assert vehicle._SLOTS[id(model)][1] == {}  # BatchNorm has its own _load_from_state_dict
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


def test_partitions_are_cached_up_to_a_byte_budget(monkeypatch) -> None:
    """A process keeps partitions until their bytes exceed the budget, then starts afresh (a
    Ray actor meets every vehicle of a large fleet each round: a count cap emptied the cache
    every round)."""
    cfg = tiny()
    x, y = common.partition(cfg, 0)
    one = x.element_size() * x.nelement() + y.element_size() * y.nelement()
    monkeypatch.setattr(common, "_PARTITIONS", {})
    monkeypatch.setattr(common, "_cached_bytes", 0)
    monkeypatch.setattr(common, "_MAX_CACHED_BYTES", 2 * one)
    first = common.partition(cfg, 0)
    assert torch.equal(first[0], x) and torch.equal(first[1], y)
    assert common.partition(cfg, 1) is common.partition(cfg, 1)
    assert common.partition(cfg, 0) is first  # two fit
    third = common.partition(cfg, 2)  # the third does not: the cache starts afresh
    assert common.partition(cfg, 2) is third and common._cached_bytes == one
    again = common.partition(cfg, 0)
    assert again is not first and torch.equal(again[0], x)


def test_instruction_round_trips_through_a_flat_record() -> None:
    ins = instruction(tiny("federation.strategy=fedprox+fedbn"), fault="byzantine", attack="nan")
    assert ins.local == (".norm.",) and ins.prox_mu == 0.01
    assert Instruction.from_config(ins.to_config()) == ins


def test_fedbn_norms_never_leave_the_vehicle(norm_net) -> None:
    cfg = tiny("federation.strategy=fedbn")
    torch.manual_seed(0)
    state = norm_net(common.n_inputs(cfg), common.n_classes(cfg)).state_dict()
    result = vehicle.train_vehicle(cfg, instruction(cfg), state)
    assert set(result.update) == {k for k in state if ".norm." not in k}
    assert result.kept and all(".norm." in k for k in result.kept)
    assert result.num_examples == cfg.data.samples_per_vehicle
    # next round: the vehicle's own running statistics come back, not the server's
    again = vehicle.train_vehicle(cfg, instruction(cfg), state, result.kept)
    assert int(again.kept["blocks.0.norm.num_batches_tracked"]) > int(
        result.kept["blocks.0.norm.num_batches_tracked"]
    )


def test_fedavg_sends_everything_and_planned_depth_cuts(norm_net) -> None:
    cfg = tiny("federation.plan_depth=true")
    state = norm_net(common.n_inputs(cfg), common.n_classes(cfg)).state_dict()
    full = vehicle.train_vehicle(cfg, instruction(cfg), state).update
    assert set(full) == set(state)
    cut = vehicle.train_vehicle(cfg, instruction(cfg, train_depth=1), state).update
    assert {k.split(".")[1] for k in cut} == {"0"}


def test_fedprox_pulls_the_update_towards_the_global_model() -> None:
    cfg = tiny("federation.strategy=fedprox", "federation.local_epochs=3", "federation.lr=0.1")
    state = common.build(cfg).state_dict()

    def distance(mu: float) -> float:
        sent = vehicle.train_vehicle(cfg, instruction(cfg, prox_mu=mu), state).update
        return sum(float(((sent[k] - state[k]) ** 2).sum()) for k in sent) ** 0.5

    free, prox = distance(0.0), distance(50.0)
    assert prox < 0.9 * free


def test_the_vehicle_obeys_its_step_size() -> None:
    """The server decides the learning rate: a zero-ish step leaves the model where it was."""
    cfg = tiny()
    state = common.build(cfg).state_dict()
    tiny_step = vehicle.train_vehicle(cfg, instruction(cfg, lr=1e-9), state).update
    big_step = vehicle.train_vehicle(cfg, instruction(cfg, lr=0.1), state).update

    def moved(sent):
        return max(float((sent[k] - state[k]).abs().max()) for k in sent)

    assert moved(tiny_step) < 1e-6 < moved(big_step)


def test_injected_faults_inside_the_vehicle() -> None:
    from dqfl.federation.faults import VehicleCrash

    cfg = tiny()
    state = common.build(cfg).state_dict()
    with pytest.raises(VehicleCrash):
        vehicle.train_vehicle(cfg, instruction(cfg, fault="crash"), state)
    honest = vehicle.train_vehicle(cfg, instruction(cfg), state).update
    flipped = vehicle.train_vehicle(
        cfg, instruction(cfg, fault="byzantine", attack="sign_flip", attack_scale=2.0), state
    ).update
    for k in honest:
        assert torch.allclose(flipped[k] - state[k], -2.0 * (honest[k] - state[k]), atol=1e-6)
    nan = vehicle.train_vehicle(
        cfg, instruction(cfg, fault="byzantine", attack="nan", attack_scale=1.0), state
    ).update
    assert all(torch.isnan(v).all() for v in nan.values())


def test_auto_cpus_per_actor_doubles_actors_only_for_many_vehicles(monkeypatch, tmp_path) -> None:
    from dqfl.federation.harness import MANY_VEHICLES_PER_CORE, backend_config, cpus_per_actor

    few = load_config(None, [])  # 10 vehicles: one actor per core
    many = load_config(None, [f"data.n_vehicles={MANY_VEHICLES_PER_CORE * 2}"])
    sampled = load_config(
        None, [f"data.n_vehicles={MANY_VEHICLES_PER_CORE * 2}", "federation.fraction=0.4"]
    )
    asked = load_config(None, ["data.n_vehicles=5000", "federation.num_cpus_per_client=2"])
    assert few.federation.num_cpus_per_client == 0  # auto is the default
    assert cpus_per_actor(few, 2) == 1.0
    assert cpus_per_actor(many, 2) == 0.5 and cpus_per_actor(many, 4) == 1.0
    assert cpus_per_actor(sampled, 2) == 1.0  # what a round sends counts, not the fleet
    assert cpus_per_actor(asked, 2) == 2.0  # an explicit value is kept
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    conf = backend_config([(few, tmp_path), (many, tmp_path)])
    assert conf["client_resources"]["num_cpus"] == 1.0  # the most any point asks for
    assert backend_config([(many, tmp_path)])["client_resources"]["num_cpus"] == 0.5
    with pytest.raises(DqflError, match="num_cpus_per_client must be >= 0"):
        load_config(None, ["federation.num_cpus_per_client=-1"])


def test_engine_start_hands_the_preload_and_thread_limit_to_ray_for_its_start_only(
    monkeypatch, tmp_path
) -> None:
    """start_engine puts the workers' preload list and the actors' thread limit into the
    environment Ray's processes inherit, only while ray.init runs; a user's own limit wins."""
    import ray

    from dqfl.federation import harness

    seen: list[dict[str, str | None]] = []
    names = (harness.PRELOAD_VARIABLE, harness.THREADS_VARIABLE)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **_: seen.append({n: os.getenv(n) for n in names}))
    for name in names:
        monkeypatch.delenv(name, raising=False)
    points = [(load_config(None, []), tmp_path)]
    harness.start_engine(points, ("clients.client_app", "dqfl.federation.worker_start"))
    assert seen[-1] == {
        harness.PRELOAD_VARIABLE: "clients.client_app,dqfl.federation.worker_start",
        harness.THREADS_VARIABLE: "1",
    }
    assert all(name not in os.environ for name in names)  # restored after the start
    monkeypatch.setenv(harness.THREADS_VARIABLE, "3")
    harness.start_engine(points, ("clients.client_app",))
    assert seen[-1][harness.THREADS_VARIABLE] == "3" and os.environ[harness.THREADS_VARIABLE] == "3"
    harness.start_engine(points)  # no preload: the environment is left as it was
    assert seen[-1] == {harness.PRELOAD_VARIABLE: None, harness.THREADS_VARIABLE: "3"}
