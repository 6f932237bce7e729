"""What every mobility model offers the uplink: where each vehicle is, round by round.

Two models implement :class:`Mobility`: the built-in straight road
(:class:`dqfl.channel.mobility.RoadMobility`) and SUMO traffic
(:class:`dqfl.channel.sumo.SumoMobility`); :func:`dqfl.channel.mobility.make_mobility` picks one
from ``channel.mobility``. The interface lives apart from both, so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Snapshot:
    """Where every vehicle is at one round (arrays of shape (n_vehicles,) or (n_vehicles, 2))."""

    xy_m: np.ndarray  # position in the scenario's plane (m)
    speed_mps: np.ndarray
    on_road: np.ndarray  # bool: False = not in the network this round (cannot upload)


class Mobility(Protocol):
    """A mobility model as the uplink and the scenario plot read it."""

    name: str
    rsu_xy: np.ndarray  # the roadside unit's position in the same plane (m)
    buildings: np.ndarray | None  # (k, 4) boxes x0, y0, x1, y1 that block line of sight
    bounds: tuple[float, float, float, float]  # the scenario's extent x0, y0, x1, y1 (m)

    def positions(self, round_idx: int) -> Snapshot: ...

    def roads(self) -> list[np.ndarray]: ...
