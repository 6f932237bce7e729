"""From camera crops to the quantum input: gray, image_size x image_size, in [0, 1], bright ink.

Polarity is decided per image (plates can be dark-on-light or light-on-dark; see
:func:`dark_background`), and dark-on-light images are inverted, so the model always sees a
bright character on a dark background. Each image is then stretched to span [0, 1]; the model
does its own L2 normalisation.
"""

from __future__ import annotations

import numpy as np


def normalise(crops: np.ndarray) -> np.ndarray:
    """(N, S, S) uint8 gray crops -> (N, S*S) float32, character bright on a dark background."""
    x = crops.astype(np.float32) * (1.0 / 255.0)
    n = len(x)
    if n == 0:
        return np.zeros((0, crops.shape[1] * crops.shape[2]), dtype=np.float32)
    flip = dark_background(x) == 0
    x[flip] = 1.0 - x[flip]
    flat = x.reshape(n, -1)
    lo = flat.min(axis=1, keepdims=True)
    span = flat.max(axis=1, keepdims=True) - lo
    out = np.where(span > 1e-6, (flat - lo) / np.maximum(span, 1e-6), 0.0)
    return out.astype(np.float32)


def dark_background(x: np.ndarray) -> np.ndarray:
    """Per image (N, S, S) in [0, 1]: 1 if the character is already the bright part, else 0.

    Two cues, each in units of the image's contrast: the border is background and the centre
    holds the character (border brighter than centre: dark ink), and ink is the minority of
    pixels, so its tail skews the histogram (negative skew: dark ink). Tight crops, where the
    character touches the border, defeat the first cue alone; the sum decides.
    """
    n, h, w = x.shape
    flat = x.reshape(n, -1)
    border = np.concatenate([x[:, 0, :], x[:, -1, :], x[:, 1:-1, 0], x[:, 1:-1, -1]], axis=1)
    centre = x[:, h // 4 : h - h // 4, w // 4 : w - w // 4].reshape(n, -1)
    mean = flat.mean(axis=1)
    dev = flat - mean[:, None]
    sd = np.sqrt((dev**2).mean(axis=1))
    safe = np.maximum(sd, 1e-6)
    skew = (dev**3).mean(axis=1) / safe**3
    dark_ink = (border.mean(axis=1) - centre.mean(axis=1)) / safe - skew
    return np.where((sd > 1e-6) & (dark_ink > 0), 0, 1).astype(np.int8)


def square_resize(image, size: int) -> np.ndarray:  # image: PIL.Image
    """Any PIL image -> (size, size) uint8 gray, padded to a square with its border colour."""
    from PIL import Image

    gray = image.convert("L")
    w, h = gray.size
    if w != h:
        arr = np.asarray(gray)
        edge = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
        side = max(w, h)
        canvas = Image.new("L", (side, side), int(np.median(edge)))
        canvas.paste(gray, ((side - w) // 2, (side - h) // 2))
        gray = canvas
    mode = Image.Resampling.BOX if gray.width >= size else Image.Resampling.BILINEAR
    return np.asarray(gray.resize((size, size), mode), dtype=np.uint8)
