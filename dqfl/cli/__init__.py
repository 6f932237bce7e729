"""The `dqfl` command line.

Each subsystem owns its commands in its own module (``dqfl/<room>/cli.py``); this file only mounts
them and turns user errors into one clear line and exit code 2.
"""

from __future__ import annotations

import importlib
import sys

import typer

from dqfl.errors import DqflError

app = typer.Typer(
    name="dqfl",
    help="Federated dynamic quantum neural networks over a fading vehicular uplink.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# (name, "module:attribute", kind): kind "group" mounts a Typer sub-app, "command" a function.
_MOUNTS: list[tuple[str, str, str]] = [
    ("run", "dqfl.cli.run_cmd:run", "command"),
    ("sweep", "dqfl.cli.sweep_cmd:sweep", "command"),
    ("report", "dqfl.cli.report_cmd:report", "command"),
    ("evaluate", "dqfl.cli.evaluate_cmd:evaluate", "command"),
    ("data", "dqfl.data.cli:app", "group"),
    ("channel", "dqfl.channel.cli:channel", "command"),
    ("therapy", "dqfl.therapy.cli:app", "group"),
]


def _mount() -> None:
    for name, target, kind in _MOUNTS:
        module_name, attr = target.split(":")
        obj = getattr(importlib.import_module(module_name), attr)
        if kind == "group":
            app.add_typer(obj, name=name)
        else:
            app.command(name)(obj)


_mount()


def main() -> None:
    """Console-script entry point: user errors become one line on stderr and exit code 2;
    the first Ctrl-C stops any command promptly with exit code 130 (see ``interrupt``)."""
    import warnings

    from dqfl import interrupt

    interrupt.install()
    # a warning is one line for the user, not the library's source line
    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"
    try:
        app(standalone_mode=False)
    except DqflError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            typer.echo("aborted", err=True)
            sys.exit(130)
        raise
