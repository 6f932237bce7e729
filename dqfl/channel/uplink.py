"""The vehicular uplink: who delivers how many blocks in a round, and at what energy cost.

Per round and vehicle: distance from the mobility model -> mean SNR from the link budget (plus
shadowing) -> instantaneous SNR = mean SNR x fading gain -> delivered depth by SIC (superposition)
or all-or-nothing (vanilla). Energy and airtime: every vehicle transmits for the whole slot at the
derived power P (superposition spreads P over the blocks; vanilla uses the same P and the same slot
at a higher rate), so energy = P x slot_s and airtime = slot_s, delivered or not.
Randomness: ``default_rng([seed, stream])`` for the fleet, ``default_rng([seed, round, stream])``
for each round's fading and shadowing, one row per vehicle (vehicle v's draws do not depend on how
many vehicles there are, nor, without AR(1) correlation, on which rounds were simulated before).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dqfl.channel.closed_form import snr_thresholds
from dqfl.channel.config import ChannelConfig
from dqfl.channel.fading import FadingProcess
from dqfl.channel.mobility import distances_m, place_fleet
from dqfl.channel.pathloss import mean_snr_db, tx_power_w
from dqfl.channel.payload import block_rates, thresholds, vanilla_threshold
from dqfl.channel.power_split import resolve_split
from dqfl.channel.superposition import decode_depths, vanilla_depths
from dqfl.errors import DqflError

STREAM_SHADOWING = 3
MODES = ("superposition", "vanilla")


@dataclass(frozen=True)
class UplinkResult:
    """One round of the uplink; every array has one entry per vehicle."""

    depths: np.ndarray  # int64, delivered depth 0..L (0 = outage)
    energy_j: np.ndarray  # transmit energy spent this round
    airtime_s: np.ndarray  # time on air this round
    snr_db: np.ndarray  # instantaneous received SNR (after fading)
    mean_snr_db: np.ndarray  # mean SNR at this distance and shadowing (before fading)
    distance_m: np.ndarray  # distance to the RSU
    mode: str
    power_split: np.ndarray  # lambda_l used (vanilla: [1.0])
    thresholds: np.ndarray  # SINR threshold per block (vanilla: the single message's)
    tx_power_w: float
    n_blocks: int  # L, the full depth


class VehicularUplink:
    """Mobility + shadowing + fading for ``n_vehicles``, seeded; call ``transmit`` each round."""

    def __init__(self, cfg: ChannelConfig, n_vehicles: int, seed: int = 0) -> None:
        cfg.validate()
        if int(n_vehicles) != n_vehicles or n_vehicles < 1:
            raise DqflError(f"n_vehicles must be a positive integer; got {n_vehicles!r}")
        self.cfg = cfg
        self.n_vehicles = int(n_vehicles)
        self.seed = int(seed)
        self.fleet = place_fleet(cfg, self.n_vehicles, self.seed)
        self.fading = FadingProcess(cfg, self.fleet.speed_mps, self.seed)
        self.tx_power_w = tx_power_w(cfg)
        self._warned: set[tuple[int, ...]] = set()

    def mean_snr_db(self, round_idx: int) -> tuple[np.ndarray, np.ndarray]:
        """(distance_m, mean SNR in dB) of every vehicle at ``round_idx``."""
        d = distances_m(self.cfg, self.fleet, round_idx)
        shadow = 0.0
        if self.cfg.shadowing_db > 0:
            rng = np.random.default_rng([self.seed, round_idx, STREAM_SHADOWING])
            shadow = self.cfg.shadowing_db * rng.standard_normal(self.n_vehicles)
        return d, mean_snr_db(self.cfg, d, shadow)

    def transmit(
        self,
        round_idx: int,
        block_bits: Sequence[int],
        mode: str = "superposition",
        airtime_s: float | None = None,
    ) -> UplinkResult:
        """Send every vehicle's blocks in round ``round_idx``; returns what got through.

        ``airtime_s`` overrides the slot for this transmission (default ``cfg.slot_s``), e.g. to
        give a much larger payload (the classical baseline) the airtime it needs; the rates,
        the optimal split and the energy all follow it. Same fade either way (block fading).
        """
        cfg = self.cfg
        if airtime_s is not None:
            if not math.isfinite(airtime_s) or airtime_s <= 0:
                raise DqflError(f"airtime_s must be > 0 seconds; got {airtime_s!r}")
            cfg = dataclasses.replace(self.cfg, slot_s=float(airtime_s))
        if mode not in MODES:
            raise DqflError(f"uplink mode must be one of {MODES}; got {mode!r}")
        if int(round_idx) != round_idx or round_idx < 0:
            raise DqflError(f"round_idx must be a non-negative integer; got {round_idx!r}")
        bits = [int(b) for b in block_bits]
        if not bits or any(b < 0 for b in bits):
            raise DqflError(f"block_bits must be non-negative integers; got {list(block_bits)}")
        distance, mean_db = self.mean_snr_db(int(round_idx))
        snr = 10 ** (mean_db / 10) * self.fading.gains(int(round_idx))
        if mode == "superposition":
            split = resolve_split(cfg, bits)
            theta = thresholds(block_rates(bits, cfg.bandwidth_hz, cfg.slot_s))
            depths = decode_depths(snr, theta, split)
            self._warn_undecodable(bits, theta, split)
        else:
            split = np.ones(1)
            theta = np.array([vanilla_threshold(bits, cfg.bandwidth_hz, cfg.slot_s)])
            depths = vanilla_depths(snr, theta[0], len(bits))
        airtime = np.full(self.n_vehicles, cfg.slot_s)
        with np.errstate(divide="ignore"):
            snr_db = 10 * np.log10(snr)
        return UplinkResult(
            depths=depths,
            energy_j=self.tx_power_w * airtime,
            airtime_s=airtime,
            snr_db=snr_db,
            mean_snr_db=mean_db,
            distance_m=distance,
            mode=mode,
            power_split=split,
            thresholds=theta,
            tx_power_w=self.tx_power_w,
            n_blocks=len(bits),
        )

    def _warn_undecodable(self, bits: list[int], theta: np.ndarray, split: np.ndarray) -> None:
        """Warn once per payload when some block can never be decoded under this split."""
        _, decodable = snr_thresholds(theta, split)
        if decodable.all() or tuple(bits) in self._warned:
            return
        self._warned.add(tuple(bits))
        bad = [int(i) + 1 for i in np.flatnonzero(~decodable)]
        warnings.warn(
            f"uplink blocks {bad} can never be decoded with power split {np.round(split, 4)} "
            f"(lambda_l <= theta_l * sum of later lambdas); depth stops before block {bad[0]}",
            stacklevel=3,
        )
