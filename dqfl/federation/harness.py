"""Run points (RunConfig, results folder) the way the CLI needs: resumable, one engine start.

Finished points (``summary.json`` present) are skipped; ``centralized`` points run in-process; all
federated points run inside ONE ``flwr.simulation.run_simulation`` call whose ServerApp walks the
list. The Flower apps are handed in as :class:`Apps` by the top floor (``dqfl.cli.apps``): nothing
in this library imports ``clients/`` or ``server/``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dqfl.config import RunConfig
from dqfl.errors import DqflError
from dqfl.federation.common import emit as _emit
from dqfl.federation.common import point_event
from dqfl.federation.flower_dispatch import linear_dispatch
from dqfl.federation.methods import method
from dqfl.federation.results import reusable_summary

Progress = Callable[[dict[str, Any]], None]
Point = tuple[RunConfig, Path]


@dataclass(frozen=True)
class Apps:
    """The Flower apps a federated point runs on (wired by the CLI, the top floor)."""

    client_app: Any  # flwr.clientapp.ClientApp
    make_server_app: Callable[..., Any]  # (points, progress, sink) -> flwr.serverapp.ServerApp
    #: Modules Ray's worker processes import as they start, before any actor is placed on them
    #: (see :func:`start_engine`): the ClientApp's module and what its first message needs.
    preload: tuple[str, ...] = ()


# Vehicles per round and core from which "auto" puts two actors on each core (see cpus_per_actor).
MANY_VEHICLES_PER_CORE = 50


def cpus_per_actor(cfg: RunConfig, cpus: int) -> float:
    """CPUs per Ray actor: ``federation.num_cpus_per_client``, or when that is 0 (auto) one actor
    per core, and two per core once a round sends at least ``MANY_VEHICLES_PER_CORE`` vehicles
    per core.

    Why two: Flower's simulation engine gives each actor one message at a time and hands it the
    next only after the driver has taken in its reply, so an actor idles for the driver's share
    of every vehicle (a few ms). With many small vehicles that is a large part of the round (1000
    vehicles of 10 crops: about a fifth); a second actor on the core trains meanwhile. With few
    vehicles the gap is negligible and every extra actor only adds start-up time and memory.
    """
    asked = float(cfg.federation.num_cpus_per_client)
    if asked > 0:
        return asked
    per_round = cfg.data.n_vehicles * cfg.federation.fraction
    return 0.5 if per_round >= MANY_VEHICLES_PER_CORE * cpus else 1.0


def backend_config(points: Sequence[Point]) -> dict[str, Any]:
    """Ray resources that fit the machine: :func:`cpus_per_actor` CPUs per vehicle actor (the
    most any point asks for), and when a point trains on CUDA an equal share of the GPUs for
    every actor that can run at once (Ray then shows each actor its GPU as ``cuda:0``); quiet
    logs."""
    cpus = os.cpu_count() or 1
    per_client = max(cpus_per_actor(cfg, cpus) for cfg, _ in points)
    gpus = _gpus_wanted(points)
    concurrent = max(1, int(cpus // per_client))
    return {
        "client_resources": {
            "num_cpus": float(per_client),
            "num_gpus": min(1.0, gpus / concurrent) if gpus else 0.0,
        },
        "init_args": {
            "num_cpus": cpus,
            "num_gpus": gpus,
            "logging_level": logging.ERROR,
            "log_to_driver": False,
            "include_dashboard": False,
            "object_store_memory": 256 * 1024**2,
        },
    }


#: Ray's setting (read from the environment when Ray starts) for modules its Python workers
#: import before they accept work.
PRELOAD_VARIABLE = "RAY_preload_python_modules"
#: Ray limits an actor's OpenMP/BLAS threads to its CPUs only once the actor is placed on a
#: worker, too late for libraries a preload already started: without it, each vehicle actor
#: kept a second thread spinning beside its kernels (rounds 4-5x slower on 2 cores). With a
#: preload the limit goes into the workers' environment from the start (a user's own value wins).
THREADS_VARIABLE = "OMP_NUM_THREADS"


def start_engine(points: Sequence[Point], preload: Sequence[str] = ()) -> None:
    """Start Ray with the init arguments Flower's simulation engine would use; Flower then finds
    it running, uses it and shuts it down as usual (``RayBackend.init_ray`` starts Ray only if it
    is not running).

    Two differences from Flower's own start, both for the seconds before the first round:

    * the driver's ``sys.path`` reaches the workers as the inherited ``PYTHONPATH`` variable
      instead of a job runtime environment. With a runtime environment Ray cannot hand an actor
      one of the workers it starts ahead of time (those have none), so each vehicle actor waited
      for a fresh worker process (two actors on 2 cores: ready 1.5 s after asking, against 0.1 s
      on a started worker; `make run` about 1 s shorter);
    * the workers Ray starts ahead of time import ``preload`` (torch, Flower, the ClientApp)
      while Ray and the driver are still starting, instead of when the first vehicle's message
      arrives (Ray's ``preload_python_modules`` setting, given as an environment variable for
      this start only).
    """
    import sys

    _engine_env()
    import ray

    if ray.is_initialized():
        return
    paths = [*sys.path, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    config = backend_config(points)
    workers = {PRELOAD_VARIABLE: ",".join(preload)} if preload else {}
    if preload and THREADS_VARIABLE not in os.environ:
        workers[THREADS_VARIABLE] = str(max(1, int(config["client_resources"]["num_cpus"])))
    before = {name: os.environ.get(name) for name in workers}
    os.environ.update(workers)  # Ray's services and workers inherit the driver's environment
    try:
        ray.init(**config["init_args"])
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _stop_engine() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def _engine_env() -> None:
    """Environment Flower's engine and Ray must see before they start: quiet, no telemetry."""
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")


