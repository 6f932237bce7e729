"""Fonts that work offline: the TTFs matplotlib ships, Pillow's built-in font, or a user folder.

Fonts are named by short ids (e.g. ``"sans-bold"``) so region styles can refer to them and the
cache key can fingerprint exactly which font files shaped the pixels.

The shipped faces are split by typeface family. Training (:func:`builtin_fonts`): DejaVu Sans,
Sans Mono and Serif in all their weights, STIX General (a Times-like serif) and Pillow's default
face. Novel (:func:`novel_fonts`): Computer Modern roman, sans, typewriter and bold, never used to
render training data, so the "novel" held-out set measures how a model trained on synthetic plates
copes with a typeface it has never seen.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dqfl.errors import DqflError

#: Font id used for Pillow's embedded font (``ImageFont.load_default``).
PILLOW_DEFAULT = "pillow-default"

_TRAINING_FILES = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "sans-oblique": "DejaVuSans-Oblique.ttf",
    "sans-boldoblique": "DejaVuSans-BoldOblique.ttf",
    "mono": "DejaVuSansMono.ttf",
    "mono-bold": "DejaVuSansMono-Bold.ttf",
    "mono-oblique": "DejaVuSansMono-Oblique.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "serif-italic": "DejaVuSerif-Italic.ttf",
    "mono-boldoblique": "DejaVuSansMono-BoldOblique.ttf",
    "serif-bolditalic": "DejaVuSerif-BoldItalic.ttf",
    "stix": "STIXGeneral.ttf",
    "stix-bold": "STIXGeneralBol.ttf",
    "stix-italic": "STIXGeneralItalic.ttf",
}

#: Typefaces reserved for the novel held-out set (Computer Modern; its italic is left out because
#: its digits are old-style figures, which no plate uses).
_NOVEL_FILES = {
    "cm-roman": "cmr10.ttf",
    "cm-sans": "cmss10.ttf",
    "cm-typewriter": "cmtt10.ttf",
    "cm-bold": "cmb10.ttf",
}

_FONT_SUFFIXES = (".ttf", ".otf", ".ttc")


@dataclass(frozen=True)
class FontSpec:
    """One font face: `path` None means Pillow's embedded default font."""

    name: str
    path: str | None


def _matplotlib_font_dir() -> Path | None:
    """Locate mpl-data/fonts/ttf without importing matplotlib (which is slow to import)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    return folder if folder.is_dir() else None


@lru_cache(maxsize=1)
def builtin_fonts() -> dict[str, FontSpec]:
    """The training faces matplotlib ships (those present) plus Pillow's default font."""
    fonts: dict[str, FontSpec] = {}
    folder = _matplotlib_font_dir()
    if folder is not None:
        for name, file in _TRAINING_FILES.items():
            if (folder / file).is_file():
                fonts[name] = FontSpec(name, str(folder / file))
    fonts[PILLOW_DEFAULT] = FontSpec(PILLOW_DEFAULT, None)
    return fonts


@lru_cache(maxsize=1)
def novel_fonts() -> dict[str, FontSpec]:
    """Faces never used for training data (those present; empty without matplotlib)."""
    folder = _matplotlib_font_dir()
    if folder is None:
        return {}
    return {
        name: FontSpec(name, str(folder / file))
        for name, file in _NOVEL_FILES.items()
        if (folder / file).is_file()
    }


def user_fonts(font_dir: str) -> list[FontSpec]:
    """All TTF/OTF files of `font_dir`, sorted by name so region assignment is reproducible."""
    folder = Path(font_dir).expanduser()
    if not folder.is_dir():
        raise DqflError(f"data.font_dir {font_dir!r} is not an existing folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _FONT_SUFFIXES)
    if not files:
        raise DqflError(
            f"data.font_dir {font_dir!r} holds no font files ({', '.join(_FONT_SUFFIXES)})"
        )
    return [FontSpec(f"user:{p.name}", str(p.resolve())) for p in files]


def fingerprint(fonts: list[FontSpec]) -> list[str]:
    """Name and byte size of each font file: enough to invalidate the cache if a file changes."""
    out = []
    for font in fonts:
        size = os.path.getsize(font.path) if font.path else 0
        out.append(f"{font.name}:{size}")
    return out


@lru_cache(maxsize=256)
def load_font(spec: FontSpec, size: int):  # -> ImageFont.FreeTypeFont
    """Open a font at a pixel size; unreadable user fonts become a clear DqflError."""
    from PIL import ImageFont

    try:
        if spec.path is None:
            return ImageFont.load_default(size=size)
        return ImageFont.truetype(spec.path, size=size)
    except OSError as exc:
        raise DqflError(f"cannot read font file {spec.path!r}: {exc}") from exc
