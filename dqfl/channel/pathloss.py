"""Log-distance path loss and the link budget that ties the quality knob to physical power.

Definitions (all in dB unless noted):
  PL(d)     = ref_loss_db + 10 n log10(d / ref_distance_m) [+ shadowing X ~ N(0, shadowing_db^2)]
  noise     = noise_density_dbm_hz + 10 log10(bandwidth_hz) + noise_figure_db        (dBm)
  P_tx      = snr_db + noise + ref_loss_db                                          (dBm)
  mean SNR  = P_tx - PL(d) - noise = snr_db - 10 n log10(d / ref_distance_m) - X
So ``snr_db`` is exactly the mean received SNR at the reference distance; the transmit power is
derived from it and only matters for energy. Everything downstream works in SNR units
(noise power = 1), which is what the closed form needs.
"""

from __future__ import annotations

import numpy as np

from dqfl.channel.config import ChannelConfig


def noise_dbm(cfg: ChannelConfig) -> float:
    """Receiver noise power over one vehicle's bandwidth (dBm)."""
    return cfg.noise_density_dbm_hz + 10 * np.log10(cfg.bandwidth_hz) + cfg.noise_figure_db


def tx_power_dbm(cfg: ChannelConfig) -> float:
    """Transmit power that puts the mean SNR at ref_distance_m equal to snr_db (dBm)."""
    return cfg.snr_db + noise_dbm(cfg) + cfg.ref_loss_db


def tx_power_w(cfg: ChannelConfig) -> float:
    """Transmit power in watts (for energy)."""
    return 10 ** ((tx_power_dbm(cfg) - 30) / 10)


def path_loss_db(cfg: ChannelConfig, distance_m: np.ndarray) -> np.ndarray:
    """Deterministic log-distance path loss (no shadowing)."""
    return cfg.ref_loss_db + 10 * cfg.pathloss_exponent * np.log10(
        np.asarray(distance_m, dtype=float) / cfg.ref_distance_m
    )


def mean_snr_db(
    cfg: ChannelConfig, distance_m: np.ndarray, shadowing_db: np.ndarray | float = 0.0
) -> np.ndarray:
    """Mean received SNR (averaged over fast fading) at a distance, given a shadowing draw."""
    return cfg.snr_db - (path_loss_db(cfg, distance_m) - cfg.ref_loss_db) - shadowing_db
