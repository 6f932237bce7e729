"""The sensing path: vehicles photograph whole plates; their samples are the cut-out characters.

A vehicle draws each plate character from its own class distribution, so the label mix follows
its Dirichlet proportions while every sample still comes from a plate photographed under its
region's conditions. The held-out set uses a separate seed stream and is balanced over classes
and regions. The novel set (:func:`render_novel`) is balanced the same way over the novel styles:
typefaces and camera conditions that no training region uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict

import numpy as np

from dqfl.data.camera import Shot, photograph
from dqfl.data.config import DataConfig, class_names
from dqfl.data.fonts import fingerprint, user_fonts
from dqfl.data.partition import class_proportions
from dqfl.data.preprocess import normalise
from dqfl.data.regions import RegionStyle, novel_styles, region_styles, vehicle_region
from dqfl.data.render import compose_scene
from dqfl.data.seeds import PURPOSE_PLATES, held_out_rng, novel_rng, vehicle_rng

# Fields that never change a vehicle's pixels (n_vehicles: see seeds.py).
_NOT_PIXELS = {"n_vehicles", "cache_dir", "data_root"}
_NOT_TEST_PIXELS = _NOT_PIXELS | {"samples_per_vehicle", "dirichlet_alpha", "region_assignment"}


def pixel_fields(cfg: DataConfig, kind: str) -> dict:
    """Everything that determines the generated arrays of `kind` ("vehicle", "test", "novel")."""
    skip = _NOT_PIXELS if kind == "vehicle" else _NOT_TEST_PIXELS
    fields = {k: v for k, v in asdict(cfg).items() if k not in skip}
    fields["fonts"] = fingerprint(user_fonts(cfg.font_dir)) if cfg.font_dir else "builtin"
    fields["kind"] = kind
    # the renderer's ranges themselves, so retuning a region never reuses a stale cache
    styles = novel_styles(cfg) if kind == "novel" else region_styles(cfg)
    fields["styles"] = hashlib.sha256(repr(styles).encode()).hexdigest()[:16]
    return fields


def shoot_plates(
    labels: np.ndarray,
    names: list[str],
    style: RegionStyle,
    rng: np.random.Generator,
    chars_per_plate: int,
    size: int,
    color: bool = False,
) -> list[Shot]:
    """Photograph consecutive runs of `labels` as plates of up to `chars_per_plate` characters."""
    shots = []
    for start in range(0, len(labels), chars_per_plate):
        chars = [names[c] for c in labels[start : start + chars_per_plate]]
        shots.append(photograph(compose_scene(chars, style, rng, color), style, rng, size))
    return shots


def render_vehicle(cfg: DataConfig, vehicle_id: int) -> dict[str, np.ndarray]:
    """Vehicle's samples: x (N, S*S) float32, y (N,) int64, N = samples_per_vehicle."""
    names = class_names(cfg)
    style = region_styles(cfg)[vehicle_region(cfg, vehicle_id)]
    p = class_proportions(cfg.seed, vehicle_id, len(names), cfg.dirichlet_alpha)
    rng = vehicle_rng(cfg.seed, vehicle_id, PURPOSE_PLATES)
    y = rng.choice(len(names), size=cfg.samples_per_vehicle, p=p).astype(np.int64)
    shots = shoot_plates(y, names, style, rng, cfg.chars_per_plate, cfg.image_size)
    crops = np.concatenate([s.crops for s in shots])
    return {"x": normalise(crops), "y": y}


def render_test(cfg: DataConfig) -> dict[str, np.ndarray]:
    """Held-out set: test_per_class per class, spread evenly (+-1) over the regions."""
    return render_balanced(cfg, region_styles(cfg), held_out_rng)


def render_novel(cfg: DataConfig) -> dict[str, np.ndarray]:
    """Novel held-out set: test_per_class per class, spread evenly over the novel styles (fonts
    and conditions never used in training); ``region`` is the novel style's index."""
    return render_balanced(cfg, novel_styles(cfg), novel_rng)


def render_balanced(cfg: DataConfig, styles: list[RegionStyle], rng_for) -> dict[str, np.ndarray]:
    """test_per_class per class spread evenly over ``styles``; ``rng_for(seed, i, purpose)`` gives
    style i's generator. ``region`` holds each sample's style index."""
    names = class_names(cfg)
    k, r_total = len(names), len(styles)
    xs, ys, rs = [], [], []
    for r, style in enumerate(styles):
        counts = [
            cfg.test_per_class // r_total
            + (1 if (c + r) % r_total < cfg.test_per_class % r_total else 0)
            for c in range(k)
        ]
        rng = rng_for(cfg.seed, r, PURPOSE_PLATES)
        y = rng.permutation(np.repeat(np.arange(k, dtype=np.int64), counts))
        if len(y) == 0:
            continue
        shots = shoot_plates(y, names, style, rng, cfg.chars_per_plate, cfg.image_size)
        xs.append(normalise(np.concatenate([s.crops for s in shots])))
        ys.append(y)
        rs.append(np.full(len(y), r, dtype=np.int64))
    return {"x": np.concatenate(xs), "y": np.concatenate(ys), "region": np.concatenate(rs)}
