"""The data room's public functions: what a vehicle trains on and what the server tests on."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from dqfl.data.cache import digest, load_or_build, resolve_cache_dir, write_manifest
from dqfl.data.config import DataConfig
from dqfl.errors import DqflError


def _check_vehicle(cfg: DataConfig, vehicle_id: int) -> None:
    ok = isinstance(vehicle_id, int | np.integer) and 0 <= int(vehicle_id) < cfg.n_vehicles
    if not ok:
        raise DqflError(
            f"vehicle id must be an integer in [0, {cfg.n_vehicles - 1}]; got {vehicle_id!r}"
        )


def _synthetic(cfg: DataConfig, kind: str, name: str, build) -> dict[str, np.ndarray]:
    from dqfl.data.synthetic import pixel_fields

    fields = pixel_fields(cfg, kind)
    folder = resolve_cache_dir(cfg)
    path = None
    if folder is not None:
        sub = folder / f"synthetic-{kind}-{digest(fields)}"
        write_manifest(sub, fields)
        path = sub / name
    return load_or_build(path, build)


def partition_arrays(cfg: DataConfig, vehicle_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Numpy version of :func:`load_partition` (x float32 (N, S*S), y int64 (N,))."""
    cfg.validate()
    _check_vehicle(cfg, vehicle_id)
    v = int(vehicle_id)
    if cfg.data_root:
        from dqfl.data.imagefolder import load_pool, split

        pool = load_pool(cfg)
        idx = split(cfg, pool)[1][v]
        return pool["x"][idx], pool["y"][idx]
    from dqfl.data.synthetic import render_vehicle

    data = _synthetic(cfg, "vehicle", f"vehicle-{v:06d}.npz", lambda: render_vehicle(cfg, v))
    return data["x"], data["y"]


def held_out_arrays(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numpy held-out set: x, y and the region of each sample (-1 for real images)."""
    cfg.validate()
    if cfg.data_root:
        from dqfl.data.imagefolder import load_pool, split

        pool = load_pool(cfg)
        idx = split(cfg, pool)[0]
        return pool["x"][idx], pool["y"][idx], np.full(len(idx), -1, dtype=np.int64)
    from dqfl.data.synthetic import render_test

    data = _synthetic(cfg, "test", "test.npz", lambda: render_test(cfg))
    return data["x"], data["y"], data["region"]


def novel_arrays(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Novel-conditions held-out set (synthetic only): x, y and the novel style of each sample.

    Rendered with typefaces and camera conditions that no training region uses, balanced over
    classes and styles like :func:`held_out_arrays`; with ``data_root`` set there is none and a
    :class:`DqflError` says so.
    """
    cfg.validate()
    if cfg.data_root:
        raise DqflError("the novel held-out set is synthetic; it does not exist with data_root")
    from dqfl.data.synthetic import render_novel

    data = _synthetic(cfg, "novel", "novel.npz", lambda: render_novel(cfg))
    return data["x"], data["y"], data["region"]


def load_novel_set(cfg: DataConfig):  # -> tuple[Tensor, Tensor]
    """Novel-conditions held-out tensors (x, y); see :func:`novel_arrays`."""
    import torch

    x, y, _ = novel_arrays(cfg)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))


def load_partition(cfg: DataConfig, vehicle_id: int):  # -> tuple[Tensor, Tensor]
    """Vehicle `vehicle_id`'s training data as torch tensors: x float32 (N, S*S), y int64."""
    import torch

    x, y = partition_arrays(cfg, vehicle_id)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))


def load_test_set(cfg: DataConfig, return_regions: bool = False):
    """Held-out tensors (x, y), balanced over classes and regions; (x, y, region) if asked."""
    import torch

    x, y, region = held_out_arrays(cfg)
    out = (torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y)))
    return (*out, torch.from_numpy(region)) if return_regions else out


def describe(cfg: DataConfig) -> dict:
    """Plain-dict summary for run manifests."""
    return {**asdict(cfg), "cache_dir_resolved": str(resolve_cache_dir(cfg))}
