"""Start-up of `dqfl run` / `dqfl sweep`: the checks and Flower's engine come up side by side.

The checks (:func:`dqfl.cli.preflight.check_points`: torch, the model, the compiled kernels) and
the imports of the Flower apps take a few seconds of one core; Ray's start (its own processes:
GCS, raylet, agents) takes a few more, mostly on the other core and in waiting. Run one after the
other they were ~9 s of every `make run`'s ~40 s; side by side they cost about the longer of the
two. Ray must start on the main thread, so the checks run on a worker thread. Should a check fail,
Ray is shut down again and the check's error is raised as before: nothing has been written.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from dqfl.config import RunConfig

Point = tuple[RunConfig, Path]


def check_and_start(points: Sequence[Point], label_points: bool = False) -> int:
    """:func:`~dqfl.cli.preflight.check_points` (its return value) while Flower's engine starts
    for the points that will need it (none: just the checks)."""
    from dqfl.cli.preflight import check_points
    from dqfl.federation.harness import pending_federated, start_engine, stop_engine

    if not pending_federated(points):
        return check_points(points, label_points)
    outcome: dict[str, object] = {}

    def checks() -> None:
        try:
            outcome["finished"] = check_points(points, label_points)
            from dqfl.cli.apps import flower_apps

            flower_apps()  # the apps' imports (flwr, the ClientApp) while Ray comes up
        except BaseException as exc:  # handed to the main thread below
            outcome["error"] = exc

    worker = threading.Thread(target=checks, name="dqfl-checks", daemon=True)
    worker.start()
    try:
        start_engine(points)
    finally:
        worker.join()
        if "error" in outcome:
            stop_engine()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return int(outcome["finished"])  # type: ignore[call-overload]
