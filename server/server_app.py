"""The roadside unit as a Flower ServerApp.

``app`` serves ``flwr run .`` (one run built from ``[tool.flwr.app.config]`` dotted keys via
:func:`dqfl.config.from_flat`); :func:`make_server_app` binds a whole list of points and a progress
callback to one ServerApp, so a sweep runs inside a single start of the simulation engine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.serverapp import Grid, ServerApp

from dqfl.config import RunConfig, from_flat
from dqfl.federation import common
from dqfl.federation.results import RunRecorder, is_done, read_summary, reusable_summary
from server.strategy import ChannelAwareStrategy, Progress

log = logging.getLogger("dqfl.federation")
common.avoid_llvm_clash()

Point = tuple[RunConfig, Path]


def discover_vehicles(
    grid: Grid, n_wanted: int, known: dict[int, int] | None = None, wait_s: float = 60.0
) -> dict[int, int]:
    """Flower node id -> vehicle (partition) id, asked of the nodes themselves.

    Simulation assigns random node ids and deployment lets operators set ``partition-id``, so the
    server queries every new node once. Nodes that do not say are given the free partition ids
    in sorted node-id order. Waits (up to ``wait_s``) for ``n_wanted`` nodes to connect.
    """
    mapping = dict(known or {})
    deadline = time.monotonic() + wait_s
    while len(node_ids := sorted(grid.get_node_ids())) < n_wanted and time.monotonic() < deadline:
        time.sleep(1.0)
    if len(node_ids) < n_wanted:
        log.warning("only %d of %d vehicles connected; running with those", len(node_ids), n_wanted)
    new = [n for n in node_ids if n not in mapping]
    if new:
        ask = RecordDict({"config": ConfigRecord({"ask": "partition-id"})})
        messages = [
            Message(content=ask, message_type=MessageType.QUERY, dst_node_id=n) for n in new
        ]
        taken = set(mapping.values())
        for reply in grid.send_and_receive(messages, timeout=wait_s):
            if reply.has_error():
                continue
            pid = int(reply.content["metrics"]["partition-id"])
            if pid >= 0 and pid not in taken:
                mapping[reply.metadata.src_node_id] = pid
                taken.add(pid)
        free = (p for p in range(len(node_ids) + len(mapping)) if p not in taken)
        for node in new:
            if node not in mapping:
                mapping[node] = next(free)
    return mapping


def run_point(
    grid: Grid,
    cfg: RunConfig,
    out_dir: Path,
    vehicles: dict[int, int],
    progress: Progress | None = None,
    point: int = 0,
    n_points: int = 1,
    engine: str = "flower",
) -> dict[str, Any]:
    """One federated run on ``grid``; writes the results folder and returns the summary."""
    t0 = time.perf_counter()
    recorder = RunRecorder(cfg, out_dir)
    strategy = ChannelAwareStrategy(cfg, vehicles, recorder, progress, point, n_points)
    strategy.start(
        grid,
        strategy.initial_arrays(),
        num_rounds=cfg.federation.rounds,
        timeout=cfg.federation.client_timeout_s,
        train_config=ConfigRecord(),
        evaluate_fn=strategy.evaluate_global,
    )
    rounds = strategy.engine
    recorder.save_model(rounds.global_state)
    params = common.parameter_split(rounds.model)
    rounds.model.load_state_dict(rounds.global_state)
    return recorder.finish(
        {
            "initial_top1": rounds.initial_top1,
            "novel_top1": common.novel_top1(cfg, rounds.model),
            "wall_s": time.perf_counter() - t0,
            "parameters_quantum": params["quantum"],
            "parameters_classical": params["classical"],
            "block_bits": rounds.bits,
            "uplink_mode": rounds.method.uplink,
            "n_vehicles": cfg.data.n_vehicles,
            "vehicles_connected": len(vehicles),
            "fraction": cfg.federation.fraction,
            "plan_depth": cfg.federation.plan_depth,
            "engine": engine,
        }
    )


def run_points_on_grid(
    grid: Grid,
    points: Sequence[Point],
    progress: Progress | None = None,
    engine: str = "flower",
) -> list[dict[str, Any]]:
    """Run every point in turn on one grid (one engine start); finished points are skipped."""
    summaries: list[dict[str, Any]] = []
    mapping: dict[int, int] = {}
    n = len(points)
    for i, (cfg, out_dir) in enumerate(points):
        out_dir = Path(out_dir)
        if is_done(out_dir):
            summary = read_summary(out_dir)
            common.emit(
                progress, common.point_event("point_skipped", i, n, cfg, out_dir, summary=summary)
            )
            summaries.append(summary)
            continue
        rounds = cfg.federation.rounds
        common.emit(progress, common.point_event("point_start", i, n, cfg, out_dir, rounds=rounds))
        mapping = discover_vehicles(grid, cfg.data.n_vehicles, mapping)
        vehicles = {pid: nid for nid, pid in mapping.items() if pid < cfg.data.n_vehicles}
        summary = run_point(grid, cfg, out_dir, vehicles, progress, i, n, engine)
        common.emit(progress, common.point_event("point_done", i, n, cfg, out_dir, summary=summary))
        summaries.append(summary)
    return summaries


def make_server_app(
    points: Sequence[Point],
    progress: Progress | None = None,
    sink: list[dict[str, Any]] | None = None,
    engine: str = "flower-simulation",
) -> ServerApp:
    """A ServerApp that runs all ``points``; summaries are appended to ``sink``."""
    server_app = ServerApp()

    @server_app.main()
    def _main(grid: Grid, context: Context) -> None:
        summaries = run_points_on_grid(grid, points, progress, engine)
        if sink is not None:
            sink.extend(summaries)

    return server_app


def _log_progress(event: dict[str, Any]) -> None:
    if event["event"] == "round":
        top1 = ", ".join(f"{a:.3f}" for a in event["top1"])
        log.warning(
            "round %d/%d  top1 per exit [%s]  fleet %.3f  depths %s",
            event["round"],
            event["rounds"],
            top1,
            event["fleet_top1"],
            event["delivered_depths"],
        )
    elif event["event"] == "point_done":
        log.warning("run finished: %s", event["out_dir"])


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """``flwr run .``: one run from the app's run config (dotted keys such as federation.rounds)."""
    cfg = from_flat(dict(context.run_config))
    out = Path(cfg.output_dir) / cfg.run_name()
    reusable_summary(cfg, out)  # finished results of another configuration: refused, not reused
    run_points_on_grid(grid, [(cfg, out)], _log_progress, engine="flower-run")
