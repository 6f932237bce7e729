"""Upper bounds on sizes, derived from this machine's memory.

A size that cannot fit is refused before any work starts, with the estimate and the limit, so a
typo such as ``samples_per_vehicle=1000000000`` never runs until the memory is gone.
"""

from __future__ import annotations

import os

from dqfl.errors import DqflError

#: Memory one grid point of a sweep holds while the sweep runs (config, events, summary).
BYTES_PER_POINT = 50_000
#: Share of the physical memory one estimate may claim (the rest: Python, torch, Ray, the OS).
MEMORY_SHARE = 0.5


def physical_memory() -> int:
    """Bytes of RAM on this machine (``DQFL_MEMORY_LIMIT`` in bytes overrides, for tests)."""
    override = os.environ.get("DQFL_MEMORY_LIMIT")
    if override:
        return int(float(override))
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3


def memory_limit() -> int:
    return int(MEMORY_SHARE * physical_memory())


def check_fits(what: str, estimate: float, hint: str) -> None:
    """Refuse ``what`` when ``estimate`` bytes exceed the limit; ``hint`` says what to lower."""
    limit = memory_limit()
    if estimate > limit:
        raise DqflError(
            f"{what} needs about {human_bytes(estimate)} of memory, more than the limit of "
            f"{human_bytes(limit)} (half of this machine's {human_bytes(physical_memory())}); "
            f"{hint}"
        )


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"
