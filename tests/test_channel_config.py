"""ChannelConfig validation: every bad value names its field."""

from __future__ import annotations

import dataclasses

import pytest

from dqfl.channel import ChannelConfig, block_bits
from dqfl.errors import DqflError


def test_defaults_are_valid_and_simple() -> None:
    cfg = ChannelConfig()
    cfg.validate()
    allowed = {int, float, str, bool}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        assert value is None or type(value) in allowed, f.name


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("bandwidth_hz", -1.0, "channel.bandwidth_hz must be > 0"),
        ("slot_s", 0.0, "channel.slot_s must be > 0"),
        ("snr_db", float("nan"), "channel.snr_db must be a finite number"),
        ("fading", "nakagami", "channel.fading must be one of"),
        ("rician_k", -1.0, "channel.rician_k must be >= 0"),
        ("bits_per_param", 12, "channel.bits_per_param must be one of"),
        ("power_split", "0.5,0.3", "channel.power_split must be fractions summing to 1"),
        ("power_split", "0.5,abc", "channel.power_split must be one of"),
        ("power_split", "-0.5,1.5", "channel.power_split must be non-negative"),
        ("power_split", "best", "channel.power_split must be one of"),
        ("boundary", "teleport", "channel.boundary must be one of"),
        ("n_lanes", 0, "channel.n_lanes must be an integer >= 1"),
        ("speed_max_mps", 1.0, "channel.speed_max_mps must be >="),
        ("split_ratio", 1.5, "channel.split_ratio must be in"),
        ("split_objective", "fun", "channel.split_objective must be one of"),
        ("depth_utilities", "1,x", "channel.depth_utilities must be comma-separated"),
        ("shadowing_db", -2.0, "channel.shadowing_db must be >= 0"),
        ("pathloss_exponent", 0.0, "channel.pathloss_exponent must be > 0"),
    ],
)
def test_invalid_values_raise(field: str, value: object, match: str) -> None:
    with pytest.raises(DqflError, match=match.replace("(", r"\(")):
        ChannelConfig(**{field: value}).validate()


def test_split_length_and_weighted_objective_checked() -> None:
    cfg = ChannelConfig(power_split="0.5,0.3,0.2")
    cfg.validate()
    with pytest.raises(DqflError, match="channel.power_split must be 4 comma-separated"):
        cfg.split_for(4)
    with pytest.raises(DqflError, match="channel.depth_utilities must be set"):
        ChannelConfig(split_objective="weighted").validate()
    with pytest.raises(DqflError, match="channel.depth_utilities must be 4 values"):
        ChannelConfig(split_objective="weighted", depth_utilities="1,2").utilities_for(4)


def test_block_bits() -> None:
    assert block_bits([48, 90], 32) == [1536, 2880]
    assert block_bits([48], 8) == [384]
    with pytest.raises(DqflError):
        block_bits([], 32)
    with pytest.raises(DqflError):
        block_bits([-1], 32)
