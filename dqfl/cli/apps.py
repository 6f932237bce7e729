"""The top floor wires the Flower apps (``clients/``, ``server/``) to the library's harness.

Nothing else under ``dqfl/`` imports the apps; the commands, the benchmarks and the end-to-end
tests run points through :func:`run_points` here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dqfl.config import RunConfig
    from dqfl.federation.harness import Apps


def flower_apps() -> Apps:
    from clients.client_app import app as client_app
    from dqfl.federation.harness import Apps
    from server.server_app import make_server_app

    return Apps(
        client_app=client_app,
        make_server_app=make_server_app,
        preload=("clients.client_app", "dqfl.federation.worker_start"),
    )


def run_points(
    points: Sequence[tuple[RunConfig, Path]],
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every point whose ``summary.json`` is missing (see :func:`.harness.run_points`).

    The Flower apps are imported only when a point federates: the centralised baseline trains
    without Flower's engine, so it needs neither Flower nor Ray to be importable."""
    from dqfl.federation.harness import run_points as _run_points
    from dqfl.federation.methods import method

    federated = any(method(cfg.federation.method).federated for cfg, _ in points)
    return _run_points(points, progress, flower_apps() if federated else None)
