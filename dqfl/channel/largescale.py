"""Large-scale channel of every vehicle in a round: position -> condition -> mean SNR, in range.

The mean SNR (averaged over fast fading) is what the closed forms take as given, so every path
loss model ends here: ``log_distance`` (iid log-normal shadowing, as before) or TR 37.885's
``3gpp_highway`` / ``3gpp_urban`` (see :mod:`dqfl.channel.pathloss`). For the 3GPP models a
round draws each link's condition (LOS against NLOSv from the TR's probability; NLOS where the
scenario's buildings cut the RSU-vehicle segment), the NLOSv blockage loss, and spatially
correlated shadowing z_r = rho z_{r-1} + sqrt(1 - rho^2) e_r, rho = exp(-moved / d_corr), scaled
by the condition's standard deviation.
A vehicle not on the road, or farther than ``coverage_m`` from the RSU, is out of range: it
cannot upload this round (depth 0, no energy), which is recorded apart from failures.
Streams: ``default_rng([seed, round, stream])`` per purpose, one draw per vehicle, so vehicle v's
draws never depend on the fleet size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqfl.channel import pathloss as pl
from dqfl.channel.config import ChannelConfig
from dqfl.channel.snapshot import Mobility, Snapshot

STREAM_SHADOWING = 3
STREAM_LOS = 4
STREAM_BLOCKAGE = 5
STREAM_SHADOW_CORR = 6


@dataclass(frozen=True)
class LinkState:
    """One round's large-scale state of every vehicle's link to the RSU."""

    xy_m: np.ndarray  # (n, 2); NaN where the vehicle is not on the road
    speed_mps: np.ndarray
    distance_m: np.ndarray  # 2-D distance to the RSU (NaN off the road)
    in_range: np.ndarray  # bool: on the road and within coverage_m
    condition: np.ndarray  # pathloss.LOS / NLOSV / NLOS
    mean_snr_db: np.ndarray  # -inf where out of range


def segment_hits_boxes(a: np.ndarray, b: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """For segments a[i] -> b (one common end), whether each crosses any box (slab test)."""
    if boxes is None or len(boxes) == 0:
        return np.zeros(len(a), dtype=bool)
    d = b[None, :] - a  # (n, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d  # inf where the segment is parallel to an axis
        t1 = (boxes[None, :, 0:2] - a[:, None, :]) * inv[:, None, :]  # (n, k, 2)
        t2 = (boxes[None, :, 2:4] - a[:, None, :]) * inv[:, None, :]
    lo = np.fmin(t1, t2)
    hi = np.fmax(t1, t2)
    # parallel and outside the slab: 0 * inf = nan -> treat as no hit via comparisons below
    inside = (boxes[None, :, 0:2] <= a[:, None, :]) & (a[:, None, :] <= boxes[None, :, 2:4])
    lo = np.where(np.isnan(lo), np.where(inside, -np.inf, np.inf), lo)
    hi = np.where(np.isnan(hi), np.where(inside, np.inf, -np.inf), hi)
    enter = np.max(lo, axis=2)
    leave = np.min(hi, axis=2)
    hit = (enter <= leave) & (leave >= 0.0) & (enter <= 1.0)
    return hit.any(axis=1)


class LargeScale:
    """Path loss, condition and shadowing per round for a mobility model's vehicles."""

    def __init__(self, cfg: ChannelConfig, mobility: Mobility, n_vehicles: int, seed: int) -> None:
        self.cfg = cfg
        self.mobility = mobility
        self.n = int(n_vehicles)
        self.seed = int(seed)
        self.ref_loss_db = pl.reference_loss_db(cfg)
        self._state: tuple[int, np.ndarray, np.ndarray] | None = None  # round, z, xy

    def at(self, round_idx: int) -> LinkState:
        """The large-scale state of round ``round_idx`` (independent of call history)."""
        cfg = self.cfg
        snap, xy, d2, in_range, d_safe = self._geometry(round_idx)
        rsu = np.asarray(self.mobility.rsu_xy, dtype=float)
        condition = np.full(self.n, pl.LOS, dtype=np.int64)
        if cfg.pathloss == "log_distance":
            shadow = 0.0
            if cfg.shadowing_db > 0:
                rng = np.random.default_rng([self.seed, round_idx, STREAM_SHADOWING])
                shadow = cfg.shadowing_db * rng.standard_normal(self.n)
            mean = pl.mean_snr_db(cfg, d_safe, shadow)
        else:
            condition = self._conditions(round_idx, xy, d_safe, rsu, in_range)
            d3 = pl.distance_3d(cfg, d_safe)
            mu_a, sigma_a = pl.blockage_params(cfg, d3)
            z_b = np.random.default_rng([self.seed, round_idx, STREAM_BLOCKAGE]).standard_normal(
                self.n
            )
            blockage = pl.lognormal_db(mu_a, sigma_a, z_b) if sigma_a > 0 else np.zeros(self.n)
            loss = pl.condition_loss_db(cfg, d3, condition, blockage)
            std = np.asarray(pl.SHADOW_STD_DB[cfg.pathloss])[condition]
            z = self._shadow_z(round_idx)
            mean = cfg.snr_db + self.ref_loss_db - loss - std * z
        mean = np.where(in_range, mean, -np.inf)
        return LinkState(xy, snap.speed_mps, d2, in_range, condition, mean)

    def _geometry(self, r: int):
        """(snapshot, xy (NaN off the road), 2-D distance, in range, distance to compute with)."""
        snap: Snapshot = self.mobility.positions(r)
        rsu = np.asarray(self.mobility.rsu_xy, dtype=float)
        xy = np.where(snap.on_road[:, None], snap.xy_m, np.nan)
        d2 = np.hypot(xy[:, 0] - rsu[0], xy[:, 1] - rsu[1])
        in_range = snap.on_road & (np.nan_to_num(d2, nan=np.inf) <= self.cfg.coverage_m)
        return snap, xy, d2, in_range, np.where(in_range, d2, self.cfg.ref_distance_m)

    def _conditions(self, r, xy, d2, rsu, in_range) -> np.ndarray:
        """LOS/NLOSv by the TR's probability; NLOS where a building blocks (urban model)."""
        u = np.random.default_rng([self.seed, r, STREAM_LOS]).random(self.n)
        cond = np.where(u < pl.los_probability(self.cfg.pathloss, d2), pl.LOS, pl.NLOSV)
        boxes = getattr(self.mobility, "buildings", None)
        if self.cfg.pathloss == "3gpp_urban" and boxes is not None and len(boxes):
            a = np.where(in_range[:, None], xy, rsu[None, :])
            cond = np.where(segment_hits_boxes(a, rsu, boxes), pl.NLOS, cond)
        return cond.astype(np.int64)

    def _shadow_z(self, r: int) -> np.ndarray:
        """Unit-variance shadowing correlated over the distance each vehicle moved."""
        if self._state is None or self._state[0] > r:
            z0 = np.random.default_rng([self.seed, 0, STREAM_SHADOW_CORR]).standard_normal(self.n)
            self._state = (0, z0, self._geometry(0)[1])
        k, z, xy_prev = self._state
        rsu = np.asarray(self.mobility.rsu_xy, dtype=float)
        while k < r:
            k += 1
            _, xy, _, in_range, d_safe = self._geometry(k)
            condition = self._conditions(k, xy, d_safe, rsu, in_range)
            moved = np.hypot(*(xy - xy_prev).T)
            dcorr = np.asarray(pl.DECORRELATION_M[self.cfg.pathloss])[condition]
            rho = np.where(np.isfinite(moved), np.exp(-moved / dcorr), 0.0)
            e = np.random.default_rng([self.seed, k, STREAM_SHADOW_CORR]).standard_normal(self.n)
            z = rho * z + np.sqrt(1.0 - rho**2) * e
            xy_prev = xy
        self._state = (k, z, xy_prev)
        return z
