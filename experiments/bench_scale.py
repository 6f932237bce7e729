"""How the federation scales: wall time, CPU time and memory per round for 10 to 10,000 vehicles.

Each fleet size runs in its own subprocess (a clean Ray start, a clean peak-RSS figure) through
the real harness (`dqfl.cli.apps.run_points` -> one `run_simulation`). Memory: the driver's peak RSS
(`resource.getrusage`) and the peak summed RSS of the driver's whole process tree (Ray's GCS,
raylet and worker actors), sampled from /proc every 0.5 s. CPU: the tree's CPU seconds (user +
system) per round and per kind of process (driver, Ray actors, Ray's daemons), read from /proc at
each round's record; on a shared machine the wall time depends on the load (also printed), the CPU
seconds much less.

    .venv/bin/python experiments/bench_scale.py                 # 10, 100, 1000 vehicles
    .venv/bin/python experiments/bench_scale.py --sizes 10000 --rounds 2
    .venv/bin/python experiments/bench_scale.py --sizes 100 --set federation.local_epochs=1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _read(path: str) -> bytes:
    """A /proc file's bytes (plain ``open``: this runs twice a second in the driver, whose
    CPU seconds it measures)."""
    with open(path, "rb") as fh:
        return fh.read()


def _kind(pid: int) -> str:
    """A short name for a process of the tree (the driver, Ray actors, Ray's daemons)."""
    if pid == os.getpid():
        return "driver"
    try:
        args = _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode().split()
    except OSError:
        return "gone"
    if not args:  # exited, not yet reaped: keep the name it had
        return "gone"
    if args[0].startswith("ray::"):  # a Ray worker names itself after its actor
        return args[0]
    script = next((a for a in args[1:] if a.endswith(".py")), args[0])
    return Path(script).name.removesuffix(".py")  # raylet, gcs_server, default_worker, ...


_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


def _tree_sample(root_pid: int) -> tuple[int, dict[int, float]]:
    """Summed RSS of ``root_pid`` and all its descendants, and each one's CPU seconds so far
    (user + system; Linux /proc). One read of ``/proc/<pid>/stat`` per process (parent, CPU
    ticks and resident pages all live there): a sample costs about 1 ms of the driver's CPU."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = _read(f"/proc/{entry}/stat")
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[1].split()
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * _PAGE
        cpu[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    total, stack, tree_cpu = 0, [root_pid], {}
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        tree_cpu[pid] = cpu.get(pid, 0.0)
        stack.extend(children.get(pid, []))
    return total, tree_cpu


class _Tracker:
    """Samples the process tree every 0.5 s: peak summed RSS, CPU seconds per process."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_rss = 0
        self.cpu_s: dict[int, float] = {}  # last CPU seconds seen per process (dead ones kept)
        self.kinds: dict[int, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> dict[str, float]:
        """Sample now; return the tree's CPU seconds so far per kind of process (dead ones
        included)."""
        rss, cpu = _tree_sample(self.root)
        with self._lock:
            self.peak_rss = max(self.peak_rss, rss)
            self.cpu_s.update(cpu)
            for pid in cpu:
                if (kind := _kind(pid)) != "gone":
                    self.kinds[pid] = kind
            return self.by_kind()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.5)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        own = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu_s[self.root] = own.ru_utime + own.ru_stime

    def by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, seconds in self.cpu_s.items():
            kind = self.kinds.get(pid, "other")
            out[kind] = round(out.get(kind, 0.0) + seconds, 1)
        return dict(sorted(out.items()))


def run_size(
    n: int, rounds: int, samples: int, fraction: float, out: Path, extra: list[str]
) -> dict:
    """One fleet size in this process: returns the measurements."""
    from dqfl.cli.apps import run_points
    from dqfl.config import load_config
    from dqfl.federation.results import HISTORY

    cfg = load_config(
        None,
        [
            f"data.n_vehicles={n}",
            f"data.samples_per_vehicle={samples}",
            f"federation.rounds={rounds}",
            f"federation.fraction={fraction}",
            f"name=scale-{n}",
            f"output_dir={out}",
            *extra,
        ],
    )
    tracker = _Tracker(os.getpid())
    marks: list[dict[str, float]] = []  # tree CPU seconds per kind: at the start, at each round

    def progress(event: dict) -> None:
        if event.get("event") in ("point_start", "round"):
            marks.append(tracker.sample())

    load_before = os.getloadavg()[0]
    tracker.start()
    t0 = time.perf_counter()
    summary = run_points([(cfg, out / cfg.run_name())], progress)[0]
    wall = time.perf_counter() - t0
    tracker.stop()
    rows = [json.loads(line) for line in (out / cfg.run_name() / HISTORY).read_text().splitlines()]
    return {
        "vehicles": n,
        "samples_per_vehicle": samples,
        "rounds": rounds,
        "fraction": fraction,
        "round_wall_s": [round(r["wall_s"], 2) for r in rows],
        "total_wall_s": round(wall, 1),
        "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "tree_peak_rss_mb": round(tracker.peak_rss / 1024**2, 1),
        "final_top1": [round(a, 3) for a in summary["top1"]],
        "failures": summary["total_failures"],
        "round_tree_cpu_s": [
            round(sum(b.values()) - sum(a.values()), 1)
            for a, b in zip(marks, marks[1:], strict=False)
        ],
        "round_cpu_s_by_process": [
            {k: round(v - a.get(k, 0.0), 1) for k, v in b.items() if v - a.get(k, 0.0) >= 0.1}
            for a, b in zip(marks, marks[1:], strict=False)
        ],
        "tree_cpu_s": round(sum(tracker.cpu_s.values()), 1),
        "cpu_s_by_process": tracker.by_kind(),
        "load_avg_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--samples", type=int, default=10, help="samples per vehicle")
    parser.add_argument("--fraction", type=float, default=1.0)
    parser.add_argument(
        "--set", action="append", default=[], help="extra config override (repeatable)"
    )
    parser.add_argument("--single", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = (args.out or Path(tempfile.mkdtemp(prefix="dqfl-scale-"))).resolve()
    if args.single is not None:
        print(
            "RESULT "
            + json.dumps(
                run_size(args.single, args.rounds, args.samples, args.fraction, out, args.set)
            )
        )
        return 0
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        cmd = [
            sys.executable,
            __file__,
            "--single",
            str(n),
            "--rounds",
            str(args.rounds),
            "--samples",
            str(args.samples),
            "--fraction",
            str(args.fraction),
            "--out",
            str(out),
            *(f"--set={kv}" for kv in args.set),
        ]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
            return 1
        results.append(json.loads(line[len("RESULT ") :]))
        print(json.dumps(results[-1]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
