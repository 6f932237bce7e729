"""`dqfl report`: tables, paired differences and plots from a results folder (Markdown + HTML)."""

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
    """Write report.md, report.html (self-contained), CSV tables and PNG plots for every finished
    run under RESULTS: every cell mean ± 95 % CI over seeds, paired differences per seed."""
    from dqfl.errors import DqflError
    from dqfl.outputs import check_folder
    from dqfl.report import write_report

    check_folder(out if out is not None else results / "report", "--out")
    try:
        path = write_report(results, out)
    except OSError as exc:
        raise DqflError(f"cannot write the report: {exc}") from None
    typer.echo(f"report written to {path}")
