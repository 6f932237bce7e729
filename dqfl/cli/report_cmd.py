"""`dqfl report`: tables and plots from a results folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    results: Annotated[Path, typer.Argument(help="A run folder or a sweep folder.")],
    out: Annotated[
        Path | None, typer.Option(help="Where to write (default: RESULTS/report).")
    ] = None,
) -> None:
    """Write report.md, CSV tables and PNG plots for every finished run under RESULTS."""
    from dqfl.report import write_report

    path = write_report(results, out)
    typer.echo(f"report written to {path}")
