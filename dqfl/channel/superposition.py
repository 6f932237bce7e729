"""Superposition coding with successive interference cancellation (SIC), and vanilla transmission.

A vehicle sends all L blocks at once, block l with power fraction lambda_l (sum 1). The RSU
decodes block 1 treating the others as noise, cancels it, decodes block 2, and so on. In SNR units
(noise = 1, instantaneous SNR gamma = P g / sigma^2):
    SINR_l = lambda_l gamma / (1 + gamma sum_{j>l} lambda_j),
and the delivered depth is the longest prefix with SINR_j >= theta_j for every j in it (a failed
block stops SIC, so nothing after it is usable). Vanilla sends one message with every block at the
summed rate: depth L if gamma >= 2^{sum R} - 1, else 0.
"""

from __future__ import annotations

import numpy as np


def geometric_split(n_blocks: int, ratio: float) -> np.ndarray:
    """lambda_l proportional to ratio**l (l = 0..L-1): most power on the first, shallowest block."""
    weights = float(ratio) ** np.arange(n_blocks)
    return weights / weights.sum()


def sinr(snr: np.ndarray, split: np.ndarray) -> np.ndarray:
    """SINR of every block after cancelling the earlier ones; shape (..., L)."""
    snr = np.asarray(snr, dtype=float)[..., None]
    split = np.asarray(split, dtype=float)
    tail = np.concatenate([np.cumsum(split[::-1])[::-1][1:], [0.0]])  # sum_{j>l} lambda_j
    return split * snr / (1.0 + snr * tail)


def decode_depths(snr: np.ndarray, thresholds: np.ndarray, split: np.ndarray) -> np.ndarray:
    """Delivered depth 0..L per entry of ``snr`` under superposition coding and SIC."""
    ok = sinr(snr, split) >= np.asarray(thresholds, dtype=float)
    return np.cumprod(ok, axis=-1).sum(axis=-1).astype(np.int64)


def vanilla_depths(snr: np.ndarray, threshold: float, n_blocks: int) -> np.ndarray:
    """All-or-nothing: depth L when the single message decodes, 0 otherwise."""
    return np.where(np.asarray(snr, dtype=float) >= threshold, n_blocks, 0).astype(np.int64)
