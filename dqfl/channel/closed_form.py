"""Closed-form depth distribution, used to test the Monte Carlo and to optimise the power split.

Block j decodes iff lambda_j gamma / (1 + gamma S_j) >= theta_j with S_j = sum_{j'>j} lambda_j',
i.e. iff gamma (lambda_j - theta_j S_j) >= theta_j. So with D_j = lambda_j - theta_j S_j:
  D_j > 0:  block j decodes iff gamma >= tau_j = theta_j / D_j  (an SNR threshold, linear)
  D_j <= 0: block j can never decode, whatever the SNR (flagged "undecodable").
Depth >= l iff gamma >= max_{j<=l} tau_j, so with mean SNR gbar (= P gbar_gain / sigma^2):
  Rayleigh:  P(d >= l) = exp(-max_{j<=l} tau_j / gbar)
  Rician K:  P(d >= l) = Q_1(sqrt(2K), sqrt(2(K+1) max tau / gbar))  (noncentral chi-square sf)
All SNRs here are linear and in units of the noise power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqfl.channel.fading import gain_survival


@dataclass(frozen=True)
class DepthProbabilities:
    """P(d >= l) for l = 1..L (last axis), with the per-block SNR thresholds behind it."""

    p_at_least: np.ndarray  # (..., L)
    snr_thresholds: np.ndarray  # tau_j, linear; inf where undecodable
    required_snr: np.ndarray  # max_{j<=l} tau_j: SNR needed for depth >= l
    decodable: np.ndarray  # bool per block: False means P(d >= l) = 0 for all l >= j


def snr_thresholds(thresholds: np.ndarray, split: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tau_j, decodable_j): the SNR block j needs after SIC, inf if it can never decode."""
    theta = np.asarray(thresholds, dtype=float)
    lam = np.asarray(split, dtype=float)
    tail = np.concatenate([np.cumsum(lam[::-1])[::-1][1:], [0.0]])
    margin = lam - theta * tail
    decodable = (margin > 0) | (theta <= 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(theta <= 0, 0.0, np.where(margin > 0, theta / margin, np.inf))
    return tau, decodable


def closed_form_depth_probabilities(
    mean_snr: np.ndarray | float,
    thresholds: np.ndarray,
    split: np.ndarray,
    fading: str = "rayleigh",
    rician_k: float = 0.0,
) -> DepthProbabilities:
    """P(d >= l) at linear mean SNR(s) ``mean_snr`` (any shape; output adds a last axis L)."""
    tau, decodable = snr_thresholds(thresholds, split)
    required = np.maximum.accumulate(tau)
    gbar = np.asarray(mean_snr, dtype=float)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(np.isinf(required), np.inf, required / gbar)
    x = np.where(np.isnan(x), 0.0, x)  # 0 / 0: a free block at zero SNR
    p = np.where(np.isinf(x), 0.0, gain_survival(np.where(np.isinf(x), 0.0, x), fading, rician_k))
    return DepthProbabilities(
        p_at_least=p, snr_thresholds=tau, required_snr=required, decodable=decodable
    )


def vanilla_full_probability(
    mean_snr: np.ndarray | float, threshold: float, fading: str = "rayleigh", rician_k: float = 0.0
) -> np.ndarray:
    """P(all-or-nothing message decodes) = P(gamma >= theta_total)."""
    gbar = np.asarray(mean_snr, dtype=float)
    with np.errstate(divide="ignore"):
        x = threshold / gbar
    return np.where(
        np.isinf(x), 0.0, gain_survival(np.where(np.isinf(x), 0.0, x), fading, rician_k)
    )
