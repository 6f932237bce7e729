"""Camera regions: the feature skew of the federation.

Each region is a place with its own plate design (fonts, colours) and its own camera conditions
(light, blur, noise, dirt). Regions 0-3 are hand-made archetypes; further regions jitter an
archetype deterministically, independent of the run seed, so a region means the same thing in
every run.

Every region also carries what a user's crops bring: stroke weights heavier or lighter than the
font's, inverted (light-on-dark) plates, a plate detector whose boxes are tight or loose and come
out padded, stretched or square, low-resolution sensors and JPEG compression.

:func:`novel_styles` are the conditions of the "novel" held-out set: typefaces no training region
uses (:func:`dqfl.data.fonts.novel_fonts`), plate and bumper colours no training region uses, and
camera archetypes (glare, CCTV, rainy night) whose combinations of ranges, and some of whose values,
lie outside every training region's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dqfl.data.config import DataConfig
from dqfl.data.fonts import PILLOW_DEFAULT, FontSpec, builtin_fonts, novel_fonts, user_fonts
from dqfl.data.seeds import PURPOSE_REGION, vehicle_rng
from dqfl.errors import DqflError

RGB = tuple[int, int, int]
Range = tuple[float, float]


@dataclass(frozen=True)
class RegionStyle:
    """Ranges the renderer samples from, per plate. Geometry and optics scale with difficulty."""

    name: str
    fonts: tuple[FontSpec, ...]
    plate_colours: tuple[tuple[RGB, RGB], ...]  # (plate background, characters)
    bumper_colours: tuple[RGB, ...]
    eu_strip: float = 0.0  # probability of a blue band at the left edge
    stretch: Range = (0.9, 1.05)  # horizontal glyph scale (condensed < 1 < wide)
    stroke: Range = (-0.5, 1.0)  # stroke weight change, px per side at cap height (< 0 thins)
    invert: float = 0.15  # probability that a plate swaps its colours (light on dark)
    scale: Range = (0.85, 1.15)  # camera magnification
    rotation_deg: float = 4.0
    perspective: float = 0.0008  # max |projective coefficient| per px
    shear: float = 0.08
    motion_px: Range = (0.0, 1.5)
    defocus: Range = (0.0, 0.8)
    gradient: Range = (0.0, 0.3)  # multiplicative lighting ramp across the plate
    shadow: float = 0.2  # probability of a hard cast shadow
    exposure: Range = (0.85, 1.1)
    haze: Range = (0.0, 0.15)  # blend towards grey: fog, rain, low-contrast optics
    gamma: Range = (0.9, 1.1)
    noise: Range = (0.01, 0.04)  # sensor noise sigma (0..1 intensity)
    dirt: float = 0.1  # probability of mud/dirt blotches
    bar: float = 0.05  # probability of a bar (tow hitch, bike rack) crossing the plate
    crop_jitter: float = 0.05  # localisation error of the character detector, in box sides
    crop_margin: Range = (0.0, 0.08)  # detector box margin around a character, in its height
    crop_modes: tuple[float, float, float] = (0.4, 0.35, 0.25)  # P(padded, stretched, square)
    lowres: float = 0.25  # probability of a low-resolution sensor (far or cheap camera)
    lowres_px: Range = (8.0, 16.0)  # character height in sensor pixels when it is
    jpeg: float = 0.5  # probability that the shot is JPEG-compressed
    jpeg_quality: Range = (15.0, 80.0)


_WHITE: RGB = (236, 236, 230)
_BLACK: RGB = (22, 22, 24)

_ARCHETYPES: tuple[RegionStyle, ...] = (
    RegionStyle(
        name="city-day",
        fonts=(),
        plate_colours=((_WHITE, _BLACK), ((215, 218, 222), (15, 15, 40))),
        bumper_colours=((180, 30, 30), (200, 200, 205), (40, 40, 45), (30, 70, 150)),
        eu_strip=0.8,
        stretch=(0.92, 1.05),
    ),
    RegionStyle(
        name="highway-night",
        fonts=(),
        plate_colours=(((238, 196, 32), _BLACK), (_WHITE, _BLACK)),
        bumper_colours=((25, 25, 30), (60, 60, 70), (90, 20, 20)),
        stretch=(0.95, 1.1),
        stroke=(0.0, 1.0),
        rotation_deg=3.0,
        motion_px=(1.0, 4.5),
        defocus=(0.0, 0.8),
        gradient=(0.2, 0.6),
        shadow=0.1,
        exposure=(0.35, 0.7),
        haze=(0.0, 0.1),
        gamma=(1.1, 1.6),
        noise=(0.04, 0.1),
        bar=0.1,
    ),
    RegionStyle(
        name="rural-rain",
        fonts=(),
        plate_colours=((_WHITE, (20, 30, 110)), ((200, 200, 188), _BLACK)),
        bumper_colours=((90, 110, 60), (150, 140, 120), (220, 220, 220)),
        stretch=(0.95, 1.1),
        rotation_deg=6.0,
        motion_px=(0.0, 2.0),
        defocus=(0.8, 1.8),
        gradient=(0.0, 0.35),
        exposure=(0.75, 1.0),
        haze=(0.2, 0.45),
        noise=(0.02, 0.06),
        dirt=0.45,
    ),
    RegionStyle(
        name="mountain-tunnel",
        fonts=(),
        plate_colours=(((28, 30, 34), (232, 232, 228)), ((22, 52, 140), (240, 240, 240))),
        bumper_colours=((240, 240, 240), (120, 120, 125), (160, 40, 30)),
        stretch=(0.72, 0.88),
        rotation_deg=10.0,
        perspective=0.0022,
        shear=0.18,
        motion_px=(0.0, 2.5),
        defocus=(0.0, 1.0),
        gradient=(0.3, 0.7),
        shadow=0.5,
        exposure=(0.7, 1.15),
        noise=(0.02, 0.07),
        bar=0.15,
        crop_jitter=0.07,
    ),
)

_ARCHETYPE_FONTS: tuple[tuple[str, ...], ...] = (
    ("sans", "sans-bold", "sans-boldoblique"),
    ("mono", "mono-bold", "mono-boldoblique", "sans-bold"),
    ("serif", "serif-bold", "serif-italic", "stix", "stix-bold"),
    (PILLOW_DEFAULT, "sans-oblique", "sans", "stix-italic", "serif-bolditalic"),
)

_NOVEL: tuple[RegionStyle, ...] = (
    RegionStyle(
        name="novel-glare",
        fonts=(),
        plate_colours=(((246, 246, 240), (0, 90, 40)), ((250, 140, 30), (20, 20, 20))),
        bumper_colours=((250, 250, 250), (200, 170, 40)),
        stretch=(0.85, 1.1),
        gradient=(0.4, 0.8),
        shadow=0.3,
        exposure=(1.1, 1.35),
        haze=(0.15, 0.35),
        gamma=(0.7, 0.9),
        noise=(0.01, 0.03),
    ),
    RegionStyle(
        name="novel-cctv",
        fonts=(),
        plate_colours=(((30, 90, 50), (245, 245, 240)), ((246, 246, 240), (120, 20, 20))),
        bumper_colours=((70, 70, 75), (140, 30, 120)),
        rotation_deg=8.0,
        perspective=0.0018,
        shear=0.12,
        defocus=(0.3, 1.0),
        noise=(0.04, 0.08),
        lowres=1.0,
        lowres_px=(9.0, 14.0),
        jpeg=1.0,
        jpeg_quality=(15.0, 40.0),
    ),
    RegionStyle(
        name="novel-rain-night",
        fonts=(),
        plate_colours=(((160, 20, 20), (240, 240, 235)), ((250, 140, 30), (20, 20, 20))),
        bumper_colours=((15, 15, 20), (100, 100, 40)),
        stroke=(0.0, 1.5),
        motion_px=(1.5, 4.0),
        defocus=(0.3, 1.0),
        gradient=(0.2, 0.6),
        exposure=(0.35, 0.6),
        haze=(0.1, 0.3),
        gamma=(1.2, 1.6),
        noise=(0.05, 0.1),
        dirt=0.2,
    ),
)

_JITTERED = ("scale", "motion_px", "defocus", "gradient", "exposure", "haze", "gamma", "noise")


def region_styles(cfg: DataConfig) -> list[RegionStyle]:
    """The `cfg.n_regions` styles, with fonts from `cfg.font_dir` when one is given."""
    user = user_fonts(cfg.font_dir) if cfg.font_dir else None
    styles = []
    for r in range(cfg.n_regions):
        style = _base_style(r)
        if user is not None:
            mine = tuple(f for i, f in enumerate(user) if i % cfg.n_regions == r)
            style = replace(style, fonts=mine or (user[r % len(user)],))
        styles.append(_scaled(style, cfg.difficulty))
    return styles


def novel_styles(cfg: DataConfig) -> list[RegionStyle]:
    """The novel held-out set's conditions: every novel typeface in each novel archetype."""
    fonts = tuple(novel_fonts().values())
    if not fonts:
        raise DqflError(
            "the novel held-out set needs the Computer Modern fonts matplotlib ships; "
            "install matplotlib"
        )
    return [_scaled(replace(style, fonts=fonts), cfg.difficulty) for style in _NOVEL]


