"""Seed streams: every random draw is keyed by (seed, stream, id, purpose).

Keying by vehicle id (never by a running counter) makes vehicle v's data identical whether the
federation has 10 or 1000 vehicles, and keeps the test set on a stream no vehicle can reach.
"""

from __future__ import annotations

import numpy as np

VEHICLE_STREAM = 0
TEST_STREAM = 1
REAL_STREAM = 2
NOVEL_STREAM = 3

PURPOSE_PROPORTIONS = 0
PURPOSE_PLATES = 1
PURPOSE_REGION = 2
PURPOSE_SPLIT = 3


def vehicle_rng(seed: int, vehicle_id: int, purpose: int) -> np.random.Generator:
    """Generator private to one vehicle and one purpose."""
    return np.random.default_rng([seed, VEHICLE_STREAM, vehicle_id, purpose])


def held_out_rng(seed: int, region: int, purpose: int) -> np.random.Generator:
    """Generator for the held-out set (separate stream from every vehicle)."""
    return np.random.default_rng([seed, TEST_STREAM, region, purpose])


def real_rng(seed: int, purpose: int) -> np.random.Generator:
    """Generator for splitting a real image folder (test slice, vehicle shares)."""
    return np.random.default_rng([seed, REAL_STREAM, purpose])


def novel_rng(seed: int, style: int, purpose: int) -> np.random.Generator:
    """Generator for the novel-conditions held-out set (its own stream)."""
    return np.random.default_rng([seed, NOVEL_STREAM, style, purpose])
