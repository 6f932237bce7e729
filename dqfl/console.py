"""The `dqfl` console script: Ctrl-C handling first, then the command tree.

Importing the commands pulls in torch, which takes seconds; an interrupt in that time must already
get the clean exit (code 130, one line), so the handler is installed before anything heavy.
"""

from __future__ import annotations


def main() -> None:
    from dqfl import interrupt

    interrupt.install()
    from dqfl.cli import main as cli_main

    cli_main()