def vehicle_region(cfg: DataConfig, vehicle_id: int) -> int:
    """Region of a vehicle: `vehicle_id % n_regions`, or a seeded draw ("random")."""
    if cfg.region_assignment == "random":
        return int(vehicle_rng(cfg.seed, vehicle_id, PURPOSE_REGION).integers(cfg.n_regions))
    return vehicle_id % cfg.n_regions


def _base_style(r: int) -> RegionStyle:
    """Archetype r % 4; beyond the first four, ranges and fonts are jittered by region id."""
    available = builtin_fonts()
    arch = _ARCHETYPES[r % len(_ARCHETYPES)]
    names = [n for n in _ARCHETYPE_FONTS[r % len(_ARCHETYPES)] if n in available]
    if r < len(_ARCHETYPES):
        return replace(arch, fonts=tuple(available[n] for n in names or [PILLOW_DEFAULT]))
    rng = np.random.default_rng([7919, r])  # fixed: a region looks the same for every seed
    pool = sorted(available)
    picks = rng.choice(len(pool), size=min(3, len(pool)), replace=False)
    fonts = tuple(available[pool[i]] for i in sorted(picks))
    changes: dict[str, object] = {"name": f"{arch.name}-{r // len(_ARCHETYPES)}", "fonts": fonts}
    for field in _JITTERED:
        lo, hi = getattr(arch, field)
        f = float(rng.uniform(0.75, 1.25))
        changes[field] = (lo * f, hi * f)
    return replace(arch, **changes)


def _scaled(style: RegionStyle, difficulty: float) -> RegionStyle:
    """Scale how hard the camera is: 0 gives clean, front-on, sharp characters."""
    d = float(difficulty)

    def rng_(r: Range) -> Range:
        return (r[0] * d, r[1] * d)

    return replace(
        style,
        rotation_deg=style.rotation_deg * d,
        perspective=style.perspective * d,
        shear=style.shear * d,
        motion_px=rng_(style.motion_px),
        defocus=rng_(style.defocus),
        gradient=rng_(style.gradient),
        shadow=min(1.0, style.shadow * d),
        haze=rng_(style.haze),
        noise=rng_(style.noise),
        dirt=min(1.0, style.dirt * d),
        bar=min(1.0, style.bar * d),
        crop_jitter=style.crop_jitter * d,
        lowres=min(1.0, style.lowres * d),
        jpeg=min(1.0, style.jpeg * d),
        exposure=tuple(1.0 + (e - 1.0) * min(d, 1.0) for e in style.exposure),
        gamma=tuple(1.0 + (g - 1.0) * min(d, 1.0) for g in style.gamma),
    )
