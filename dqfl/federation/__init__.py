"""The run harness the CLI calls: resumable points, one simulation-engine start per sweep.

Flower-free parts: :mod:`.common` (models, payloads, seeding, the fleet metric, data caches),
:mod:`.results` (atomic results folders), :mod:`.centralized`. Flower glue: :mod:`.harness`
together with ``clients/`` and ``server/``. Heavy imports stay inside functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dqfl.config import RunConfig


def run_points(
    points: Sequence[tuple[RunConfig, Path]],
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every point whose ``summary.json`` is missing; see :func:`.harness.run_points`."""
    from dqfl.federation.harness import run_points as _run_points

    return _run_points(points, progress)


def run_one(
    cfg: RunConfig, out_dir: Path, progress: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """One run into ``out_dir`` (a thin wrapper of :func:`run_points`)."""
    return run_points([(cfg, Path(out_dir))], progress)[0]


__all__ = ["run_one", "run_points"]
