"""The `[data]` section: every knob that changes which pixels the vehicles see.

Kept free of heavy imports so `dqfl --help` and config parsing stay instant.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

from dqfl.errors import DqflError

#: Letters that plates avoid because they read like digits (I~1, O~0, Q~0).
PLATE_EXCLUDED = ("I", "O", "Q")

ALPHABETS: dict[str, tuple[str, ...]] = {
    "digits": tuple(string.digits),
    "plate": tuple(string.digits)
    + tuple(c for c in string.ascii_uppercase if c not in PLATE_EXCLUDED),
}

REGION_ASSIGNMENTS = ("modulo", "random")

DEFAULT_CACHE_DIR = ".dqfl_cache"


@dataclass
class DataConfig:
    """Synthetic (or real) licence-plate characters split non-IID across vehicles.

    Label skew comes from per-vehicle Dirichlet(`dirichlet_alpha`) class proportions; feature skew
    from `n_regions` camera regions (fonts, plate colours, light, blur). `difficulty` scales the
    camera effects (1.0 is the calibrated default). `data_root` switches to an ImageFolder tree.
    """

    seed: int = 0
    n_vehicles: int = 10
    samples_per_vehicle: int = 1000
    alphabet: str = "digits"
    image_size: int = 16
    n_regions: int = 4
    dirichlet_alpha: float = 0.5
    test_per_class: int = 50
    region_assignment: str = "modulo"
    chars_per_plate: int = 7
    difficulty: float = 1.0
    font_dir: str | None = None
    data_root: str | None = None
    cache_dir: str = DEFAULT_CACHE_DIR

    def validate(self) -> None:
        """Raise :class:`DqflError` naming the first field whose value is out of range."""
        _int(self.seed, "seed", 0)
        _int(self.n_vehicles, "n_vehicles", 1)
        _int(self.samples_per_vehicle, "samples_per_vehicle", 1)
        if self.alphabet not in ALPHABETS:
            raise DqflError(
                f"data.alphabet must be one of {', '.join(ALPHABETS)}; got {self.alphabet!r}"
            )
        _int(self.image_size, "image_size", 2, 64)
        _int(self.n_regions, "n_regions", 1, 64)
        _float(self.dirichlet_alpha, "dirichlet_alpha", 0.0, math.inf, "a positive number")
        _int(self.test_per_class, "test_per_class", 1)
        if self.region_assignment not in REGION_ASSIGNMENTS:
            raise DqflError(
                f"data.region_assignment must be one of {', '.join(REGION_ASSIGNMENTS)}; "
                f"got {self.region_assignment!r}"
            )
        _int(self.chars_per_plate, "chars_per_plate", 1, 10)
        _float(self.difficulty, "difficulty", -1e-12, 3.0, "a number in [0, 3]")
        for name in ("font_dir", "data_root"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise DqflError(f"data.{name} must be a folder path or unset; got {value!r}")
        if not isinstance(self.cache_dir, str):
            raise DqflError(
                "data.cache_dir must be a folder path ('' disables caching); "
                f"got {self.cache_dir!r}"
            )


def class_names(cfg: DataConfig) -> list[str]:
    """The label names, index = class id: "0".."9", or the 33-character plate alphabet."""
    if cfg.alphabet not in ALPHABETS:
        cfg.validate()
    return list(ALPHABETS[cfg.alphabet])


def _int(value: object, name: str, lo: int, hi: int | None = None) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= lo
    if ok and hi is not None:
        ok = value <= hi
    if not ok:
        want = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
        raise DqflError(f"data.{name} must be {want}; got {value!r}")


def _float(value: object, name: str, lo: float, hi: float, want: str) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = math.isfinite(v) and lo < v <= hi
    if not ok:
        raise DqflError(f"data.{name} must be {want}; got {value!r}")
