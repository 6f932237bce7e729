"""`dqfl data preview`: a PNG a person can look at to judge the data.

One row per region: two photographed plates as the camera saw them, then the first plate's
character crops exactly as the model receives them (preprocessed, image_size x image_size,
enlarged with nearest-neighbour so single pixels stay visible).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Inspect the licence-plate character data.", no_args_is_help=True)

_PREVIEW_STREAM = 9  # seed stream used only by the preview


@app.callback()
def data() -> None:
    """Inspect the licence-plate character data."""


@app.command()
def preview(
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path(
        "results/data_preview.png"
    ),
    seed: Annotated[int, typer.Option(help="Data seed.")] = 0,
    alphabet: Annotated[str, typer.Option(help="digits or plate.")] = "digits",
    image_size: Annotated[int, typer.Option(help="Side of the model's input image.")] = 16,
    n_regions: Annotated[int, typer.Option(help="Camera regions (one row each).")] = 4,
    difficulty: Annotated[float, typer.Option(help="Scale of the camera effects.")] = 1.0,
    font_dir: Annotated[str | None, typer.Option(help="Folder of TTF fonts to use.")] = None,
) -> None:
    """Write a grid of plates and preprocessed character crops, one row per region, then one
    per novel style (the fonts and conditions of the novel held-out set)."""
    from dqfl.data.config import DataConfig

    cfg = DataConfig(
        seed=seed,
        alphabet=alphabet,
        image_size=image_size,
        n_regions=n_regions,
        difficulty=difficulty,
        font_dir=font_dir,
    )
    cfg.validate()
    from dqfl.outputs import IMAGE_SUFFIXES, check_file

    check_file(out, "--out", IMAGE_SUFFIXES)
    if font_dir is not None:
        from dqfl.data.fonts import user_fonts

        user_fonts(font_dir)
    path = write_preview(cfg, out)
    typer.echo(f"wrote data preview to {path}")


def write_preview(cfg, out: Path) -> Path:  # cfg: DataConfig
    """Render the preview grid for `cfg` into `out` (parent folders created)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from dqfl.data.config import class_names
    from dqfl.data.preprocess import normalise
    from dqfl.data.regions import novel_styles, region_styles
    from dqfl.data.synthetic import shoot_plates

    names = class_names(cfg)
    styles = [(f"region {r}", s) for r, s in enumerate(region_styles(cfg))]
    styles += [(f"novel {i}", s) for i, s in enumerate(novel_styles(cfg))]  # held out, unseen
    cell, zoom, label_w = 56, 2, 200
    font = ImageFont.load_default(size=14)
    rows = []
    for r, (title, style) in enumerate(styles):
        labels = np.random.default_rng([cfg.seed, _PREVIEW_STREAM, r]).integers(
            len(names), size=2 * cfg.chars_per_plate
        )
        # Same seed twice: the colour pass shows the plate, the gray pass is what the model gets.
        shots = [
            shoot_plates(
                labels,
                names,
                style,
                np.random.default_rng([cfg.seed, _PREVIEW_STREAM, r, 1]),
                cfg.chars_per_plate,
                cfg.image_size,
                color=color,
            )
            for color in (True, False)
        ]
        plates = [
            Image.fromarray(s.image).resize(
                (s.image.shape[1] * zoom, s.image.shape[0] * zoom), Image.Resampling.BILINEAR
            )
            for s in shots[0]
        ]
        x = normalise(shots[1][0].crops).reshape(-1, cfg.image_size, cfg.image_size)
        crops = [
            Image.fromarray((c * 255).astype(np.uint8)).resize(
                (cell, cell), Image.Resampling.NEAREST
            )
            for c in x
        ]
        names_shown = [f.name for f in style.fonts]
        if len(names_shown) > 4:
            names_shown = names_shown[:3] + [f"+{len(names_shown) - 3} more"]
        fonts = "\n".join(names_shown)
        plate_h = max(max(p.height for p in plates), 40 + 14 * (len(names_shown) + 1))
        height = plate_h + cell + 30
        width = label_w + sum(p.width for p in plates) + 10 * len(plates)
        width = max(width, label_w + len(crops) * (cell + 6))
        row = Image.new("RGB", (width, height), (250, 250, 250))
        draw = ImageDraw.Draw(row)
        draw.text((8, 8), title, fill=(0, 0, 0), font=ImageFont.load_default(size=18))
        draw.multiline_text((8, 34), f"{style.name}\n{fonts}", fill=(60, 60, 60), font=font)
        xpos = label_w
        for p in plates:
            row.paste(p, (xpos, 0))
            xpos += p.width + 10
        for i, crop in enumerate(crops):
            cx = label_w + i * (cell + 6)
            row.paste(crop, (cx, plate_h + 4))
            draw.text(
                (cx + cell // 2 - 4, plate_h + cell + 8),
                names[labels[i]],
                fill=(0, 0, 0),
                font=font,
            )
        draw.text(
            (8, plate_h + 8),
            f"model input\n{cfg.image_size}x{cfg.image_size}",
            fill=(60, 60, 60),
            font=font,
        )
        rows.append(row)
    grid = Image.new("RGB", (max(r.width for r in rows), sum(r.height + 8 for r in rows)), "white")
    y = 0
    for row in rows:
        grid.paste(row, (0, y))
        y += row.height + 8
    from dqfl.outputs import save

    return save(Path(out), grid.save)
