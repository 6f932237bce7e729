"""The one rule that maps a state-dict key to its uplink block, and which keys stay home.

Naming contract: every key of a multi-exit model starts with ``blocks.<l>.``; block ``l`` holds
layer ``l``'s circuit and exit ``l``'s readout (a block may hold several circuit layers; the key
prefix stays ``blocks.<l>.``). Keys outside any ``blocks.<l>.`` prefix travel with block 0, the
base block the uplink always decodes first. A vehicle that delivered depth ``d`` contributed
blocks ``0..d-1``. Local ("never sent") keys are named by substrings; FedBN's are ``.norm.``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_BLOCK = re.compile(r"^blocks\.(\d+)\.")

FEDBN_LOCAL = (".norm.",)  # FedBN keeps normalisation layers on the vehicle


def block_index(key: str) -> int:
    """Block (layer/exit) a state-dict key belongs to; 0 for keys outside any block."""
    match = _BLOCK.match(key)
    return int(match.group(1)) if match else 0


def n_blocks(keys: Iterable[str] | Mapping[str, object]) -> int:
    """Number of blocks (1 + the largest ``blocks.<l>.`` index; 0 for no keys)."""
    return 1 + max((block_index(k) for k in keys), default=-1)


def is_local(key: str, patterns: Iterable[str]) -> bool:
    """True when ``key`` never leaves the vehicle (contains one of ``patterns``)."""
    return any(p in key for p in patterns)


def within(key: str, depth: int | None) -> bool:
    """True when ``key`` belongs to the first ``depth`` blocks (``None``: every block)."""
    return depth is None or block_index(key) < depth
