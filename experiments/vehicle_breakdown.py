"""Where one vehicle's share of a round goes: every stage a message passes, timed in one process.

``bench_scale.py`` measures whole rounds under Flower's simulation engine; this script replays the
same path without Ray's scheduling, so each stage can be timed on its own: the strategy builds the
round's messages (the real ``ChannelAwareStrategy``), each message and its node's context are
pickled and unpickled as Ray moves them, the real ClientApp handles it (its parts timed inside:
unpacking the global model, the partition, the model, local training, quantisation, packing),
the reply travels back the same way, and the strategy concludes and evaluates the round. One CPU
thread; the first round is a warm-up (data, caches, compiled kernels). Ray's own per-task cost
(its floor, without Flower or dqfl) is not included: ``python experiments/vehicle_breakdown.py
--ray-floor`` measures it with an empty actor method.

    python experiments/vehicle_breakdown.py [--vehicles 200] [--rounds 2] [--ray-floor]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import pickle  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STAGES: dict[str, float] = {}
ORDER = (
    "vehicle: unpickle the task (Ray)",
    "vehicle: the ClientApp, in all",
    "  unpack the global model",
    "  the vehicle's partition",
    "  load the model",
    "  local training",
    "  quantise the update",
    "  pack the reply",
    "vehicle: pickle the reply (Ray)",
    "server: plan, build messages",
    "server: pickle the task (Ray)",
    "server: unpickle the reply (Ray)",
    "server: conclude the round",
    "  check each update",
    "  aggregate",
    "server: evaluate, record",
)


def _timed(owner: object, name: str, label: str) -> None:
    """Wrap ``owner.name`` so that its time adds up under ``label``."""
    inner = getattr(owner, name)

    @functools.wraps(inner)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            STAGES[label] = STAGES.get(label, 0.0) + time.perf_counter() - t0

    setattr(owner, name, wrapper)


def _add(label: str, t0: float) -> None:
    STAGES[label] = STAGES.get(label, 0.0) + time.perf_counter() - t0


def breakdown(n_vehicles: int, rounds: int) -> dict[str, float]:
    """ms per vehicle of every stage over ``rounds`` rounds after a warm-up round."""
    import torch

    torch.set_num_threads(1)
    from dqfl.federation import common

    common.avoid_llvm_clash()
    from flwr.app import Context, RecordDict
    from flwr.supercore.task_identity import TaskIdentity
    from ray import cloudpickle

    import clients.client_app as client_app
    import dqfl.federation.engine as engine
    import dqfl.federation.vehicle as vehicle
    import dqfl.federation.wire as wire
    import dqfl.training as training
    import server.strategy as strategy
    from dqfl.config import load_config

    TaskIdentity.run_id = TaskIdentity.node_id = TaskIdentity.task_id = 1  # as a ServerApp's
    cfg = load_config(
        None, [f"data.n_vehicles={n_vehicles}", "data.samples_per_vehicle=10", "output_dir=/tmp"]
    ).validate()
    nodes = {v: 1000 + v for v in range(n_vehicles)}
    server = strategy.ChannelAwareStrategy(cfg, nodes)
    contexts = {
        v: Context(
            run_id=1,
            node_id=node,
            node_config={"partition-id": v, "num-partitions": n_vehicles},
            state=RecordDict(),
            run_config={},
        )
        for v, node in nodes.items()
    }
    app = client_app.app
    vehicle_wire = types.SimpleNamespace(**vars(wire))  # the ClientApp's own, timed alone
    client_app.wire = vehicle_wire
    parts = {
        "  unpack the global model": (vehicle_wire, "from_record"),
        "  the vehicle's partition": (common, "partition"),
        "  load the model": (vehicle, "model_for"),
        "  local training": (training, "train_local"),
        "  quantise the update": (vehicle, "quantize_upload"),
        "  pack the reply": (vehicle_wire, "to_record"),
        "  check each update": (engine.RoundEngine, "_check"),
        "  aggregate": (engine, "aggregate_blocks"),
    }

    def one_round(rnd: int) -> None:
        t0 = time.perf_counter()
        messages = server.configure_train(rnd, None, None, object())
        _add("server: plan, build messages", t0)
        replies = []
        for i, msg in enumerate(messages):
            msg.metadata.__dict__["_message_id"] = f"{rnd}-{i}"  # what the link state assigns
            v = server.node_to_vehicle[msg.metadata.dst_node_id]
            t0 = time.perf_counter()
            blob = cloudpickle.dumps((msg, str(v), contexts[v]))
            _add("server: pickle the task (Ray)", t0)
            t0 = time.perf_counter()
            msg, cid, ctx = pickle.loads(blob)
            _add("vehicle: unpickle the task (Ray)", t0)
            t0 = time.perf_counter()
            out = app(message=msg, context=ctx)
            _add("vehicle: the ClientApp, in all", t0)
            t0 = time.perf_counter()
            blob = cloudpickle.dumps((cid, out, ctx))
            _add("vehicle: pickle the reply (Ray)", t0)
            t0 = time.perf_counter()
            _, reply, contexts[v] = pickle.loads(blob)
            _add("server: unpickle the reply (Ray)", t0)
            replies.append(reply)
        t0 = time.perf_counter()
        server.aggregate_train(rnd, replies)
        _add("server: conclude the round", t0)
        t0 = time.perf_counter()
        server.evaluate_global(rnd, None)
        _add("server: evaluate, record", t0)

    one_round(1)  # warm-up: data, caches, compiled kernels
    for label, (owner, name) in parts.items():
        _timed(owner, name, label)
    STAGES.clear()
    for rnd in range(2, 2 + rounds):
        one_round(rnd)
    return {k: 1000 * v / (rounds * n_vehicles) for k, v in STAGES.items()}


def ray_floor(n_tasks: int = 2000) -> tuple[float, float]:
    """(actor, driver) CPU ms per task of an empty Ray actor method called like Flower's
    backend calls it: two actors, one calling thread each, an 8 kB payload each way."""
    from concurrent.futures import ThreadPoolExecutor

    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)

    @ray.remote(num_cpus=1)
    class Echo:
        def run(self, payload, cid, context):
            return cid, payload, context

        def cpu_s(self) -> float:
            t = os.times()
            return t.user + t.system

    actors = [Echo.remote(), Echo.remote()]
    payload, context = os.urandom(8000), {"node_config": {"partition-id": 1}}
    ray.get([a.run.remote(payload, "1", context) for a in actors])

    def calls(actor) -> None:
        for _ in range(n_tasks // len(actors)):
            ray.get(actor.run.remote(payload, "1", context))

    actor0, driver0 = sum(ray.get([a.cpu_s.remote() for a in actors])), time.process_time()
    with ThreadPoolExecutor(len(actors)) as pool:
        list(pool.map(calls, actors))
    actor1, driver1 = sum(ray.get([a.cpu_s.remote() for a in actors])), time.process_time()
    ray.shutdown()
    return 1000 * (actor1 - actor0) / n_tasks, 1000 * (driver1 - driver0) / n_tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ray-floor", action="store_true", help="Ray's empty-task cost")
    args = parser.parse_args(argv)
    if args.vehicles < 1 or args.rounds < 1:
        print("error: --vehicles and --rounds must be >= 1", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    if args.ray_floor:
        actor, driver = ray_floor()
        print(f"Ray's empty task: {actor:.2f} ms actor CPU, {driver:.2f} ms driver CPU")
        return 0
    stages = breakdown(args.vehicles, args.rounds)
    print(f"ms per vehicle, {args.vehicles} vehicles, {args.rounds} round(s) after a warm-up "
          f"(1-minute load {load:.1f} -> {os.getloadavg()[0]:.1f}):")  # fmt: skip
    for label in ORDER:
        print(f"  {label:36s} {stages.get(label, 0.0):7.2f}")
    vehicle = sum(v for k, v in stages.items() if k.startswith("vehicle"))
    server = sum(v for k, v in stages.items() if k.startswith("server"))
    print(f"  {'vehicle, in all':36s} {vehicle:7.2f}\n  {'server, in all':36s} {server:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
