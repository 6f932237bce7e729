"""TR 37.885 path loss: the TR's formulas, conditions, shadowing, closed forms per model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dqfl.channel import ChannelConfig, VehicularUplink, block_bits, closed_form_depth_probabilities
from dqfl.channel import pathloss as pl
from dqfl.channel.largescale import segment_hits_boxes
from dqfl.channel.payload import block_rates, thresholds
from dqfl.channel.power_split import resolve_split
from dqfl.errors import DqflError

BITS = block_bits([59, 59, 59, 59], 32)
FC = 5.9e9


@pytest.mark.parametrize(
    ("d", "highway", "urban_los", "urban_nlos"),
    [
        # hand-evaluated from the TR's expressions at fc = 5.9 GHz (log10 5.9 = 0.770852)
        (10.0, 32.4 + 20 + 15.417, 38.77 + 16.7 + 14.030, 36.85 + 30 + 14.569),
        (100.0, 32.4 + 40 + 15.417, 38.77 + 33.4 + 14.030, 36.85 + 60 + 14.569),
        (500.0, 32.4 + 53.979 + 15.417, 38.77 + 45.074 + 14.030, 36.85 + 80.969 + 14.569),
    ],
)
def test_tr_37885_path_loss_values(d, highway, urban_los, urban_nlos) -> None:
    assert pl.los_loss_db("3gpp_highway", d, FC) == pytest.approx(highway, abs=2e-3)
    assert pl.los_loss_db("3gpp_urban", d, FC) == pytest.approx(urban_los, abs=2e-3)
    assert pl.nlos_loss_db(d, FC) == pytest.approx(urban_nlos, abs=2e-3)


def test_los_probability_and_blockage() -> None:
    assert pl.los_probability("3gpp_urban", 0.0) == 1.0
    assert pl.los_probability("3gpp_urban", 100.0) == pytest.approx(1.05 * math.exp(-1.14))
    assert pl.los_probability("3gpp_highway", 100.0) == pytest.approx(
        2.1013e-6 * 1e4 - 0.2 + 1.0193
    )
    assert pl.los_probability("3gpp_highway", 575.0) == pytest.approx(0.44)
    assert pl.los_probability("3gpp_highway", 2000.0) == 0.0
    cfg = ChannelConfig()  # RSU at 5 m above the 1.6 m blocker, vehicle below it
    mu, sigma = pl.blockage_params(cfg, np.array([10.0, 1000.0]))
    assert sigma == 4.0
    np.testing.assert_allclose(mu, [5.0, 5.0 + 15 * 3 - 41])
    mu, sigma = pl.blockage_params(ChannelConfig(rsu_height_m=1.5), np.array([10.0]))
    assert (mu[0], sigma) == (9.0, 4.5)
    z = np.random.default_rng(0).standard_normal(400_000)
    a = pl.lognormal_db(np.full(z.shape, 9.0), 4.5, z)
    assert a.mean() == pytest.approx(9.0, rel=0.01) and a.std() == pytest.approx(4.5, rel=0.02)


def test_segment_building_test() -> None:
    boxes = np.array([[10.0, 10.0, 20.0, 20.0]])
    a = np.array([[0.0, 0.0], [0.0, 30.0], [15.0, 0.0], [25.0, 15.0]])
    hit = segment_hits_boxes(a, np.array([30.0, 30.0]), boxes)
    assert hit.tolist() == [True, False, True, False]


@pytest.mark.parametrize("model", ["3gpp_highway", "3gpp_urban"])
def test_shadowing_statistics_and_spatial_correlation(model) -> None:
    cfg = ChannelConfig(pathloss=model, speed_min_mps=5.0, speed_max_mps=5.0, snr_db=20.0)
    up = VehicularUplink(cfg, 20_000, seed=3)
    s0, s1 = up.large_scale.at(0), up.large_scale.at(1)
    ok = s0.in_range & (s0.condition == pl.LOS) & (s1.condition == pl.LOS)
    d3 = [pl.distance_3d(cfg, s.distance_m) for s in (s0, s1)]
    base = [cfg.snr_db + pl.reference_loss_db(cfg) - pl.los_loss_db(model, d, FC) for d in d3]
    x0, x1 = (base[i] - s.mean_snr_db for i, s in enumerate((s0, s1)))
    assert np.std(x0[ok]) == pytest.approx(3.0, rel=0.05)
    rho = np.exp(-5.0 / pl.DECORRELATION_M[model][pl.LOS])  # moved 5 m in one round
    assert np.corrcoef(x0[ok], x1[ok])[0, 1] == pytest.approx(rho, abs=0.03)
    # LOS share follows the TR's probability
    p = pl.los_probability(model, s0.distance_m)
    assert (s0.condition == pl.LOS).mean() == pytest.approx(p.mean(), abs=0.01)
    # history-free: round 4 alone equals round 4 after rounds 0..3
    fresh = VehicularUplink(cfg, 20_000, seed=3).large_scale.at(4)
    for r in range(2, 5):
        again = up.large_scale.at(r)
    np.testing.assert_array_equal(fresh.mean_snr_db, again.mean_snr_db)


@pytest.mark.parametrize("model", ["log_distance", "3gpp_highway", "3gpp_urban"])
def test_monte_carlo_matches_closed_form_given_mean_snr(model) -> None:
    """Per path loss model: P(d >= l) over many links = mean of the closed form at their SNRs."""
    cfg = ChannelConfig(pathloss=model, snr_db=10.0, shadowing_db=4.0)
    n = 100_000
    res = VehicularUplink(cfg, n, seed=11).transmit(2, BITS)
    split = resolve_split(cfg, BITS)
    theta = thresholds(block_rates(BITS, cfg.bandwidth_hz, cfg.slot_s))
    gbar = 10 ** (res.mean_snr_db / 10)
    closed = closed_form_depth_probabilities(gbar, theta, split).p_at_least.mean(axis=0)
    for level in range(1, len(BITS) + 1):
        mc = (res.depths >= level).mean()
        se = math.sqrt(max(mc * (1 - mc), 1e-4) / n)
        assert abs(mc - closed[level - 1]) < 4 * se, (model, level, mc, closed)
    assert res.depths.max() == len(BITS) and res.depths.min() == 0


def test_snr_knob_is_los_mean_snr_at_reference_distance() -> None:
    cfg = ChannelConfig(pathloss="3gpp_urban", snr_db=12.0)
    d3 = pl.distance_3d(cfg, cfg.ref_distance_m)
    assert pl.reference_loss_db(cfg) == pytest.approx(float(pl.los_loss_db("3gpp_urban", d3, FC)))
    expected = 12.0 + pl.noise_dbm(cfg) + pl.reference_loss_db(cfg)
    assert pl.tx_power_dbm(cfg) == pytest.approx(expected)


def test_bad_pathloss_rejected() -> None:
    with pytest.raises(DqflError, match="channel.pathloss"):
        ChannelConfig(pathloss="cost231").validate()
    with pytest.raises(DqflError, match="channel.mobility"):
        ChannelConfig(mobility="ns3").validate()
    with pytest.raises(DqflError, match="channel.scenario"):
        ChannelConfig(scenario="city.xml").validate()
