"""The power-split optimiser and the split rules."""

from __future__ import annotations

import numpy as np
import pytest

from dqfl.channel import ChannelConfig, block_bits, geometric_split, optimal_split, resolve_split
from dqfl.channel.closed_form import closed_form_depth_probabilities
from dqfl.channel.payload import block_rates, thresholds, vanilla_threshold
from dqfl.channel.power_split import equal_threshold_split

BITS = block_bits([59, 59, 59, 59], 32)


@pytest.mark.parametrize(
    ("objective", "utilities", "snr_db"),
    [
        ("expected_depth", None, 0.0),
        ("expected_depth", None, 15.0),
        ("p_full", None, 10.0),
        ("weighted", "1,1.5,1.8,2", 5.0),
    ],
)
def test_optimiser_beats_geometric_default(objective, utilities, snr_db) -> None:
    cfg = ChannelConfig(
        snr_db=snr_db, power_split="optimal", split_objective=objective, depth_utilities=utilities
    )
    choice = optimal_split(cfg, BITS)
    assert choice.value >= choice.geometric_value - 1e-12
    assert choice.split.sum() == pytest.approx(1.0)
    assert np.all(choice.split >= 0)
    again = optimal_split(ChannelConfig(**cfg.__dict__), BITS)  # deterministic
    np.testing.assert_array_equal(choice.split, again.split)


def test_optimiser_strictly_improves_where_geometric_is_poor() -> None:
    cfg = ChannelConfig(slot_s=0.015, power_split="optimal")  # geometric leaves block 1 undecodable
    choice = optimal_split(cfg, BITS)
    assert choice.geometric_value == 0.0
    assert choice.value > 1.0


def test_equal_threshold_split_reaches_vanilla_full_depth() -> None:
    cfg = ChannelConfig()
    theta = thresholds(block_rates(BITS, cfg.bandwidth_hz, cfg.slot_s))
    lam = equal_threshold_split(theta)
    cf = closed_form_depth_probabilities(10.0, theta, lam)
    theta_v = vanilla_threshold(BITS, cfg.bandwidth_hz, cfg.slot_s)
    np.testing.assert_allclose(cf.snr_thresholds, theta_v, rtol=1e-9)


def test_resolve_split_rules() -> None:
    assert resolve_split(ChannelConfig(power_split="geometric", split_ratio=0.5), BITS) == (
        pytest.approx(geometric_split(4, 0.5))
    )
    explicit = resolve_split(ChannelConfig(power_split="0.4,0.3,0.2,0.1"), BITS)
    np.testing.assert_allclose(explicit, [0.4, 0.3, 0.2, 0.1])
    assert resolve_split(ChannelConfig(power_split="optimal"), [1000]) == pytest.approx([1.0])
