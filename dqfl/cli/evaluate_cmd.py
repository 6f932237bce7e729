"""`dqfl evaluate`: a run's final global model on a folder of real character crops."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from dqfl.errors import DqflError
from dqfl.federation.results import MODEL, SUMMARY


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
    torch_device: Annotated[
        str | None,
        typer.Option(
            "--torch-device",
            help="cpu, cuda, cuda:N or auto (default: the run's own model.torch_device).",
        ),
    ] = None,
) -> None:
    """Top-1 of every exit of the final global model(s) on DIR, with the training preprocessing,
    next to the run's synthetic held-out and novel-set top-1."""
    models = [results / MODEL] if (results / MODEL).is_file() else sorted(
        results.rglob(MODEL)
    )  # fmt: skip
    if not results.exists():
        raise DqflError(f"results folder not found: {results}")
    if json_out is not None:
        from dqfl.outputs import check_file

        check_file(json_out, "--json")
    if not models:
        raise DqflError(f"no model.pt under {results}: is it a finished dqfl run folder?")
    for path in models:  # every file (and the device) checked before any is scored
        load_model(path, torch_device)
    rows = [evaluate_model(path, data_root, torch_device) for path in models]
    for row in rows:
        exits = ", ".join(f"exit {i + 1}: {100 * a:.1f}%" for i, a in enumerate(row["top1"]))
        skipped = f" ({row['n_skipped']} unreadable skipped)" if row["n_skipped"] else ""
        typer.echo(f"{row['run']}: {row['n_images']} images{skipped} → {exits}")
        for key, label in (("held_out_top1", "synthetic held-out"), ("novel_top1", "novel set")):
            if row.get(key):
                typer.echo(f"  {label}: " + ", ".join(f"{100 * a:.1f}%" for a in row[key]))
    if json_out is not None:
        from dqfl.outputs import save_text

        save_text(json_out, json.dumps(rows, indent=2) + "\n")
        typer.echo(f"wrote {json_out}")


def evaluate_model(model_file: Path, data_root: Path, torch_device: str | None = None) -> dict:
    """Rebuild the run's model from model.pt and score every exit on the folder's images
    (on ``torch_device``, default the run's own)."""
    import torch

    from dqfl.data.imagefolder import load_pool
    from dqfl.training import evaluate as evaluate_exits

    cfg, model = load_model(model_file, torch_device)
    data_cfg = dataclasses.replace(cfg.data_config(), data_root=str(data_root))
    data_cfg.validate()
    pool = load_pool(data_cfg)
    x = torch.as_tensor(pool["x"], dtype=torch.float32)
    y = torch.as_tensor(pool["y"], dtype=torch.int64)
    top1 = evaluate_exits(model, x, y)
    try:
        summary = json.loads((model_file.parent / SUMMARY).read_text())
    except (OSError, ValueError):
        summary = {}  # an unfinished or foreign run: no figures to compare with
    return {
        "run": str(model_file.parent),
        "n_images": int(len(y)),
        "n_skipped": int(pool.get("skipped", 0)),
        "top1": [float(a) for a in top1],
        # the run's own figures for comparison: in-distribution and novel synthetic held-out
        "held_out_top1": summary.get("top1"),
        "novel_top1": summary.get("novel_top1"),
    }


def load_model(model_file: Path, torch_device: str | None = None):
    """(config, model) rebuilt from a run's model.pt, strictly, on ``torch_device`` (default:
    the run's ``model.torch_device``)."""
    from dqfl.federation.common import build
    from dqfl.federation.common import torch_device as resolve

    cfg, state = read_model_file(model_file)
    if torch_device is not None:
        cfg.model.torch_device = torch_device
        cfg.model.validate()
    model = build(cfg)
    load_strict(model, state, model_file)
    return cfg, model.to(resolve(cfg))


def read_model_file(model_file: Path):
    """(config, state dict) of a run's model.pt; anything damaged is a DqflError naming it."""
    import torch

    from dqfl.federation.common import config_from_json

    if model_file.stat().st_size == 0:
        raise DqflError(f"{model_file} is empty (0 bytes): not a dqfl model file")
    try:
        payload = torch.load(model_file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        raise DqflError(
            f"{model_file} is not a readable dqfl model file (damaged, or not written by dqfl: "
            f"{type(exc).__name__})"
        ) from None
    if not isinstance(payload, dict) or not {"config", "state_dict"} <= set(payload):
        raise DqflError(f"{model_file} is not a dqfl model file: no config and state_dict inside")
    try:
        cfg = config_from_json(payload["config"])
    except (DqflError, ValueError, TypeError) as exc:
        raise DqflError(f"{model_file} holds an unusable configuration: {exc}") from None
    state = payload["state_dict"]
    if not isinstance(state, dict) or not state:
        raise DqflError(f"{model_file} holds no model parameters (empty state dict)")
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DqflError(f"{model_file} holds a state dict with non-tensor values")
    return cfg, state


def load_strict(model, state: dict, model_file: Path) -> None:
    """Every parameter present with its shape, nothing extra: else a clear DqflError."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = [
        f"{k} {tuple(state[k].shape)} (model: {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing[:3])}" + (" ..." if len(missing) > 3 else ""))
    if extra:
        problems.append(f"unexpected {', '.join(extra[:3])}" + (" ..." if len(extra) > 3 else ""))
    if wrong:
        problems.append(f"wrong shape {', '.join(wrong[:3])}" + (" ..." if len(wrong) > 3 else ""))
    if problems:
        raise DqflError(
            f"{model_file} does not match its configuration's model: " + "; ".join(problems)
        )
    model.load_state_dict(state, strict=True)
