"""How the federation scales: wall time per round and memory for 10, 100 and 1000 vehicles.

Each fleet size runs in its own subprocess (a clean Ray start, a clean peak-RSS figure) through
the real harness (`dqfl.cli.apps.run_points` -> one `run_simulation`). Memory: the driver's peak RSS
(`resource.getrusage`) and the peak summed RSS of the driver's whole process tree (Ray's GCS,
raylet and worker actors), sampled from /proc every 0.5 s.

    .venv/bin/python experiments/bench_scale.py                 # 10, 100, 1000 vehicles
    .venv/bin/python experiments/bench_scale.py --sizes 10,100 --rounds 2 --samples 20
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


def _tree_rss_bytes(root_pid: int) -> int:
    """Summed RSS of ``root_pid`` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text().split()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = int(statm[1]) * page
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_size(n: int, rounds: int, samples: int, fraction: float, out: Path) -> dict:
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
        ],
    )
    peak = {"tree": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["tree"] = max(peak["tree"], _tree_rss_bytes(os.getpid()))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    summary = run_points([(cfg, out / cfg.run_name())])[0]
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    rows = [json.loads(line) for line in (out / cfg.run_name() / HISTORY).read_text().splitlines()]
    return {
        "vehicles": n,
        "samples_per_vehicle": samples,
        "rounds": rounds,
        "fraction": fraction,
        "round_wall_s": [round(r["wall_s"], 2) for r in rows],
        "total_wall_s": round(wall, 1),
        "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "tree_peak_rss_mb": round(peak["tree"] / 1024**2, 1),
        "final_top1": [round(a, 3) for a in summary["top1"]],
        "failures": summary["total_failures"],
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--samples", type=int, default=10, help="samples per vehicle")
    parser.add_argument("--fraction", type=float, default=1.0)
    parser.add_argument("--single", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = (args.out or Path(tempfile.mkdtemp(prefix="dqfl-scale-"))).resolve()
    if args.single is not None:
        print(
            "RESULT "
            + json.dumps(run_size(args.single, args.rounds, args.samples, args.fraction, out))
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
