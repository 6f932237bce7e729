"""Vehicles on a straight multi-lane road and their distance to the roadside unit.

Positions are a closed-form function of the round (x0 + v * round * round_s, folded back onto the
road), so round r never depends on which earlier rounds were simulated. Boundary rules:
``wrap`` - a vehicle leaving one end re-enters at the other (a ring road: constant density, and the
uniform initial placement stays uniform); ``bounce`` - a vehicle U-turns at the ends (also keeps
the uniform distribution).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqfl.channel.config import ChannelConfig
from dqfl.channel.snapshot import Mobility, Snapshot

STREAM_MOBILITY = 1  # rng stream id for the initial placement


@dataclass(frozen=True)
class Fleet:
    """Initial state of each vehicle (arrays of shape (n_vehicles,))."""

    x0_m: np.ndarray  # position along the road at round 0
    lane: np.ndarray  # lane index 0..n_lanes-1
    speed_mps: np.ndarray  # constant speed (>= 0); direction follows the lane


def place_fleet(cfg: ChannelConfig, n_vehicles: int, seed: int) -> Fleet:
    """Uniform positions, uniform lanes, uniform speeds; prefix-stable in n_vehicles."""
    rng = np.random.default_rng([seed, STREAM_MOBILITY])
    draws = rng.random((n_vehicles, 3))  # one row per vehicle: vehicle v's row never moves
    x0 = draws[:, 0] * cfg.road_length_m
    lane = np.minimum((draws[:, 1] * cfg.n_lanes).astype(int), cfg.n_lanes - 1)
    speed = cfg.speed_min_mps + draws[:, 2] * (cfg.speed_max_mps - cfg.speed_min_mps)
    return Fleet(x0_m=x0, lane=lane, speed_mps=speed)


def positions_m(cfg: ChannelConfig, fleet: Fleet, round_idx: int) -> np.ndarray:
    """Position along the road at ``round_idx`` (even lanes drive +x, odd lanes -x)."""
    direction = np.where(fleet.lane % 2 == 0, 1.0, -1.0)
    raw = fleet.x0_m + direction * fleet.speed_mps * (round_idx * cfg.round_s)
    length = cfg.road_length_m
    if cfg.boundary == "wrap":
        return np.mod(raw, length)
    folded = np.mod(raw, 2 * length)  # bounce: triangle wave
    return np.where(folded <= length, folded, 2 * length - folded)


def lateral_m(cfg: ChannelConfig, lane: np.ndarray) -> np.ndarray:
    """Perpendicular distance from the RSU to the lane's centre line."""
    return cfg.rsu_offset_m + lane * cfg.lane_width_m


def distances_m(cfg: ChannelConfig, fleet: Fleet, round_idx: int) -> np.ndarray:
    """Euclidean distance from each vehicle to the RSU at ``round_idx``."""
    along = positions_m(cfg, fleet, round_idx) - cfg.rsu_position_m
    return np.hypot(along, lateral_m(cfg, fleet.lane))


def stationary_distances(cfg: ChannelConfig, n_points: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature (distances, weights) for a vehicle's distance under the stationary law.

    Both boundary rules keep positions uniform along the road and lanes uniform, so this is
    the long-run distribution the power-split optimiser averages over (independent of seed).
    """
    x = (np.arange(n_points) + 0.5) / n_points * cfg.road_length_m  # midpoint rule
    lanes = np.arange(cfg.n_lanes)
    d = np.hypot(x[None, :] - cfg.rsu_position_m, lateral_m(cfg, lanes)[:, None]).ravel()
    w = np.full(d.shape, 1.0 / d.size)
    return d, w


class RoadMobility:
    """The built-in straight road: x along it, y across (lane centre lines), RSU at y < 0."""

    name = "road"

    def __init__(self, cfg: ChannelConfig, n_vehicles: int, seed: int) -> None:
        self.cfg = cfg
        self.fleet = place_fleet(cfg, n_vehicles, seed)
        self.rsu_xy = np.array([cfg.rsu_position_m, -cfg.rsu_offset_m])
        self.buildings: np.ndarray | None = None  # (k, 4) boxes x0, y0, x1, y1 that block LOS
        self.bounds = (0.0, 0.0, cfg.road_length_m, (cfg.n_lanes - 1) * cfg.lane_width_m)

    def positions(self, round_idx: int) -> Snapshot:
        """Closed form in the round: no history, no process."""
        x = positions_m(self.cfg, self.fleet, round_idx)
        y = self.fleet.lane * self.cfg.lane_width_m
        on = np.ones(len(x), dtype=bool)
        return Snapshot(np.column_stack([x, y]), self.fleet.speed_mps.copy(), on)

    def roads(self) -> list[np.ndarray]:
        """Lane centre lines as polylines (for drawing the scenario)."""
        length = self.cfg.road_length_m
        return [
            np.array([[0.0, lane * self.cfg.lane_width_m], [length, lane * self.cfg.lane_width_m]])
            for lane in range(self.cfg.n_lanes)
        ]


def make_mobility(
    cfg: ChannelConfig, n_vehicles: int, seed: int, rounds: int | None = None
) -> Mobility:
    """The configured mobility model; SUMO trajectories are precomputed for ``rounds`` rounds."""
    if cfg.mobility == "road":
        return RoadMobility(cfg, n_vehicles, seed)
    from dqfl.channel.sumo import SumoMobility

    return SumoMobility(cfg, n_vehicles, seed, rounds=rounds)


def prepare_mobility(cfg: ChannelConfig, n_vehicles: int, seed: int, rounds: int) -> None:
    """Build (and cache) a run's trajectories up front, so a broken scenario stops the run
    before any training; the built-in road needs nothing."""
    if cfg.mobility != "road":
        make_mobility(cfg, n_vehicles, seed, rounds=rounds)
