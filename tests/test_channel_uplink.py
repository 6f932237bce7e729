"""The vehicular uplink: determinism, mobility, AR(1) fading, energy, population statistics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dqfl.channel import ChannelConfig, VehicularUplink, block_bits, closed_form_depth_probabilities
from dqfl.channel.fading import ar1_coefficient
from dqfl.channel.mobility import place_fleet, positions_m
from dqfl.channel.pathloss import mean_snr_db, tx_power_dbm
from dqfl.channel.payload import block_rates, thresholds
from dqfl.errors import DqflError

BITS = block_bits([59, 59, 59, 59], 32)


def _same(a, b) -> None:
    for name in ("depths", "energy_j", "airtime_s", "snr_db", "mean_snr_db", "distance_m"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_seeded_reproducible_and_history_free() -> None:
    cfg = ChannelConfig(shadowing_db=4.0)
    up1 = VehicularUplink(cfg, 30, seed=7)
    up2 = VehicularUplink(cfg, 30, seed=7)
    for r in range(5):
        up1.transmit(r, BITS)
    _same(up1.transmit(5, BITS), up2.transmit(5, BITS))  # round 5 alone == after rounds 0..4
    other = VehicularUplink(cfg, 30, seed=8).transmit(5, BITS)
    assert not np.array_equal(other.snr_db, up2.transmit(5, BITS).snr_db)
    # prefix-stable: vehicle v's draws do not depend on the fleet size
    big = VehicularUplink(cfg, 100, seed=7).transmit(5, BITS)
    np.testing.assert_array_equal(big.snr_db[:30], up2.transmit(5, BITS).snr_db)


def test_mobility_advances_and_stays_on_road() -> None:
    for boundary in ("wrap", "bounce"):
        cfg = ChannelConfig(boundary=boundary, speed_min_mps=20.0, speed_max_mps=20.0)
        fleet = place_fleet(cfg, 50, seed=1)
        x0 = positions_m(cfg, fleet, 0)
        np.testing.assert_allclose(x0, fleet.x0_m)
        x1 = positions_m(cfg, fleet, 1)
        assert np.all((x1 >= 0) & (x1 <= cfg.road_length_m))
        moved = np.abs(x1 - x0)
        inside = (x0 > 30) & (x0 < cfg.road_length_m - 30)  # no boundary crossed in 20 m
        np.testing.assert_allclose(moved[inside], 20.0 * cfg.round_s)
        far = positions_m(cfg, fleet, 10_000)
        assert np.all((far >= 0) & (far <= cfg.road_length_m))
    assert np.all(
        ChannelConfig().rsu_offset_m
        <= VehicularUplink(ChannelConfig(), 50).transmit(3, BITS).distance_m
    )


def test_knob_is_mean_snr_at_reference_distance() -> None:
    cfg = ChannelConfig(snr_db=12.5)
    assert float(mean_snr_db(cfg, cfg.ref_distance_m)) == pytest.approx(12.5)
    assert float(mean_snr_db(cfg, 2 * cfg.ref_distance_m)) == pytest.approx(
        12.5 - 10 * cfg.pathloss_exponent * np.log10(2)
    )
    # tx power follows the knob dB for dB
    assert tx_power_dbm(ChannelConfig(snr_db=20)) - tx_power_dbm(ChannelConfig(snr_db=10)) == (
        pytest.approx(10.0)
    )


def test_ar1_correlation_matches_doppler_coefficient() -> None:
    cfg = ChannelConfig(
        correlated_fading=True, round_s=6e-4, speed_min_mps=20.0, speed_max_mps=20.0
    )
    rho = float(ar1_coefficient(20.0, cfg.carrier_hz, cfg.round_s))
    assert 0.3 < rho < 0.7
    up = VehicularUplink(cfg, 2000, seed=3)
    w = np.stack([up.fading.scattered(r) for r in range(40)])  # (rounds, vehicles)
    measured = np.mean(w[1:] * np.conj(w[:-1])).real / np.mean(np.abs(w) ** 2)
    assert measured == pytest.approx(rho, abs=0.02)
    g = np.abs(w) ** 2
    power_corr = np.corrcoef(g[1:].ravel(), g[:-1].ravel())[0, 1]
    assert power_corr == pytest.approx(rho**2, abs=0.03)
    # state is rebuilt deterministically from round 0
    fresh = VehicularUplink(cfg, 2000, seed=3)
    np.testing.assert_allclose(fresh.fading.scattered(25), w[25])
    np.testing.assert_allclose(up.fading.scattered(7), w[7])


def test_uncorrelated_rounds_are_independent() -> None:
    up = VehicularUplink(ChannelConfig(), 5000, seed=0)
    a, b = up.fading.scattered(0), up.fading.scattered(1)
    assert abs(np.mean(a * np.conj(b))) < 0.05


def test_energy_and_airtime_consistent() -> None:
    cfg = ChannelConfig(snr_db=15)
    up = VehicularUplink(cfg, 20, seed=0)
    sc = up.transmit(0, BITS)
    va = up.transmit(0, BITS, mode="vanilla")
    for res in (sc, va):
        assert np.all(res.energy_j > 0) and np.all(res.airtime_s > 0)
        np.testing.assert_allclose(res.airtime_s, cfg.slot_s)
        np.testing.assert_allclose(res.energy_j, res.tx_power_w * res.airtime_s)
    np.testing.assert_allclose(sc.energy_j, va.energy_j)
    np.testing.assert_array_equal(sc.snr_db, va.snr_db)  # same channel, different coding
    assert set(np.unique(va.depths)) <= {0, 4}
    assert sc.depths.dtype.kind == "i" and sc.depths.max() <= 4
    louder = VehicularUplink(ChannelConfig(snr_db=25), 20, seed=0).transmit(0, BITS)
    np.testing.assert_allclose(louder.energy_j, sc.energy_j * 10)


def test_population_depths_match_closed_form_given_mean_snr() -> None:
    cfg = ChannelConfig(snr_db=8.0, power_split="0.6,0.25,0.1,0.05")
    up = VehicularUplink(cfg, 1000, seed=11)
    theta = thresholds(block_rates(BITS, cfg.bandwidth_hz, cfg.slot_s))
    hits = np.zeros(4)
    expected = np.zeros(4)
    rounds = 100
    for r in range(rounds):
        res = up.transmit(r, BITS)
        hits += [(res.depths >= level).sum() for level in range(1, 5)]
        expected += closed_form_depth_probabilities(
            10 ** (res.mean_snr_db / 10), theta, res.power_split
        ).p_at_least.sum(axis=0)
    n = 1000 * rounds
    p_mc, p_cf = hits / n, expected / n
    assert np.all(np.abs(p_mc - p_cf) <= 3 * np.sqrt(p_cf * (1 - p_cf) / n))


def test_a_vehicles_draws_do_not_depend_on_the_fleet_size() -> None:
    """One vectorised draw per round for the whole fleet; vehicle v's channel is the same in a
    fleet of 10 and of 1000 (its speed is benchmarked in experiments/, not timed here)."""
    big = VehicularUplink(ChannelConfig(power_split="geometric"), 1000, seed=0)
    small = VehicularUplink(ChannelConfig(power_split="geometric"), 10, seed=0)
    for r in range(3):
        a, b = big.transmit(r, BITS), small.transmit(r, BITS)
        assert a.depths.shape == (1000,)
        assert np.array_equal(a.depths[:10], b.depths) and np.allclose(a.snr_db[:10], b.snr_db)


def test_undecodable_split_warns_and_bad_inputs_raise() -> None:
    cfg = ChannelConfig(slot_s=0.015, power_split="geometric")
    up = VehicularUplink(cfg, 10, seed=0)
    with pytest.warns(UserWarning, match="never be decoded"):
        res = up.transmit(0, BITS)
    assert np.all(res.depths == 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        up.transmit(1, BITS)  # once per payload
    with pytest.raises(DqflError, match="mode"):
        up.transmit(0, BITS, mode="fancy")
    with pytest.raises(DqflError, match="round_idx"):
        up.transmit(-1, BITS)
    with pytest.raises(DqflError, match="n_vehicles"):
        VehicularUplink(ChannelConfig(), 0)


def test_airtime_override_scales_rate_and_energy() -> None:
    cfg = ChannelConfig(snr_db=15)
    up = VehicularUplink(cfg, 200, seed=2)
    small = up.transmit(0, [sum(BITS)], mode="vanilla")
    big = up.transmit(0, [10 * sum(BITS)], mode="vanilla", airtime_s=10 * cfg.slot_s)
    np.testing.assert_array_equal(small.depths, big.depths)  # same rate, same fade
    np.testing.assert_allclose(big.energy_j, 10 * small.energy_j)
    np.testing.assert_allclose(big.airtime_s, 10 * cfg.slot_s)
    with pytest.raises(DqflError, match="airtime_s"):
        up.transmit(0, BITS, airtime_s=0.0)
