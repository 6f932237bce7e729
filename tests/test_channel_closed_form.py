"""Monte Carlo of superposition coding + SIC against the closed form."""

from __future__ import annotations

import numpy as np
import pytest

from dqfl.channel import (
    ChannelConfig,
    block_bits,
    block_rates,
    closed_form_depth_probabilities,
    decode_depths,
    geometric_split,
    snr_thresholds,
    thresholds,
    vanilla_depths,
    vanilla_threshold,
)
from dqfl.channel.comparison import compare_at
from dqfl.channel.fading import gain_survival, power_gain

BITS = block_bits([59, 59, 59, 59], 32)


def _assert_within_3se(p_mc: np.ndarray, p_cf: np.ndarray, n: int) -> None:
    se = np.sqrt(np.maximum(p_cf * (1 - p_cf), 1e-12) / n)
    assert np.all(np.abs(p_mc - p_cf) <= 3 * se + 1e-12), (p_mc, p_cf)


@pytest.mark.parametrize("snr_db", [0.0, 8.0, 16.0, 25.0])
@pytest.mark.parametrize("split", ["0.55,0.25,0.13,0.07", "0.7,0.2,0.07,0.03"])
def test_monte_carlo_matches_closed_form_rayleigh(snr_db: float, split: str) -> None:
    cfg = ChannelConfig(power_split=split)
    lam = np.array(cfg.split_for(4))
    res = compare_at(cfg, BITS, lam, snr_db, trials=100_000, seed=int(snr_db))
    _assert_within_3se(res.p_mc, res.p_closed, res.trials)
    _assert_within_3se(np.array([res.vanilla_p_mc]), np.array([res.vanilla_p_closed]), res.trials)
    assert np.all(np.diff(res.p_closed) <= 0)  # P(d >= l) is non-increasing in l


@pytest.mark.parametrize("k", [1.0, 5.0])
def test_monte_carlo_matches_closed_form_rician(k: float) -> None:
    cfg = ChannelConfig(fading="rician", rician_k=k, power_split="0.6,0.25,0.1,0.05")
    lam = np.array(cfg.split_for(4))
    res = compare_at(cfg, BITS, lam, 6.0, trials=100_000, seed=3)
    _assert_within_3se(res.p_mc, res.p_closed, res.trials)


def test_closed_form_formula_by_hand() -> None:
    theta = np.array([1.0, 1.0])
    lam = np.array([0.8, 0.2])
    tau, ok = snr_thresholds(theta, lam)
    assert ok.all()
    assert tau == pytest.approx([1.0 / (0.8 - 0.2), 1.0 / 0.2])
    p = closed_form_depth_probabilities(10.0, theta, lam).p_at_least
    assert p == pytest.approx(np.exp(-np.maximum.accumulate(tau) / 10.0))


def test_undecodable_blocks_are_flagged_and_never_delivered() -> None:
    cfg = ChannelConfig(slot_s=0.015)  # heavier rate: theta ~ 1.39 per block
    theta = thresholds(block_rates(BITS, cfg.bandwidth_hz, cfg.slot_s))
    lam = geometric_split(4, 0.5)  # lambda_1 = 0.533 < theta (1 - lambda_1)
    tau, ok = snr_thresholds(theta, lam)
    assert not ok[0] and np.isinf(tau[0])
    cf = closed_form_depth_probabilities(np.array([1.0, 100.0, 1e6]), theta, lam)
    assert np.all(cf.p_at_least == 0.0)
    assert not cf.decodable[0]
    snr = np.logspace(-2, 8, 10_000)
    assert decode_depths(snr, theta, lam).max() == 0


def test_vanilla_equals_single_block_superposition() -> None:
    cfg = ChannelConfig()
    rng = np.random.default_rng(0)
    snr = 10 ** (rng.uniform(-10, 30, 50_000) / 10)
    theta_v = vanilla_threshold(BITS, cfg.bandwidth_hz, cfg.slot_s)
    single = thresholds(block_rates([sum(BITS)], cfg.bandwidth_hz, cfg.slot_s))
    assert single[0] == pytest.approx(theta_v)
    one = decode_depths(snr, single, np.ones(1))
    van = vanilla_depths(snr, theta_v, len(BITS))
    np.testing.assert_array_equal(van, one * len(BITS))


def test_rician_k0_is_rayleigh_in_distribution() -> None:
    rng = np.random.default_rng(1)
    w = (rng.standard_normal(200_000) + 1j * rng.standard_normal(200_000)) / np.sqrt(2)
    g_ray = power_gain(w, "rayleigh", 0.0)
    g_ric = power_gain(w, "rician", 0.0)
    np.testing.assert_allclose(g_ray, g_ric)
    assert g_ric.mean() == pytest.approx(1.0, abs=0.01)
    assert g_ric.var() == pytest.approx(1.0, abs=0.02)  # exponential(1): var 1
    x = np.array([0.1, 1.0, 3.0])
    np.testing.assert_allclose(gain_survival(x, "rician", 0.0), np.exp(-x))
    # a strong LOS shrinks the variance: var = (2K + 1) / (K + 1)^2
    g_k5 = power_gain(w, "rician", 5.0)
    assert g_k5.mean() == pytest.approx(1.0, abs=0.01)
    assert g_k5.var() == pytest.approx(11 / 36, rel=0.03)
