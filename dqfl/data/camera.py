"""The roadside camera: lighting, perspective, optics and sensor (resolution, JPEG) applied to a
plate scene, then a character detector that cuts one cell per character out of the shot.

Effects are drawn per plate from the region's ranges, so every character of a plate shares its
plate's conditions, as in a real photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqfl.data.preprocess import square_resize
from dqfl.data.regions import RegionStyle
from dqfl.data.render import PLATE_H, Scene, paint

#: Detector output modes (see :func:`_detect_cells`).
PADDED, STRETCHED, SQUARE = 0, 1, 2


@dataclass
class Shot:
    """What the camera saw (RGB uint8) and the detector's character crops (gray uint8)."""

    image: np.ndarray  # (H, W, 3) uint8, or (H, W) for a gray scene
    cells: np.ndarray  # (n_chars, 4) crop boxes in shot coordinates
    crops: np.ndarray  # (n_chars, size, size) uint8


def photograph(scene: Scene, style: RegionStyle, rng: np.random.Generator, size: int) -> Shot:
    """Light, warp, blur, expose, add noise, lower the resolution and JPEG-compress a scene; crop
    each character to size x size.

    Works on gray or colour scenes alike and draws the same random numbers for both.
    """
    from PIL import Image, ImageFilter

    color = scene.image.shape[2] == 3
    _light(scene.image, style, rng)
    pixels = _to_uint8(scene.image if color else scene.image[..., 0])
    src = Image.fromarray(pixels, "RGB" if color else "L")

    homography, out_size = _camera_pose(scene, style, rng)
    inverse = np.linalg.inv(homography)
    inverse /= inverse[2, 2]
    bumper = paint(scene.bumper, color)
    shot = src.transform(
        out_size,
        Image.Transform.PERSPECTIVE,
        tuple(inverse.ravel()[:8]),
        Image.Resampling.BILINEAR,
        fillcolor=scene.bumper if color else int(bumper[0] * 255),
    )
    radius = rng.uniform(*style.defocus)
    if radius > 0.15:
        shot = shot.filter(ImageFilter.GaussianBlur(radius))
    img = np.asarray(shot)
    img = _motion_blur(img, rng.uniform(*style.motion_px), rng.uniform(0, np.pi))

    # Haze (blend towards a grey veil) and gamma, as one 256-entry lookup table.
    haze = rng.uniform(*style.haze)
    veil = rng.uniform(0.45, 0.75) if haze > 0 else 0.0
    levels = np.linspace(0.0, 1.0, 256, dtype=np.float32)
    lut = (levels * (1.0 - haze) + haze * veil) ** rng.uniform(*style.gamma)
    out = lut[img]
    sigma = rng.uniform(*style.noise)
    if sigma > 0:  # sensor (luminance) noise, identical across channels
        noise = rng.standard_normal(img.shape[:2], dtype=np.float32) * np.float32(sigma)
        out += noise[..., None] if color else noise
    pixels = _to_uint8(out)

    gray = Image.fromarray(pixels, "RGB").convert("L") if color else Image.fromarray(pixels, "L")
    gray, homography = _sensor(gray, homography, scene.boxes, style, rng)
    mode = int(rng.choice(3, p=np.asarray(style.crop_modes) / sum(style.crop_modes)))
    cells = _detect_cells(scene.boxes, homography, style, rng, gray.size, mode)
    crops = np.empty((len(cells), size, size), dtype=np.uint8)
    for i, box in enumerate(cells):
        if mode == PADDED:  # the user-crop path: the box as cut, padded to a square
            cut = gray.crop(tuple(int(round(v)) for v in box))
            crops[i] = square_resize(cut, size)
            continue
        down = (box[3] - box[1]) >= size
        resample = Image.Resampling.BOX if down else Image.Resampling.BILINEAR
        crops[i] = np.asarray(gray.resize((size, size), resample, box=tuple(box)))
    return Shot(pixels, cells, crops)


def _sensor(gray, homography: np.ndarray, boxes: np.ndarray, style, rng: np.random.Generator):
    """Low sensor resolution and JPEG compression of the gray shot (PIL "L" image).

    Low resolution box-filters the shot down until a character is ``lowres_px`` pixels tall
    (never up); the homography is rescaled to match. JPEG re-encodes at a random quality.
    """
    import io

    from PIL import Image

    low = rng.random() < style.lowres
    target = rng.uniform(*style.lowres_px)
    jpeg = rng.random() < style.jpeg
    quality = int(round(rng.uniform(*style.jpeg_quality)))
    if low:
        corners = np.concatenate([boxes[:, [0, 1]], boxes[:, [2, 3]]])
        proj = _project(homography, corners).reshape(2, -1, 2)
        char_h = float(np.median(proj[1, :, 1] - proj[0, :, 1]))
        f = target / char_h if char_h > target else 1.0
        if f < 1.0:
            w, h = gray.size
            new = (max(2, int(round(w * f))), max(2, int(round(h * f))))
            gray = gray.resize(new, Image.Resampling.BOX)
            scale = np.diag([new[0] / w, new[1] / h, 1.0])
            homography = scale @ homography
    if jpeg:
        buf = io.BytesIO()
        gray.save(buf, "JPEG", quality=max(1, min(95, quality)))
        buf.seek(0)
        with Image.open(buf) as im:
            gray = im.convert("L")
    return gray, homography


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _light(image: np.ndarray, style: RegionStyle, rng: np.random.Generator) -> None:
    """Exposure, a lighting ramp in a random direction and sometimes a hard cast shadow."""
    h, w, _ = image.shape
    yy = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    xx = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy * (h / w)
    gain = rng.uniform(*style.exposure) * (1.0 + rng.uniform(*style.gradient) * 2.0 * ramp)
    if rng.random() < style.shadow:
        a = rng.uniform(0, 2 * np.pi)
        edge = np.cos(a) * xx + np.sin(a) * yy + rng.uniform(-0.3, 0.3)
        gain = gain * (1.0 - rng.uniform(0.3, 0.55) * np.clip(edge * 40.0 + 0.5, 0.0, 1.0))
    image *= gain[..., None]
    np.clip(image, 0.0, 1.0, out=image)


