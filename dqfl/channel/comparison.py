"""Monte Carlo of the depth distribution at one fixed mean SNR, next to the closed form.

The closed form is per mean gain, so the check fixes the distance (no mobility, no shadowing) and
draws only the fast fading. Used by ``dqfl channel``, the README figure and the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dqfl.channel.closed_form import closed_form_depth_probabilities, vanilla_full_probability
from dqfl.channel.config import ChannelConfig
from dqfl.channel.fading import power_gain
from dqfl.channel.payload import block_rates, thresholds, vanilla_threshold
from dqfl.channel.superposition import decode_depths, vanilla_depths

STREAM_CHECK = 7


@dataclass(frozen=True)
class FixedSnrComparison:
    """Closed form vs Monte Carlo of P(d >= l), superposition and vanilla, at one mean SNR."""

    mean_snr_db: float
    trials: int
    bits: np.ndarray
    rates: np.ndarray  # bit/s/Hz per block
    thresholds: np.ndarray  # theta_l, linear SINR
    split: np.ndarray  # lambda_l
    snr_thresholds: np.ndarray  # tau_l, linear SNR (inf = undecodable)
    decodable: np.ndarray
    p_closed: np.ndarray  # P(d >= l), l = 1..L
    p_mc: np.ndarray
    se_mc: np.ndarray  # binomial standard error of p_mc
    vanilla_threshold: float
    vanilla_p_closed: float  # P(d = L) = P(d >= l) for every l
    vanilla_p_mc: float
    vanilla_se_mc: float
    mean_depth_closed: float
    mean_depth_mc: float
    vanilla_mean_depth_closed: float
    vanilla_mean_depth_mc: float


def compare_at(
    cfg: ChannelConfig,
    bits: Sequence[int],
    split: np.ndarray,
    mean_snr_db: float,
    trials: int,
    seed: int = 0,
) -> FixedSnrComparison:
    """Draw ``trials`` fades at ``mean_snr_db`` and decode both ways; closed form alongside."""
    n = len(bits)
    split = np.asarray(split, dtype=float)
    rates = block_rates(bits, cfg.bandwidth_hz, cfg.slot_s)
    theta = thresholds(rates)
    theta_v = vanilla_threshold(bits, cfg.bandwidth_hz, cfg.slot_s)
    gbar = 10 ** (mean_snr_db / 10)

    rng = np.random.default_rng([seed, STREAM_CHECK])
    z = rng.standard_normal((trials, 2))
    snr = gbar * power_gain((z[:, 0] + 1j * z[:, 1]) / np.sqrt(2), cfg.fading, cfg.rician_k)
    depths = decode_depths(snr, theta, split)
    vdepths = vanilla_depths(snr, theta_v, n)
    p_mc = np.array([(depths >= level).mean() for level in range(1, n + 1)])
    pv_mc = float((vdepths == n).mean())

    closed = closed_form_depth_probabilities(gbar, theta, split, cfg.fading, cfg.rician_k)
    pv = float(vanilla_full_probability(gbar, theta_v, cfg.fading, cfg.rician_k))
    return FixedSnrComparison(
        mean_snr_db=float(mean_snr_db),
        trials=int(trials),
        bits=np.asarray(bits, dtype=np.int64),
        rates=rates,
        thresholds=theta,
        split=split,
        snr_thresholds=closed.snr_thresholds,
        decodable=closed.decodable,
        p_closed=closed.p_at_least,
        p_mc=p_mc,
        se_mc=np.sqrt(p_mc * (1 - p_mc) / trials),
        vanilla_threshold=theta_v,
        vanilla_p_closed=pv,
        vanilla_p_mc=pv_mc,
        vanilla_se_mc=float(np.sqrt(pv_mc * (1 - pv_mc) / trials)),
        mean_depth_closed=float(closed.p_at_least.sum()),
        mean_depth_mc=float(depths.mean()),
        vanilla_mean_depth_closed=n * pv,
        vanilla_mean_depth_mc=float(vdepths.mean()),
    )
