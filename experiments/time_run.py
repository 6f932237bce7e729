"""Wall time of `dqfl run` (what `make run` runs), checkouts side by side: before/after figures.

Each checkout's `dqfl run` is started as its own process (``python -m dqfl run`` with the checkout
first on ``PYTHONPATH``, in the checkout's folder, so each uses its own data cache and compiled
kernels) and timed from start to exit, the checkouts interleaved (ABAB.., reversed every other
repetition) so that a busy spell of the shared machine hits both; medians are reported with
every run. One untimed run per checkout first renders its data cache and loads its kernels (a
fresh checkout's first run also compiles them). Also printed: the whole machine's busy
CPU-seconds during each run (from /proc/stat, so other load counts too) and each run's final
top-1, which must agree between checkouts with the same numerics.

    python experiments/time_run.py                       # this checkout, 3 runs
    git worktree add ../dqfl-before ed3e19b              # before issue 11's simulator work
    python experiments/time_run.py --checkout ../dqfl-before --checkout . --reps 3

Extra arguments after ``--`` go to `dqfl run` (e.g. ``-- --set federation.rounds=5``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def busy_seconds() -> float | None:
    """CPU-seconds the whole machine has spent busy since boot (None off Linux)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_once(checkout: Path, out: Path, extra: list[str]) -> tuple[float, float | None, dict]:
    """One `dqfl run` of ``checkout`` into ``out``: wall seconds, busy CPU-seconds, summary."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    shutil.rmtree(out, ignore_errors=True)
    cpu0, start = busy_seconds(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dqfl", "run", "--out", str(out), *extra],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    wall, cpu1 = time.perf_counter() - start, busy_seconds()
    if done.returncode:
        sys.exit(f"error: dqfl run failed in {checkout}:\n{done.stderr[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return wall, cpu, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--checkout",
        action="append",
        type=Path,
        help="a dqfl checkout (repeatable; default: this one)",
    )
    parser.add_argument("--reps", type=int, default=3, help="timed runs per checkout")
    parser.add_argument("extra", nargs="*", help="arguments for dqfl run (after --)")
    args = parser.parse_args()
    checkouts = [c.resolve() for c in args.checkout or [Path(__file__).resolve().parents[1]]]
    for c in checkouts:
        if not (c / "dqfl" / "__init__.py").is_file():
            sys.exit(f"error: {c} is not a dqfl checkout (no dqfl/__init__.py)")
    if args.reps < 1:
        sys.exit("error: --reps must be at least 1")
    names = [f"{i}:{c.name}" for i, c in enumerate(checkouts)]
    walls: dict[str, list[float]] = {n: [] for n in names}
    top1: dict[str, set[tuple[float, ...]]] = {n: set() for n in names}
    with tempfile.TemporaryDirectory(prefix="dqfl-time-run-") as tmp:
        for name, c in zip(names, checkouts, strict=True):
            print(f"{name}: untimed first run (data cache, kernels) ...", flush=True)
            run_once(c, Path(tmp) / "warm", args.extra)
        for rep in range(args.reps):
            order = list(zip(names, checkouts, strict=True))
            for name, c in order if rep % 2 == 0 else order[::-1]:
                wall, cpu, summary = run_once(c, Path(tmp) / name.replace(":", "-"), args.extra)
                walls[name].append(wall)
                final = tuple(round(100 * a, 1) for a in summary["top1"])
                top1[name].add(final)
                busy = "" if cpu is None else f"  machine busy {cpu:5.1f} CPU-s"
                print(f"rep {rep + 1}  {name:24s} {wall:6.1f} s{busy}  top-1 {final}", flush=True)
    print("\ncheckout                  median wall   runs (s)          final top-1 per exit (%)")
    for name in names:
        runs = " ".join(f"{w:.1f}" for w in walls[name])
        finals = "; ".join(str(t) for t in sorted(top1[name]))
        print(f"{name:24s} {statistics.median(walls[name]):9.1f} s   {runs:16s}  {finals}")
    if len(names) > 1:
        last = statistics.median(walls[names[-1]])
        for name in names[:-1]:
            ratio = statistics.median(walls[name]) / last
            print(f"{name} / {names[-1]}: {ratio:.2f}x (medians)")


if __name__ == "__main__":
    main()
