"""The `dqfl` console script: Ctrl-C handling first, then the command tree.

Importing the commands pulls in torch, which takes seconds; an interrupt in that time must already
get the clean exit (code 130, one line), so the handler is installed before anything heavy.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading


def main() -> None:
    from dqfl import interrupt

    interrupt.install()
    from dqfl.cli import main as cli_main

    try:
        cli_main()
    except SystemExit as exc:
        leave(exc.code)
        raise
    leave(0)


def leave(code: object) -> None:
    """End the process once a command has finished, without the interpreter's teardown.

    Why: after a command everything it wrote is closed and Ray is shut down, yet Python's own
    teardown (freeing every module and object of torch, numba, Flower and Ray, with a final
    garbage collection) still took 1.4-1.8 s of a ~25 s ``dqfl run``. The exit handlers
    registered with :mod:`atexit` still run (logging, Ray, temporary files); only the teardown is
    skipped. Left to Python as usual: a code that is not an integer (it prints its message) and
    a process with a non-daemon thread still running (Python would wait for it).
    """
    code = 0 if code is None else code
    if not isinstance(code, int):
        return
    main_thread = threading.main_thread()
    if any(t is not main_thread and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()  # CPython's own runner of the registered handlers, as at exit
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
