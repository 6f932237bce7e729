"""Vehicular uplink: mobility, path loss, fading, superposition coding with SIC, closed forms.

numpy/scipy only (no torch), so the federation and the CLI can import it cheaply.
"""

from dqfl.channel.closed_form import (
    DepthProbabilities,
    closed_form_depth_probabilities,
    snr_thresholds,
    vanilla_full_probability,
)
from dqfl.channel.config import ChannelConfig
from dqfl.channel.payload import block_bits, block_rates, thresholds, vanilla_threshold
from dqfl.channel.power_split import SplitChoice, optimal_split, resolve_split
from dqfl.channel.superposition import decode_depths, geometric_split, vanilla_depths
from dqfl.channel.uplink import UplinkResult, VehicularUplink

__all__ = [
    "ChannelConfig",
    "DepthProbabilities",
    "SplitChoice",
    "UplinkResult",
    "VehicularUplink",
    "block_bits",
    "block_rates",
    "closed_form_depth_probabilities",
    "decode_depths",
    "geometric_split",
    "optimal_split",
    "resolve_split",
    "snr_thresholds",
    "thresholds",
    "vanilla_depths",
    "vanilla_full_probability",
    "vanilla_threshold",
]
