"""`dqfl evaluate`: a run's final global model on a folder of real character crops."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from dqfl.errors import DqflError


def evaluate(
    results: Annotated[
        Path, typer.Argument(help="A run folder (holding model.pt) or a sweep folder.")
    ],
    data_root: Annotated[
        Path, typer.Option("--data-root", help="ImageFolder tree: DIR/<class>/*.png.")
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the numbers here.")
    ] = None,
) -> None:
    """Top-1 of every exit of the final global model(s) on DIR, with the training preprocessing."""
    models = [results / "model.pt"] if (results / "model.pt").is_file() else sorted(
        results.rglob("model.pt")
    )  # fmt: skip
    if not results.exists():
        raise DqflError(f"results folder not found: {results}")
    if not models:
        raise DqflError(f"no model.pt under {results}: is it a finished dqfl run folder?")
    rows = [evaluate_model(path, data_root) for path in models]
    for row in rows:
        exits = ", ".join(f"exit {i + 1}: {100 * a:.1f}%" for i, a in enumerate(row["top1"]))
        skipped = f" ({row['n_skipped']} unreadable skipped)" if row["n_skipped"] else ""
        typer.echo(f"{row['run']}: {row['n_images']} images{skipped} → {exits}")
    if json_out is not None:
        json_out.write_text(json.dumps(rows, indent=2))
        typer.echo(f"wrote {json_out}")


def evaluate_model(model_file: Path, data_root: Path) -> dict:
    """Rebuild the run's model from model.pt and score every exit on the folder's images."""
    import torch

    from dqfl.data.imagefolder import load_pool
    from dqfl.federation.common import build, config_from_json
    from dqfl.training import evaluate as evaluate_exits

    try:
        payload = torch.load(model_file, map_location="cpu", weights_only=True)
        cfg = config_from_json(payload["config"])
        state = payload["state_dict"]
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        raise DqflError(f"cannot read {model_file}: {exc}") from None
    data_cfg = dataclasses.replace(cfg.data_config(), data_root=str(data_root))
    data_cfg.validate()
    pool = load_pool(data_cfg)
    model = build(cfg)
    model.load_state_dict(state, strict=False)
    x = torch.as_tensor(pool["x"], dtype=torch.float32)
    y = torch.as_tensor(pool["y"], dtype=torch.int64)
    top1 = evaluate_exits(model, x, y)
    return {
        "run": str(model_file.parent),
        "n_images": int(len(y)),
        "n_skipped": int(pool.get("skipped", 0)),
        "top1": [float(a) for a in top1],
    }
