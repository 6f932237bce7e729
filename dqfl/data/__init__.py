"""Licence-plate characters for the federation: synthetic roadside-camera renders or a folder.

`import dqfl.data` stays light (no torch, no Pillow) until data is actually requested.
"""

from dqfl.data.api import (
    describe,
    held_out_arrays,
    load_novel_set,
    load_partition,
    load_test_set,
    novel_arrays,
    partition_arrays,
)
from dqfl.data.config import ALPHABETS, DataConfig, class_names
from dqfl.data.regions import vehicle_region

__all__ = [
    "ALPHABETS",
    "DataConfig",
    "class_names",
    "describe",
    "load_partition",
    "load_test_set",
    "partition_arrays",
    "held_out_arrays",
    "load_novel_set",
    "novel_arrays",
    "vehicle_region",
]