def _gpus_wanted(points: Sequence[Point]) -> int:
    """The machine's CUDA devices if any point's model trains on one, else 0."""
    from dqfl.federation.common import torch_device

    if not any(torch_device(cfg).type == "cuda" for cfg, _ in points):
        return 0
    import torch

    return torch.cuda.device_count()


def run_points(
    points: Sequence[Point], progress: Progress | None = None, apps: Apps | None = None
) -> list[dict[str, Any]]:
    """Run every unfinished point; return all summaries in the order of ``points``."""
    points = [(cfg.validate(), Path(out)) for cfg, out in points]
    n = len(points)
    # Before any work: finished results of another configuration are refused, never reused.
    finished = {i: s for i, (cfg, out) in enumerate(points) if (s := reusable_summary(cfg, out))}
    summaries: dict[int, dict[str, Any]] = {}
    federated: list[tuple[int, Point]] = []
    for i, (cfg, out) in enumerate(points):
        if i in finished:
            summaries[i] = finished[i]
            _emit(progress, point_event("point_skipped", i, n, cfg, out, summary=summaries[i]))
        elif not method(cfg.federation.method).federated:
            from dqfl.federation.centralized import run_centralized
            from dqfl.federation.common import avoid_llvm_clash

            avoid_llvm_clash()

            rounds = cfg.federation.rounds
            _emit(progress, point_event("point_start", i, n, cfg, out, rounds=rounds))
            summaries[i] = run_centralized(cfg, out, progress, i, n)
            _emit(progress, point_event("point_done", i, n, cfg, out, summary=summaries[i]))
        else:
            federated.append((i, (cfg, out)))
    if federated:
        if apps is None:
            raise DqflError("federated points need the Flower apps (run them through dqfl.cli)")
        from dqfl.channel.mobility import prepare_mobility

        for _, (cfg, _) in federated:  # SUMO scenarios fail here, before any training
            prepare_mobility(cfg.channel, cfg.data.n_vehicles, cfg.seed, cfg.federation.rounds + 1)
        index = [i for i, _ in federated]

        def relabel(event: dict[str, Any]) -> None:
            if "point" in event:  # the ServerApp counts its own sub-list
                event = {**event, "point": index[event["point"]], "n_points": n}
            _emit(progress, event)

        done = simulate([p for _, p in federated], apps, relabel)
        for i, summary in zip(index, done, strict=True):
            summaries[i] = summary
    return [summaries[i] for i in range(n)]


def simulate(
    points: Sequence[Point], apps: Apps, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """All ``points`` inside one start of Flower's simulation engine (Ray)."""
    from dqfl.federation.common import avoid_llvm_clash

    avoid_llvm_clash()
    from flwr.simulation import run_simulation

    sink: list[dict[str, Any]] = []
    server_app = apps.make_server_app(points, progress, sink)
    n_nodes = max(cfg.data.n_vehicles for cfg, _ in points)
    quiet = _quiet_flower()
    try:
        start_engine(points, apps.preload)
        with linear_dispatch():  # Flower's own extractor is O(nodes x messages) per sweep
            run_simulation(
                server_app=server_app,
                client_app=apps.client_app,
                num_supernodes=n_nodes,
                backend_config=backend_config(points),
            )
    finally:
        quiet()
        _stop_engine()  # Flower stops it at the end of a run; not when the run failed early
    if len(sink) != len(points):
        raise RuntimeError(f"simulation finished {len(sink)} of {len(points)} points")
    return sink


def _quiet_flower() -> Callable[[], None]:
    """Silence Flower's per-round INFO chatter (our progress events replace it)."""
    import warnings

    logger = logging.getLogger("flwr")
    level = logger.level
    logger.setLevel(logging.ERROR)
    injected = _InjectedFaults()
    logger.addFilter(injected)
    _engine_env()
    catcher = warnings.catch_warnings()
    catcher.__enter__()
    warnings.simplefilter("ignore", DeprecationWarning)

    def restore() -> None:
        logger.setLevel(level)
        logger.removeFilter(injected)
        catcher.__exit__(None, None, None)

    return restore


class _InjectedFaults(logging.Filter):
    """Drop Flower's tracebacks of crashes a user injected (``[faults]``): the engine counts
    them and the progress line shows them; real errors still get through."""

    HEADER = "An exception was raised when processing a message"

    def __init__(self) -> None:
        super().__init__()
        self._header: logging.LogRecord | None = None
        self._releasing = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self._releasing:
            return True
        text = record.getMessage()
        if "injected fault" in text:
            self._header = None
            return False
        if text.startswith(self.HEADER):
            self._header = record  # decided by the traceback record that follows it
            return False
        if self._header is not None:
            header, self._header = self._header, None
            self._releasing = True
            try:
                logging.getLogger("flwr").handle(header)
            finally:
                self._releasing = False
        return True