def _camera_pose(
    scene: Scene, style: RegionStyle, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[int, int]]:
    """Homography scene -> shot (scale, rotation, shear, perspective) and the shot size."""
    x0, y0, x1, y1 = scene.plate_box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    s = rng.uniform(*style.scale)
    t = np.deg2rad(rng.uniform(-style.rotation_deg, style.rotation_deg))
    k = rng.uniform(-style.shear, style.shear)
    px, py = rng.uniform(-style.perspective, style.perspective, 2)
    px_py = np.array([px, py * 0.5])
    centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], dtype=np.float64)
    rot = np.array(
        [[s * np.cos(t), -s * np.sin(t), 0], [s * np.sin(t), s * np.cos(t), 0], [0, 0, 1]]
    )
    shear = np.array([[1, k, 0], [0, 1, 0], [px_py[0], px_py[1], 1]])
    h = rot @ shear @ centre
    corners = _project(h, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64))
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    margin = 0.2 * PLATE_H * s
    shift = np.array([[1, 0, margin - lo[0]], [0, 1, margin - lo[1]], [0, 0, 1]])
    size = (int(np.ceil(hi[0] - lo[0] + 2 * margin)), int(np.ceil(hi[1] - lo[1] + 2 * margin)))
    return shift @ h, size


def _project(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    ph = pts @ h[:, :2].T + h[:, 2]
    return ph[:, :2] / ph[:, 2:3]


def _motion_blur(img: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Average of shifted copies along the motion direction (vehicle speed x exposure time).

    Takes and returns uint8 so the following lookup table can index with it directly.
    """
    n = int(round(length))
    if n < 1:
        return img
    acc = img.astype(np.uint16)
    dx, dy = np.cos(angle), np.sin(angle)
    for i in range(1, n + 1):
        off = i - n / 2
        acc += np.roll(img, (int(round(off * dy)), int(round(off * dx))), axis=(0, 1))
    return ((acc + (n + 1) // 2) // (n + 1)).astype(np.uint8)


def _detect_cells(
    boxes: np.ndarray,
    homography: np.ndarray,
    style: RegionStyle,
    rng: np.random.Generator,
    shot_size: tuple[int, int],
    mode: int = STRETCHED,
) -> np.ndarray:
    """Crop box per character around its projected box, with the detector's jitter.

    The box hugs the character with a margin drawn per plate (``crop_margin``, in character
    heights). ``PADDED`` keeps the box's own aspect (it is padded to a square later, as a
    user's crop is); ``STRETCHED`` widens it to at least 0.7 of its height and is resized to a
    square, like common plate readers; ``SQUARE`` grows it to a square, so neighbours intrude.
    """
    n = len(boxes)
    corners = np.stack(
        [boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [2, 3]], boxes[:, [0, 3]]], axis=1
    ).reshape(-1, 2)
    proj = _project(homography, corners).reshape(n, 4, 2)
    lo, hi = proj.min(axis=1), proj.max(axis=1)
    centre = (lo + hi) / 2
    char_h = hi[:, 1] - lo[:, 1]
    margin = rng.uniform(*style.crop_margin) * char_h
    box_h = char_h + 2 * margin
    box_w = hi[:, 0] - lo[:, 0] + 2 * margin
    if mode == STRETCHED:
        box_w = np.maximum(box_w, 0.7 * box_h)
    elif mode == SQUARE:
        box_w = box_h = np.maximum(box_w, box_h)
    centre += rng.normal(0.0, style.crop_jitter, (n, 2)) * box_h[:, None]
    zoom = np.exp(rng.normal(0.0, style.crop_jitter, n))
    w, h = shot_size
    half_w = np.clip(box_w * zoom / 2, 0.5, w / 2 - 0.5)
    half_h = np.clip(box_h * zoom / 2, 0.5, h / 2 - 0.5)
    cx = np.clip(centre[:, 0], half_w, w - half_w)
    cy = np.clip(centre[:, 1], half_h, h - half_h)
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
