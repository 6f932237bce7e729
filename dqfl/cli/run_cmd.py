"""`dqfl run`: one federation with embedded defaults, a config file and/or --set overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dqfl.config import load_config
from dqfl.federation.results import SUMMARY

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML file with \\[data], \\[model], \\[channel], \\[federation] sections.",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", help="Override one key, e.g. --set federation.rounds=5 (repeatable)."
    ),
]


def run(
    config: ConfigOption = None,
    set_: SetOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: output_dir/<name>).")
    ] = None,
) -> None:
    """Run one federation and write its results folder (config, history, summary, model)."""
    cfg = load_config(config, set_)
    out_dir = out or _fresh_dir(Path(cfg.output_dir) / cfg.run_name())

    from dqfl import interrupt
    from dqfl.cli.apps import run_points
    from dqfl.cli.preflight import check_points
    from dqfl.cli.progress import ProgressPrinter

    interrupt.set_on_interrupt(interrupt.keep_finished([out_dir]))
    reused = check_points([(cfg, out_dir)]) > 0
    printer = ProgressPrinter()
    printer.console.print(
        f"dqfl run: method={cfg.federation.method} strategy={cfg.federation.strategy} "
        f"vehicles={cfg.data.n_vehicles} rounds={cfg.federation.rounds} "
        f"snr={cfg.channel.snr_db:g} dB seed={cfg.seed}"
    )
    with printer:
        summaries = run_points([(cfg, out_dir)], progress=printer)
    summary = summaries[0] if summaries else {}
    top1 = summary.get("top1") or []
    if top1:
        typer.echo("final top-1 per exit: " + ", ".join(f"{100 * a:.1f}%" for a in top1))
    novel = summary.get("novel_top1") or []
    if novel:
        typer.echo(
            "novel fonts/conditions top-1 per exit: " + ", ".join(f"{100 * a:.1f}%" for a in novel)
        )
    if reused:
        typer.echo(f"results in {out_dir} (finished earlier with this configuration; not rerun)")
    else:
        typer.echo(f"results written to {out_dir}")


def _fresh_dir(base: Path) -> Path:
    """Never overwrite a finished run: append -2, -3, ... to the folder name."""
    if not (base / SUMMARY).exists():
        return base
    n = 2
    while (base.parent / f"{base.name}-{n}" / SUMMARY).exists():
        n += 1
    return base.parent / f"{base.name}-{n}"
