"""Every random stream of a run, in one place: one purpose, one stream, never shared.

Streams are ``numpy.random.SeedSequence([seed, tag, *keys])`` with a distinct tag per purpose.
The tags of the federation (below) are large numbers so that they can never coincide with a
round index in the channel's ``[seed, round, stream]`` entropy; the channel's own streams
(mobility 1, fading 2, shadowing 3, comparison 7: ``dqfl/channel``) and the data renderer's
(``dqfl/data/seeds.py``) keep their documented layouts so that published numbers reproduce.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """Purposes of the federation's randomness (each gets its own stream)."""

    SAMPLING = 0x5EED_0001  # which vehicles take part in a round
    LOCAL_TRAINING = 0x5EED_0002  # a vehicle's minibatch order in a round
    FAULTS = 0x5EED_0003  # which vehicles crash, straggle or attack in a round
    ATTACK_NOISE = 0x5EED_0004  # the noise a gaussian attacker adds
    CENTRAL_TRAINING = 0x5EED_0005  # the centralised baseline's minibatch order


def sequence(seed: int, stream: Stream, *keys: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed), int(stream), *(int(k) for k in keys)])


def generator(seed: int, stream: Stream, *keys: int) -> np.random.Generator:
    """A numpy generator for ``stream`` at ``keys`` (e.g. round, vehicle)."""
    return np.random.default_rng(sequence(seed, stream, *keys))


def int_seed(seed: int, stream: Stream, *keys: int) -> int:
    """A 32-bit integer seed (for ``torch.Generator``) for ``stream`` at ``keys``."""
    return int(sequence(seed, stream, *keys).generate_state(1)[0])
