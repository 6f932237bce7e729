"""Plate composition: characters in a font on a coloured plate mounted on a bumper.

Everything here happens in plate coordinates at a small fixed resolution (plate height
`PLATE_H` px), which keeps rendering cheap; the camera (`camera.py`) then looks at the scene.
Glyph masks are rendered once per (font, character, stroke weight, stretch) and reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dqfl.data.fonts import FontSpec, load_font
from dqfl.data.regions import RegionStyle

PLATE_H = 40  #: plate height in scene pixels
CHAR_H = 27  #: character (cap) height in scene pixels
MARGIN = 16  #: bumper visible around the plate, so warps and crops never leave the scene
_EU_BLUE = (0, 51, 153)
_DIRT = (96, 78, 52)
_BAR = (48, 48, 52)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L"


def paint(rgb: tuple[int, int, int], color: bool) -> np.ndarray:
    """A colour as the float vector the scene stores: RGB, or its luma for gray rendering."""
    c = np.asarray(rgb, dtype=np.float32) / 255.0
    return c if color else np.array([c @ _LUMA], dtype=np.float32)


@dataclass
class Scene:
    """A plate on its bumper: float RGB (or gray) in [0, 1] plus each character's box."""

    image: np.ndarray  # (H, W, C) float32, C = 3 (colour) or 1 (gray)
    boxes: np.ndarray  # (n_chars, 4) float64, scene coordinates
    plate_box: tuple[float, float, float, float]
    bumper: tuple[int, int, int]


@lru_cache(maxsize=8192)
def glyph_mask(font: FontSpec, char: str, weight_half_px: int, stretch_pct: int) -> np.ndarray:
    """Coverage mask (float32 in [0, 1]) of one character, cap height ~CHAR_H, cropped tight.

    ``weight_half_px`` changes the stroke weight by that many half pixels per side (grey-level
    dilation, or erosion when negative, a half step blending with the next whole one), so the
    same face renders bolder or lighter than designed, like embossed or worn plates.
    """
    from PIL import Image, ImageDraw

    ref = load_font(font, 100).getbbox("0")
    size = max(6, round(100 * CHAR_H / max(1, ref[3] - ref[1])))
    face = load_font(font, size)
    pad = 2 + (max(0, weight_half_px) + 1) // 2
    left, top, right, bottom = face.getbbox(char)
    img = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(img).text((pad - left, pad - top), char, font=face, fill=255)
    img = _reweight(img, weight_half_px)
    bbox = img.getbbox() or (0, 0, img.width, img.height)
    img = img.crop(bbox)
    width = max(2, round(img.width * stretch_pct / 100))
    height = min(PLATE_H - 6, max(2, img.height))
    if (width, height) != img.size:
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0


def _reweight(img, weight_half_px: int):  # img: PIL.Image "L" -> PIL.Image "L"
    """Grey-level dilation (> 0) or erosion (< 0) by |weight_half_px| / 2 px per side."""
    from PIL import Image, ImageFilter

    if weight_half_px == 0:
        return img
    step = ImageFilter.MaxFilter(3) if weight_half_px > 0 else ImageFilter.MinFilter(3)
    whole, half = divmod(abs(weight_half_px), 2)
    for _ in range(whole):
        img = img.filter(step)
    if half:
        img = Image.blend(img, img.filter(step), 0.5)
    return img


