"""Choosing the superposition power split: the geometric rule, an explicit vector, or "optimal".

"optimal" maximises a named objective of the closed-form depth distribution averaged over where a
vehicle can be (the stationary distance law of the road, and log-normal shadowing via Gauss-Hermite
quadrature) at the configured channel quality. It depends on the config and the block sizes only,
never on the seed, so every vehicle and round uses the same split. Objectives:
  expected_depth  E[d] = sum_l P(d >= l)                 (default)
  p_full          P(d = L)
  weighted        sum_l u_l P(d = l), u from channel.depth_utilities
The search is Nelder-Mead over softmax logits (the simplex), from deterministic starts including
the geometric default, and keeps the best point seen, so it is never worse than its starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dqfl.channel.closed_form import closed_form_depth_probabilities
from dqfl.channel.config import ChannelConfig
from dqfl.channel.mobility import stationary_distances
from dqfl.channel.pathloss import mean_snr_db
from dqfl.channel.payload import block_rates, thresholds
from dqfl.channel.superposition import geometric_split


@dataclass(frozen=True)
class SplitChoice:
    """The split in use and its objective value (and the geometric default's, for comparison)."""

    split: np.ndarray
    objective: str
    value: float
    geometric_value: float


def resolve_split(cfg: ChannelConfig, bits: Sequence[int]) -> np.ndarray:
    """The power split the uplink uses for these block sizes under ``cfg.power_split``."""
    n = len(bits)
    explicit = cfg.split_for(n)
    if explicit is not None:
        return np.asarray(explicit, dtype=float)
    if cfg.power_split == "geometric":
        return geometric_split(n, cfg.split_ratio)
    return optimal_split(cfg, bits).split.copy()


def position_snrs(cfg: ChannelConfig, n_points: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Linear mean SNRs and weights over the stationary positions (and shadowing).

    The design law is the built-in road's (whatever ``mobility`` is: a SUMO scenario's law is
    only known after running it, and the split must not depend on the seed). 3GPP models mix
    LOS and NLOSv with the TR's probability (NLOSv at its mean blockage loss) and integrate the
    TR's shadowing; building NLOS is a property of a scenario's geometry and is left out.
    """
    if cfg.pathloss != "log_distance":
        return _position_snrs_3gpp(cfg, n_points)
    d, w = stationary_distances(cfg, n_points)
    base = mean_snr_db(cfg, d)
    if cfg.shadowing_db > 0:
        nodes, gh_w = np.polynomial.hermite_e.hermegauss(9)  # X = sigma * node, N(0, 1) weights
        base = base[:, None] - cfg.shadowing_db * nodes[None, :]
        w = w[:, None] * (gh_w / gh_w.sum())[None, :]
    return 10 ** (base.ravel() / 10), w.ravel()


def _position_snrs_3gpp(cfg: ChannelConfig, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    from dqfl.channel import pathloss as pl

    d, w = stationary_distances(cfg, n_points)
    d3 = pl.distance_3d(cfg, d)
    los = cfg.snr_db + pl.reference_loss_db(cfg) - pl.los_loss_db(cfg.pathloss, d3, cfg.carrier_hz)
    mu_a, _ = pl.blockage_params(cfg, d3)
    p_los = pl.los_probability(cfg.pathloss, d)
    base = np.concatenate([los, los - mu_a])
    w = np.concatenate([w * p_los, w * (1 - p_los)])
    std = pl.SHADOW_STD_DB[cfg.pathloss][pl.LOS]
    nodes, gh_w = np.polynomial.hermite_e.hermegauss(9)
    base = base[:, None] - std * nodes[None, :]
    w = w[:, None] * (gh_w / gh_w.sum())[None, :]
    return 10 ** (base.ravel() / 10), w.ravel()


def objective_value(
    p_at_least: np.ndarray, objective: str, utilities: Sequence[float] | None = None
) -> float:
    """Score of an (averaged) P(d >= l) vector under a named objective."""
    if objective == "expected_depth":
        return float(p_at_least.sum())
    if objective == "p_full":
        return float(p_at_least[-1])
    u = np.asarray(utilities, dtype=float)
    p_exact = p_at_least - np.append(p_at_least[1:], 0.0)
    return float(u @ p_exact)


def equal_threshold_split(theta: np.ndarray) -> np.ndarray:
    """The split giving every block the same SNR threshold 2^{sum R} - 1 (best for P(d = L))."""
    total = np.prod(1 + theta) - 1
    lam = np.zeros_like(theta)
    tail = 0.0
    for j in range(len(theta) - 1, -1, -1):
        lam[j] = theta[j] * (tail + 1 / total)
        tail += lam[j]
    return lam / lam.sum()


def optimal_split(cfg: ChannelConfig, bits: Sequence[int]) -> SplitChoice:
    """Maximise ``cfg.split_objective`` over the simplex (cached per config and block sizes)."""
    return _optimal_split_cached(dataclasses.astuple(cfg), tuple(int(b) for b in bits))


@lru_cache(maxsize=64)
def _optimal_split_cached(cfg_tuple: tuple, bits: tuple[int, ...]) -> SplitChoice:
    from scipy import optimize  # lazy: importing the package stays numpy-only

    cfg = ChannelConfig(*cfg_tuple)
    n = len(bits)
    theta = thresholds(block_rates(bits, cfg.bandwidth_hz, cfg.slot_s))
    utilities = cfg.utilities_for(n)
    snrs, weights = position_snrs(cfg)

    def score(split: np.ndarray) -> float:
        p = closed_form_depth_probabilities(snrs, theta, split, cfg.fading, cfg.rician_k)
        return objective_value(weights @ p.p_at_least, cfg.split_objective, utilities)

    geometric = geometric_split(n, cfg.split_ratio)
    geometric_value = score(geometric)
    if n == 1:
        return SplitChoice(np.ones(1), cfg.split_objective, geometric_value, geometric_value)

    starts = [geometric, equal_threshold_split(theta), np.full(n, 1.0 / n)]
    starts += [geometric_split(n, r) for r in (0.2, 0.35, 0.65, 0.8)]
    best_split, best_value = geometric, geometric_value
    for start in starts:
        logits0 = np.log(np.maximum(start, 1e-9))
        logits0 = logits0[:-1] - logits0[-1]

        def loss(z: np.ndarray) -> float:
            return -score(_softmax_last_zero(z))

        res = optimize.minimize(
            loss,
            logits0,
            method="Nelder-Mead",
            options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 4000},
        )
        for candidate in (start, _softmax_last_zero(res.x)):
            value = score(candidate)
            if value > best_value + 1e-12:
                best_split, best_value = candidate, value
    best_split = np.array(best_split, dtype=float)
    best_split.setflags(write=False)  # cached: shared between callers
    return SplitChoice(best_split, cfg.split_objective, best_value, geometric_value)


def _softmax_last_zero(z: np.ndarray) -> np.ndarray:
    full = np.append(z, 0.0)
    e = np.exp(full - full.max())
    return e / e.sum()
