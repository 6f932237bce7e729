"""Renderer realism: each augmentation changes the pixels as intended, both polarities reach the
model the same way, and the novel held-out set is deterministic and disjoint from training."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dqfl.data import DataConfig, class_names, held_out_arrays, novel_arrays
from dqfl.data.fonts import builtin_fonts, novel_fonts
from dqfl.data.preprocess import normalise, square_resize
from dqfl.data.regions import novel_styles, region_styles
from dqfl.data.render import glyph_mask
from dqfl.data.synthetic import pixel_fields, shoot_plates

_WHITE, _BLACK = (236, 236, 230), (22, 22, 24)


def small(**kw) -> DataConfig:
    return DataConfig(**{**dict(test_per_class=3, n_regions=2, cache_dir=""), **kw})


def crops(seed: int = 0, n: int = 28, per_plate: int = 7, **style_changes) -> np.ndarray:
    """Raw uint8 crops of a clean city-day plate style (difficulty 0) with changes applied."""
    cfg = DataConfig(difficulty=0.0)
    base = replace(
        region_styles(cfg)[0],
        fonts=(builtin_fonts()["sans"],),
        plate_colours=((_WHITE, _BLACK),),
        stroke=(0.0, 0.0),
        invert=0.0,
        crop_modes=(0.0, 1.0, 0.0),
        crop_margin=(0.05, 0.05),
        dirt=0.0,
        bar=0.0,
    )
    style = replace(base, **style_changes)
    rng = np.random.default_rng(seed)
    y = np.random.default_rng(99).integers(0, 10, n)
    shots = shoot_plates(y, class_names(cfg), style, rng, per_plate, 16)
    return np.concatenate([s.crops for s in shots])


def test_novel_set_deterministic_by_seed_and_balanced():
    a = novel_arrays(small(seed=2))
    b = novel_arrays(small(seed=2))
    c = novel_arrays(small(seed=3))
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    x, y, style = a
    assert x.shape == (30, 256) and np.all(np.bincount(y, minlength=10) == 3)
    assert set(style.tolist()) == set(range(len(novel_styles(small()))))
    # and it is not the in-distribution held-out set
    assert not np.array_equal(x, held_out_arrays(small(seed=2))[0])


def test_novel_fonts_and_conditions_are_never_used_in_training():
    cfg = small(n_regions=16)  # the archetypes and a dozen jittered regions
    train, novel = region_styles(cfg), novel_styles(cfg)
    novel_font_names = {f.name for s in novel for f in s.fonts}
    assert novel_font_names and novel_font_names == set(novel_fonts())
    assert not novel_font_names & set(builtin_fonts())
    assert not novel_font_names & {f.name for s in train for f in s.fonts}
    assert not {f.path for s in novel for f in s.fonts} & {f.path for s in train for f in s.fonts}
    assert not {s.name for s in novel} & {s.name for s in train}
    train_plates = {p for s in train for p in s.plate_colours}
    assert not {p for s in novel for p in s.plate_colours} & train_plates
    # every novel archetype leaves some training range in every training region
    for n in novel:
        for t in train:
            assert any(
                getattr(n, k)[0] < getattr(t, k)[0] or getattr(n, k)[1] > getattr(t, k)[1]
                for k in ("exposure", "gamma", "noise", "haze", "lowres_px", "jpeg_quality")
            ), (n.name, t.name)


def test_novel_set_has_its_own_cache_key():
    cfg = small()
    assert pixel_fields(cfg, "novel") != pixel_fields(cfg, "test")
    assert pixel_fields(cfg, "novel")["kind"] == "novel"


def test_tight_crops_fill_more_of_the_frame():
    from dqfl.data.camera import SQUARE, STRETCHED, _detect_cells

    style = region_styles(DataConfig(difficulty=0.0))[0]
    boxes = np.array([[10.0, 10.0, 25.0, 37.0]])  # a character 15 wide, 27 tall

    def cell(margin: float, mode: int) -> np.ndarray:
        s = replace(style, crop_margin=(margin, margin))
        return _detect_cells(boxes, np.eye(3), s, np.random.default_rng(0), (200, 100), mode)[0]

    def fill(c: np.ndarray) -> float:  # character area / crop area
        return 15 * 27 / ((c[2] - c[0]) * (c[3] - c[1]))

    assert fill(cell(0.0, STRETCHED)) > fill(cell(0.3, STRETCHED)) > fill(cell(0.3, SQUARE))
    # in pixels: single-character plates, so no neighbour enters a loose crop
    tight = normalise(crops(per_plate=1, crop_margin=(0.0, 0.0)))
    loose = normalise(crops(per_plate=1, crop_margin=(0.2, 0.2), crop_modes=(0.0, 0.0, 1.0)))
    assert tight.mean() > loose.mean() + 0.03


def test_padded_crops_keep_the_characters_aspect():
    padded = normalise(crops(crop_modes=(1.0, 0.0, 0.0))).reshape(-1, 16, 16)
    stretched = normalise(crops()).reshape(-1, 16, 16)
    # padding to a square leaves dark columns at the sides; stretching fills them with ink
    side = lambda x: float(x[:, :, [0, 1, 14, 15]].mean())  # noqa: E731
    assert side(padded) < side(stretched)
    # and the user path (square_resize) pads a narrow crop with its border colour
    narrow = np.full((20, 8), 200, dtype=np.uint8)
    narrow[2:-2, 3:5] = 10
    from PIL import Image

    sq = square_resize(Image.fromarray(narrow), 16)
    assert sq.shape == (16, 16) and sq[:, 0].min() >= 190


def test_jpeg_changes_pixels_but_keeps_shape():
    plain = crops(jpeg=0.0)
    coded = crops(jpeg=1.0, jpeg_quality=(10.0, 10.0))
    assert coded.shape == plain.shape and coded.dtype == np.uint8
    diff = np.abs(coded.astype(float) - plain.astype(float))
    assert diff.mean() > 1.0  # visibly changed ...
    corr = np.corrcoef(coded.reshape(-1).astype(float), plain.reshape(-1).astype(float))[0, 1]
    assert corr > 0.8  # ... but the same characters


def test_low_resolution_removes_detail():
    sharp = crops(lowres=0.0).astype(float)
    low = crops(lowres=1.0, lowres_px=(7.0, 7.0)).astype(float)
    assert low.shape == sharp.shape

    def detail(x: np.ndarray) -> float:
        return float((np.diff(x, axis=1) ** 2).mean() + (np.diff(x, axis=2) ** 2).mean())

    assert detail(low) < 0.8 * detail(sharp)


def test_stroke_weight_thickens_and_thins():
    font = builtin_fonts()["sans"]
    ink = [float(glyph_mask(font, "8", w, 100).sum()) for w in (-2, -1, 0, 1, 2, 3)]
    assert all(a < b for a, b in zip(ink, ink[1:], strict=False)), ink


def test_both_polarities_reach_the_model_the_same_way():
    dark_on_light = normalise(crops(invert=0.0))
    light_on_dark = normalise(crops(invert=1.0))
    # the raw crops are inverses of each other ...
    raw = np.corrcoef(
        crops(invert=0.0).reshape(-1).astype(float), crops(invert=1.0).reshape(-1).astype(float)
    )[0, 1]
    assert raw < -0.8
    # ... and normalised they agree, character bright
    assert np.abs(dark_on_light - light_on_dark).mean() < 0.05
    img = dark_on_light.reshape(-1, 16, 16)
    assert img[:, 4:12, 4:12].mean() > img[:, [0, -1], :].mean()


@pytest.mark.parametrize("dark_ink", [True, False])
def test_polarity_of_a_tight_crop_touching_the_border(dark_ink):
    """A '1' cut so tight that its stroke touches the top and bottom edges."""
    img = np.full((16, 16), 210, dtype=np.uint8)
    img[:, 6:10] = 30  # the stem, full height
    img[0:3, 3:7] = 30  # the flag
    img[-2:, 4:12] = 30  # the foot
    if not dark_ink:
        img = 255 - img
    out = normalise(img[None]).reshape(16, 16)
    assert out[:, 6:10].mean() > 0.9 and out[5:12, 0:3].mean() < 0.1


def test_cache_key_follows_the_region_ranges(monkeypatch):
    import dqfl.data.regions as regions

    cfg = small()
    before = pixel_fields(cfg, "vehicle")
    tuned = tuple(replace(s, jpeg=0.0) for s in regions._ARCHETYPES)
    monkeypatch.setattr(regions, "_ARCHETYPES", tuned)
    assert pixel_fields(cfg, "vehicle")["styles"] != before["styles"]
