"""Where `dqfl run`'s wall time goes: one run, its phases timed from start to exit.

The run is the real command (``python -m dqfl run ...`` in a child process, this checkout first
on ``PYTHONPATH``); the child times a few of its own calls by wrapping them (the CLI's checks,
Ray's start, the progress events of the rounds, the engine's stop) and writes the marks when its
exit handlers run; the parent adds the process's end. Phases:

* ``imports``: interpreter start to the CLI's command tree loaded;
* ``to checks``: the config and the command's own imports;
* ``checks``: the CLI's checks before any work (torch, the model, loading the kernels);
* ``to ray``: Flower's simulation engine and the apps imported;
* ``ray start``: ``ray.init`` with the workers' preload (``harness.start_engine``);
* ``to round 1``: Ray started to round 1 reported (actors' preloads, discovery, round 1);
* ``rounds 2..N``: the remaining rounds (median and total);
* ``run's end``: the last round to the engine's stop starting (novel set, results);
* ``engine stop``: Flower's threads and Ray's shut-down;
* ``exit``: the rest (printing the summary, exit handlers, the process's end).

    python experiments/run_timeline.py                 # the default run
    python experiments/run_timeline.py -- --set federation.rounds=5
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wrap(module: str, attr: str, name: str, mark: Callable[[str], None]) -> None:
    """Replace ``module.attr`` by a version that marks ``name start`` and ``name end``; a layout
    without it (another Flower or dqfl version) ends the run with one line."""
    try:
        owner = importlib.import_module(module)
        *path, last = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        inner = getattr(owner, last)
    except (ImportError, AttributeError) as exc:
        sys.exit(f"error: cannot time {module}.{attr} (installed versions lack it: {exc})")

    @functools.wraps(inner)
    def timed(*a, **k):
        mark(f"{name} start")
        try:
            return inner(*a, **k)
        finally:
            mark(f"{name} end")

    setattr(owner, last, timed)


def _child(marks_file: str, args: list[str]) -> None:
    """Run `dqfl run args` in this process with its calls wrapped; marks go to ``marks_file``."""
    import atexit

    t0 = float(os.environ["DQFL_TIMELINE_T0"])
    marks: list[tuple[float, str]] = []

    def mark(name: str) -> None:
        marks.append((time.time() - t0, name))

    atexit.register(lambda: Path(marks_file).write_text(json.dumps(marks)))
    from dqfl import cli  # noqa: F401  (the command tree: the end of "imports")

    mark("cli")
    wrap("dqfl.cli.preflight", "check_points", "checks", mark)
    wrap("dqfl.federation.harness", "start_engine", "ray", mark)
    wrap("flwr.server.superlink.fleet.vce.backend.raybackend", "RayBackend.terminate", "stop", mark)
    from dqfl.cli import progress

    printer_call = progress.ProgressPrinter.__call__

    def on_event(self, event):
        if event.get("event") == "round":
            mark(f"round {event['round']}")
        return printer_call(self, event)

    progress.ProgressPrinter.__call__ = on_event
    sys.argv = ["dqfl", "run", *args]
    from dqfl.console import main

    main()


def _phases(marks: list[tuple[float, str]], total: float) -> list[tuple[str, float]]:
    """The phases of the module docstring from the child's marks and the process's end."""
    at = {name: t for t, name in marks}
    rounds = sorted((t, int(n.split()[1])) for t, n in marks if n.startswith("round "))
    if not rounds or "ray end" not in at or "stop start" not in at:
        sys.exit("error: the run did not reach the engine (a centralised run, or it failed)")
    first, last = rounds[0][0], rounds[-1][0]
    return [
        ("imports", at["cli"]),
        ("to checks", at["checks start"] - at["cli"]),
        ("checks", at["checks end"] - at["checks start"]),
        ("to ray", at["ray start"] - at["checks end"]),
        ("ray start", at["ray end"] - at["ray start"]),
        ("to round 1", first - at["ray end"]),
        (f"rounds 2..{len(rounds)}", last - first),
        ("run's end", at["stop start"] - last),
        ("engine stop", at["stop end"] - at["stop start"]),
        ("exit", total - at["stop end"]),
    ]


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3:])
        return
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    elif args:
        sys.exit("usage: python experiments/run_timeline.py [-- dqfl run arguments]")
    with tempfile.TemporaryDirectory(prefix="dqfl-timeline-") as tmp:
        marks_file = Path(tmp) / "marks.json"
        out = Path(tmp) / "run"
        start = time.time()
        env = dict(os.environ, PYTHONPATH=str(ROOT), DQFL_TIMELINE_T0=repr(start))
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(marks_file), "--out", str(out), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        total = time.time() - start
        if done.returncode:
            last = (done.stderr.strip().splitlines() or [""])[-1]
            if last.startswith("error: cannot time "):
                sys.exit(last)
            sys.exit(f"error: dqfl run failed:\n{done.stderr[-2000:]}")
        marks = [(float(t), str(n)) for t, n in json.loads(marks_file.read_text())]
    phases = _phases(marks, total)
    rounds = sorted(t for t, n in marks if n.startswith("round "))
    gaps = [b - a for a, b in zip(rounds, rounds[1:], strict=False)]
    print(f"dqfl run {' '.join(args)}".rstrip() + f": {total:.1f} s from start to exit")
    for name, seconds in phases:
        print(f"  {name:14s} {seconds:6.2f} s")
    if gaps:
        print(f"  (a round after the first: median {statistics.median(gaps):.2f} s)")


if __name__ == "__main__":
    main()
