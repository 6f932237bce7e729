"""`dqfl sweep`: a grid over channel quality, methods, seeds and any config key, resumable."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Annotated

import typer

from dqfl.cli.run_cmd import ConfigOption, SetOption
from dqfl.config import RunConfig, apply_overrides, load_config
from dqfl.errors import DqflError
from dqfl.limits import BYTES_PER_POINT, check_fits


def sweep(
    config: ConfigOption = None,
    set_: SetOption = None,
    snr_db: Annotated[
        str,
        typer.Option("--snr-db", help="Channel qualities: start:stop:step (inclusive) or a,b,c."),
    ] = "-5:25:5",
    methods: Annotated[
        str, typer.Option(help="Comma-separated: dqfl, qfl, classical, centralized.")
    ] = ("dqfl,qfl,classical"),
    seeds: Annotated[
        str, typer.Option(help="Comma-separated seeds or start:stop (inclusive).")
    ] = "0:4",
    grid: Annotated[
        list[str] | None,
        typer.Option(
            help="Extra axis over any key, e.g. --grid federation.strategy=fedavg,fedprox."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Sweep folder; finished points in it are skipped.")
    ] = Path("results/sweep"),
) -> None:
    """Run every point of the grid inside one start of Flower's simulation engine."""
    base = load_config(config, set_)
    points = expand_grid(
        base, parse_values(snr_db, "--snr-db"), _split(methods, "--methods"), _seeds(seeds), grid
    )

    from dqfl import interrupt
    from dqfl.cli.apps import run_points
    from dqfl.cli.preflight import check_points
    from dqfl.cli.progress import ProgressPrinter

    targets = [(cfg, out / cfg.run_name()) for cfg in points]
    interrupt.set_on_interrupt(interrupt.keep_finished([p for _, p in targets], root=out))
    done = check_points(targets, label_points=True)
    printer = ProgressPrinter(total_points=len(targets))
    printer.console.print(f"dqfl sweep: {len(targets)} points ({done} finished earlier) → {out}")
    with printer:
        run_points(targets, progress=printer)
    typer.echo(f"sweep complete: {out} (next: dqfl report {out})")


def expand_grid(
    base: RunConfig,
    snrs: list[float],
    methods: list[str],
    seeds: list[int],
    grid: list[str] | None,
) -> list[RunConfig]:
    """The cartesian product of the axes as validated configs, each with a readable name."""
    axes: list[tuple[str, list[str]]] = [("channel.snr_db", [f"{s:g}" for s in snrs])]
    axes.append(("federation.method", methods))
    axes.append(("seed", [str(s) for s in seeds]))
    for item in grid or []:
        if "=" not in item:
            raise DqflError(
                f"--grid expects key=v1,v2 (e.g. federation.lr=0.01,0.05); got {item!r}"
            )
        key, values = item.split("=", 1)
        axes.append((key.strip(), _split(values, f"--grid {key.strip()}")))
    n_points = math.prod(len(values) for _, values in axes)
    check_fits(f"a grid of {n_points} points", n_points * BYTES_PER_POINT, "use fewer values")
    configs = []
    for combo in itertools.product(*(values for _, values in axes)):
        overrides = [f"{key}={value}" for (key, _), value in zip(axes, combo, strict=True)]
        cfg = apply_overrides(base, overrides).validate()
        extra = "".join(f"-{key.split('.')[-1]}={_safe(value)}" for key, value in zip(
            [k for k, _ in axes[3:]], combo[3:], strict=True
        ))  # fmt: skip
        cfg.name = f"{cfg.federation.method}-snr{cfg.channel.snr_db:g}-seed{cfg.seed}{extra}"
        configs.append(cfg)
    return configs


def parse_values(text: str, option: str) -> list[float]:
    """``-5:25:5`` (inclusive range) or ``0,10,20``."""
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3 or parts[2] <= 0 or parts[1] < parts[0]:
                raise ValueError
            start, stop, step = parts
            n = int(round((stop - start) / step)) + 1
            check_fits(f"{option} {text} ({n} values)", n * BYTES_PER_POINT, "use a larger step")
            return [round(start + i * step, 6) for i in range(n)]
        values = [float(p) for p in _split(text, option)]
        if not all(math.isfinite(v) for v in values):
            raise ValueError
        return values
    except (ValueError, OverflowError):
        raise DqflError(
            f"{option} must be start:stop:step with step > 0 (e.g. -5:25:5) or a list (0,10,20); "
            f"got {text!r}"
        ) from None


def _seeds(text: str) -> list[int]:
    try:
        if ":" in text:
            start, stop = (int(p) for p in text.split(":"))
            if stop < start:
                raise ValueError
            n = stop - start + 1
            check_fits(f"--seeds {text} ({n} seeds)", n * BYTES_PER_POINT, "use fewer seeds")
            return list(range(start, stop + 1))
        return [int(p) for p in _split(text, "--seeds")]
    except ValueError:
        raise DqflError(
            f"--seeds must be integers like 0,1,2 or start:stop with stop >= start (0:4); "
            f"got {text!r}"
        ) from None


def _split(text: str, option: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise DqflError(f"{option} expects a comma-separated list of values; got {text!r}")
    return values


def _safe(value: str) -> str:
    """A grid value as part of a folder name (paths as values must not nest folders)."""
    return value.replace("/", "_").replace("\\", "_")
