"""The vehicular uplink: who delivers how many blocks in a round, and at what energy cost.

Per round and vehicle: position from the mobility model (the built-in road or SUMO) -> mean SNR
from the path loss model (:mod:`dqfl.channel.largescale`) -> instantaneous SNR = mean SNR x
fading gain -> delivered depth by SIC (superposition) or all-or-nothing (vanilla). Energy and
airtime: every vehicle transmits for the whole slot at the derived power P (superposition spreads
P over the blocks; vanilla uses the same P and the same slot at a higher rate), so energy =
P x slot_s and airtime = slot_s, delivered or not. A vehicle out of range (not on the road, or
beyond coverage_m) does not transmit: depth 0, no energy, no airtime.
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
from dqfl.channel.largescale import LargeScale
from dqfl.channel.mobility import make_mobility
from dqfl.channel.pathloss import tx_power_w
from dqfl.channel.payload import block_rates, thresholds, vanilla_threshold
from dqfl.channel.power_split import resolve_split
from dqfl.channel.superposition import decode_depths, vanilla_depths
from dqfl.errors import DqflError

MODES = ("superposition", "vanilla")


@dataclass(frozen=True)
class UplinkResult:
    """One round of the uplink; every array has one entry per vehicle."""

    depths: np.ndarray  # int64, delivered depth 0..L (0 = outage)
    energy_j: np.ndarray  # transmit energy spent this round
    airtime_s: np.ndarray  # time on air this round
    snr_db: np.ndarray  # instantaneous received SNR (after fading)
    mean_snr_db: np.ndarray  # mean SNR at this distance and shadowing (before fading)
    distance_m: np.ndarray  # 2-D distance to the RSU (NaN when not on the road)
    mode: str
    power_split: np.ndarray  # lambda_l used (vanilla: [1.0])
    thresholds: np.ndarray  # SINR threshold per block (vanilla: the single message's)
    tx_power_w: float
    n_blocks: int  # L, the full depth
    in_range: np.ndarray | None = None  # bool: could reach the RSU this round
    condition: np.ndarray | None = None  # pathloss.LOS / NLOSV / NLOS
    xy_m: np.ndarray | None = None  # (n, 2) positions (NaN off the road)


class VehicularUplink:
    """Mobility + shadowing + fading for ``n_vehicles``, seeded; call ``transmit`` each round."""

    def __init__(
        self, cfg: ChannelConfig, n_vehicles: int, seed: int = 0, rounds: int | None = None
    ) -> None:
        """``rounds``: how many rounds SUMO mobility precomputes (more are added on demand)."""
        cfg.validate()
        if int(n_vehicles) != n_vehicles or n_vehicles < 1:
            raise DqflError(f"n_vehicles must be a positive integer; got {n_vehicles!r}")
        self.cfg = cfg
        self.n_vehicles = int(n_vehicles)
        self.seed = int(seed)
        self.mobility = make_mobility(cfg, self.n_vehicles, self.seed, rounds=rounds)
        self.fleet = getattr(self.mobility, "fleet", None)  # the built-in road's placement
        self.large_scale = LargeScale(cfg, self.mobility, self.n_vehicles, self.seed)
        # Doppler (AR(1) fading) from each vehicle's speed at round 0
        self.fading = FadingProcess(cfg, self.mobility.positions(0).speed_mps, self.seed)
        self.tx_power_w = tx_power_w(cfg)
        self._warned: set[tuple[int, ...]] = set()

    def mean_snr_db(self, round_idx: int) -> tuple[np.ndarray, np.ndarray]:
        """(distance_m, mean SNR in dB) of every vehicle at ``round_idx``."""
        state = self.large_scale.at(round_idx)
        return state.distance_m, state.mean_snr_db

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
        state = self.large_scale.at(int(round_idx))
        snr = 10 ** (state.mean_snr_db / 10) * self.fading.gains(int(round_idx))
        if mode == "superposition":
            split = resolve_split(cfg, bits)
            theta = thresholds(block_rates(bits, cfg.bandwidth_hz, cfg.slot_s))
            depths = decode_depths(snr, theta, split)
            self._warn_undecodable(bits, theta, split)
        else:
            split = np.ones(1)
            theta = np.array([vanilla_threshold(bits, cfg.bandwidth_hz, cfg.slot_s)])
            depths = vanilla_depths(snr, theta[0], len(bits))
        depths = np.where(state.in_range, depths, 0)
        airtime = np.where(state.in_range, cfg.slot_s, 0.0)
        with np.errstate(divide="ignore"):
            snr_db = 10 * np.log10(snr)
        return UplinkResult(
            depths=depths,
            energy_j=self.tx_power_w * airtime,
            airtime_s=airtime,
            snr_db=snr_db,
            mean_snr_db=state.mean_snr_db,
            distance_m=state.distance_m,
            mode=mode,
            power_split=split,
            thresholds=theta,
            tx_power_w=self.tx_power_w,
            n_blocks=len(bits),
            in_range=state.in_range,
            condition=state.condition,
            xy_m=state.xy_m,
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