def compose_scene(
    chars: list[str], style: RegionStyle, rng: np.random.Generator, color: bool = False
) -> Scene:
    """Lay the characters out on a plate (one font per plate, like a real plate) on a bumper.

    Gray (`color=False`) is what the dataset uses: a third of the work. It consumes exactly the
    same random draws as colour, so the preview can show the colour version of the same plate.
    """
    font = style.fonts[int(rng.integers(len(style.fonts)))]
    weight = int(round(rng.uniform(*style.stroke) * 2))  # half pixels: quantised, cached glyphs
    stretch = int(round(rng.uniform(*style.stretch) * 50)) * 2
    masks = [glyph_mask(font, c, weight, stretch) for c in chars]
    gap = int(rng.integers(3, 6))
    pitch = max(m.shape[1] for m in masks) + gap
    split = int(rng.integers(2, len(chars) - 1)) if len(chars) >= 4 and rng.random() < 0.5 else -1

    strip = int(0.28 * PLATE_H) if rng.random() < style.eu_strip else 0
    pad = int(rng.integers(5, 9))
    plate_w = strip + 2 * pad + pitch * len(chars) + (6 if split > 0 else 0)
    height, width = PLATE_H + 2 * MARGIN, plate_w + 2 * MARGIN

    ink = np.zeros((PLATE_H, plate_w), dtype=np.float32)
    boxes = np.empty((len(chars), 4))
    x = strip + pad
    for i, mask in enumerate(masks):
        if i == split:
            x += 6
        mh, mw = mask.shape
        x0 = x + (pitch - mw) // 2
        y0 = (PLATE_H - mh) // 2 + int(rng.integers(-1, 2))
        ink[y0 : y0 + mh, x0 : x0 + mw] = np.maximum(ink[y0 : y0 + mh, x0 : x0 + mw], mask)
        boxes[i] = (MARGIN + x, MARGIN + y0, MARGIN + x + pitch, MARGIN + y0 + mh)
        x += pitch

    bg, fg = (paint(c, color) for c in _choice(rng, style.plate_colours))
    if rng.random() < style.invert:  # light characters on a dark plate
        bg, fg = fg, bg
    if rng.random() < 0.5:  # painted frame along the plate edge
        ink[:2] = ink[-2:] = 1.0
        ink[:, :2] = ink[:, -2:] = 1.0
    plate = bg + ink[..., None] * (fg - bg)
    if strip:
        plate[3:-3, 2:strip] = paint(_EU_BLUE, color)

    bumper = _choice(rng, style.bumper_colours)
    scene = np.empty((height, width, 3 if color else 1), dtype=np.float32)
    ramp = np.linspace(1.08, 0.88, height, dtype=np.float32)[:, None, None]
    scene[:] = ramp * paint(bumper, color)
    scene[MARGIN : MARGIN + PLATE_H, MARGIN : MARGIN + plate_w] = plate
    plate_box = (MARGIN, MARGIN, MARGIN + plate_w, MARGIN + PLATE_H)

    if rng.random() < style.dirt:
        _add_dirt(scene, plate_box, rng, paint(_DIRT, color))
    if rng.random() < style.bar:
        _add_bar(scene, plate_box, pitch, rng, paint(_BAR, color))
    np.clip(scene, 0.0, 1.0, out=scene)
    return Scene(scene, boxes, plate_box, bumper)


def _choice(rng: np.random.Generator, options: tuple):
    return options[int(rng.integers(len(options)))]


def _add_dirt(
    scene: np.ndarray, plate_box: tuple, rng: np.random.Generator, dirt: np.ndarray
) -> None:
    """Mud blotches: a smooth random field thresholded into soft-edged stains."""
    from PIL import Image

    x0, y0, x1, y1 = (int(v) for v in plate_box)
    coarse = (rng.random((3, 9)) * 255).astype(np.uint8)
    field = Image.fromarray(coarse).resize((x1 - x0, y1 - y0), Image.Resampling.BICUBIC)
    f = np.asarray(field, dtype=np.float32) / 255.0
    threshold = rng.uniform(0.55, 0.8)
    alpha = np.clip((f - threshold) / 0.12, 0.0, 1.0) * rng.uniform(0.5, 0.9)
    region = scene[y0:y1, x0:x1]
    region += alpha[..., None] * (dirt - region)


def _add_bar(
    scene: np.ndarray, plate_box: tuple, pitch: int, rng: np.random.Generator, bar: np.ndarray
) -> None:
    """A dark bar in front of the plate: vertical (hitch, rack) or along the top/bottom edge."""
    x0, y0, x1, y1 = (int(v) for v in plate_box)
    if rng.random() < 0.6:
        w = int(rng.uniform(0.25, 0.5) * pitch)
        xs = int(rng.integers(x0, max(x0 + 1, x1 - w)))
        scene[:, xs : xs + w] = bar
    else:
        h = int(rng.uniform(0.15, 0.3) * PLATE_H)
        ys = y0 if rng.random() < 0.5 else y1 - h
        scene[ys : ys + h, x0 - 4 : x1 + 4] = bar
