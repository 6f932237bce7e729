"""Disk cache: hits skip rendering, keys follow the pixel-shaping fields, writes are atomic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dqfl.data.synthetic as synthetic
from dqfl.data import DataConfig, held_out_arrays, partition_arrays
from dqfl.data.cache import resolve_cache_dir


def cfg(tmp_path: Path, **kw) -> DataConfig:
    base = dict(samples_per_vehicle=14, test_per_class=2, n_regions=2, cache_dir=str(tmp_path))
    return DataConfig(**{**base, **kw})


def _forbid_rendering(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("rendered although the cache should have answered")

    monkeypatch.setattr(synthetic, "photograph", boom)


def test_cache_hit_returns_identical_data_without_rendering(tmp_path, monkeypatch):
    first = partition_arrays(cfg(tmp_path), 1)
    test_first = held_out_arrays(cfg(tmp_path))
    _forbid_rendering(monkeypatch)
    again = partition_arrays(cfg(tmp_path), 1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    # Fields that do not shape the pixels share the cache (a sweep never re-renders) ...
    partition_arrays(cfg(tmp_path, n_vehicles=77), 1)
    test_again = held_out_arrays(cfg(tmp_path, dirichlet_alpha=3.0, samples_per_vehicle=5))
    assert all(np.array_equal(a, b) for a, b in zip(test_first, test_again, strict=True))
    # ... while those that do are a miss.
    with pytest.raises(AssertionError, match="rendered"):
        partition_arrays(cfg(tmp_path, seed=9), 1)
    with pytest.raises(AssertionError, match="rendered"):
        partition_arrays(cfg(tmp_path, image_size=8), 1)


def test_no_temporary_files_left_and_damaged_file_rebuilt(tmp_path):
    x, _ = partition_arrays(cfg(tmp_path), 0)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith(".tmp")]
    (npz,) = [p for p in files if p.name == "vehicle-000000.npz"]
    npz.write_bytes(b"half a file")
    x2, _ = partition_arrays(cfg(tmp_path), 0)
    assert np.array_equal(x, x2)


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DQFL_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir(DataConfig()) == tmp_path / "env"
    assert resolve_cache_dir(DataConfig(cache_dir=str(tmp_path / "x"))) == tmp_path / "x"
    assert resolve_cache_dir(DataConfig(cache_dir="")) is None
    monkeypatch.delenv("DQFL_CACHE_DIR")
    assert resolve_cache_dir(DataConfig()) == Path(".dqfl_cache")
