"""The real-data path: an ImageFolder tree (root/<class>/*.png) of character crops.

Class folders are matched to the alphabet case-insensitively. The whole tree is preprocessed once
(and cached, keyed by the file list with sizes and mtimes); a stratified slice per class is held
out for testing and the rest is shared among vehicles by the Dirichlet scheme.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from dqfl.data.cache import digest, load_or_build, resolve_cache_dir
from dqfl.data.config import DataConfig, class_names
from dqfl.data.partition import split_pool
from dqfl.data.preprocess import normalise, square_resize
from dqfl.data.seeds import PURPOSE_SPLIT, real_rng
from dqfl.errors import DqflError

#: Fraction of each class held out for testing (capped by test_per_class).
TEST_FRACTION = 0.2

_MEMO: dict[str, dict[str, np.ndarray]] = {}


class SkippedImagesWarning(UserWarning):
    """Some files of an image folder could not be read (the CLI prints it as one line)."""


def _gray_loader(path: str):
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        return to_gray8(im)


def to_gray8(image):  # PIL.Image -> PIL.Image in mode "L"
    """Any PIL mode as the 8-bit grey crop it shows, so every file format reads the same pixels.

    ``convert("L")`` clips 16- and 32-bit grey to 255 and drops alpha, which is where some
    crops keep their ink. Here: 16-bit grey is scaled by 1/257 (the inverse of 8 -> 16 bit);
    32-bit integer and float grey by their range (8-bit, 16-bit or [0, 1] floats); palette
    images through their colours; alpha is composited on the crop's background (the opaque
    border's grey, or, when the border is transparent, the grey that contrasts with the ink).
    """
    from PIL import Image

    mode = image.mode
    if mode == "L":
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("CMYK", "RGB", "RGBX", "YCbCr"):
        return image.convert("RGB").convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return to_gray8(image.convert("RGBA" if has_alpha else "RGB"))
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        top = float(arr.max()) if arr.size else 0.0
        if mode.startswith("I;16") or 255.0 < top <= 65535.0:
            arr = arr / 257.0
        elif top > 65535.0:
            arr = arr * (255.0 / top)
        elif mode == "F" and top <= 1.0:
            arr = arr * 255.0
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
    if mode in ("LA", "La", "RGBA", "RGBa"):
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        gray = np.asarray(rgba.convert("RGB").convert("L"), dtype=np.float64)
        return Image.fromarray(_composite(gray, alpha))
    return image.convert("L")


def _composite(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Grey over its background by alpha; see :func:`to_gray8` for the background."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    border_alpha = np.concatenate([alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]])
    if (border_alpha > 0.5).mean() > 0.5:
        background = float(np.median(border[border_alpha > 0.5]))
    else:
        weight = alpha.sum()
        ink = float((gray * alpha).sum() / weight) if weight > 0 else 0.0
        background = 0.0 if ink >= 128 else 255.0
    out = gray * alpha + background * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def scan(cfg: DataConfig) -> tuple[list[tuple[str, int]], Path]:
    """List (path, label) pairs with torchvision's ImageFolder; user mistakes -> DqflError."""
    from torchvision.datasets import ImageFolder

    root = Path(str(cfg.data_root)).expanduser()
    if not root.is_dir():
        raise DqflError(f"data.data_root {str(root)!r} does not exist or is not a folder")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DqflError(
            f"data.data_root {str(root)!r} holds no class folders; expected root/<class>/*.png"
        )
    names = class_names(cfg)
    index = {n.lower(): i for i, n in enumerate(names)}
    unknown = [f for f in folders if f.lower() not in index]
    if unknown:
        raise DqflError(
            f"class folders {unknown} under {str(root)!r} are not in the {cfg.alphabet!r} "
            f"alphabet; allowed names: {', '.join(names)}"
        )
    try:
        dataset = ImageFolder(str(root), loader=_gray_loader, allow_empty=True)
    except (FileNotFoundError, OSError) as exc:
        raise DqflError(f"cannot read image folder {str(root)!r}: {exc}") from exc
    if not dataset.samples:
        raise DqflError(
            f"no images found in the class folders of {str(root)!r} "
            "(looked for .png, .jpg, .jpeg, .bmp, .tif, .webp, ...)"
        )
    remap = {i: index[c.lower()] for c, i in dataset.class_to_idx.items()}
    return [(p, remap[t]) for p, t in dataset.samples], root


def load_pool(cfg: DataConfig) -> dict[str, np.ndarray]:
    """Every readable image of the tree, preprocessed: x (N, S*S), y (N,). Cached on disk."""
    samples, root = scan(cfg)
    stamp = []
    for path, label in samples:
        st = Path(path).stat()
        stamp.append((str(Path(path).relative_to(root)), label, st.st_size, st.st_mtime_ns))
    key = digest({"root": str(root.resolve()), "files": stamp, "size": cfg.image_size})
    if key not in _MEMO:  # every vehicle of a process shares one read of the tree
        folder = resolve_cache_dir(cfg)
        path = folder / f"folder-{key}" / "pool.npz" if folder is not None else None
        _MEMO.clear()
        _MEMO[key] = load_or_build(path, lambda: _read_all(samples, cfg.image_size, root))
    return _MEMO[key]


def _read_all(samples: list[tuple[str, int]], size: int, root: Path) -> dict[str, np.ndarray]:
    from PIL import Image

    crops, labels, bad = [], [], []
    for path, label in samples:
        try:
            crops.append(square_resize(_gray_loader(path), size))
            labels.append(label)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            bad.append(path)
    if bad:
        warnings.warn(
            f"skipped {len(bad)} unreadable image file(s) under {root} (first: {bad[0]})",
            SkippedImagesWarning,
            stacklevel=2,
        )
    if not crops:
        raise DqflError(f"none of the {len(samples)} image files under {str(root)!r} could be read")
    return {
        "x": normalise(np.stack(crops)),
        "y": np.array(labels, dtype=np.int64),
        "skipped": np.array(len(bad)),
    }


def split(cfg: DataConfig, pool: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Stratified test indices and one train index array per vehicle."""
    y = pool["y"]
    rng = real_rng(cfg.seed, PURPOSE_SPLIT + 100)
    test, train = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = min(cfg.test_per_class, int(len(idx) * TEST_FRACTION))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.sort(np.concatenate(train))
    shares = split_pool(
        y[train_idx], cfg.n_vehicles, len(class_names(cfg)), cfg.seed, cfg.dirichlet_alpha
    )
    return test_idx, [train_idx[s] for s in shares]
