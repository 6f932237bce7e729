"""What SUMO costs: a 10-vehicle, 20-round federation on SUMO traffic against the built-in road.

Each federation runs in its own subprocess through the real harness (`dqfl.cli.apps.run_points`:
one start of Flower's simulation engine, SUMO prepared before it). The plate data are rendered
once beforehand (a 1-round warm-up) so both sides find them cached; the SUMO side starts from an
empty SUMO cache in its first repeat (scenario generation with netgenerate/randomTrips + the SUMO
run) and from a warm one after. Same seed, same config apart from ``channel.mobility``.

    .venv/bin/python experiments/bench_sumo.py                       # urban, 2 repeats
    .venv/bin/python experiments/bench_sumo.py --scenario highway --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
from dqfl.config import load_config
from dqfl.cli.apps import run_points
cfg = load_config(None, sys.argv[2:])
t0 = time.perf_counter()
summary = run_points([(cfg, sys.argv[1])])[0]
print(json.dumps({"wall_s": time.perf_counter() - t0, "top1": summary["top1"][-1]}))
"""


def run(out: Path, sets: list[str], env: dict[str, str]) -> dict:
    args = [sys.executable, "-c", CHILD, str(out), *sets]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"run failed ({' '.join(sets)}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def prepare_seconds(args: argparse.Namespace, cache: Path) -> tuple[float, float]:
    """Cold and cached preparation of the run's trajectories, timed in this process."""
    import time

    from dqfl.channel import ChannelConfig
    from dqfl.channel.mobility import prepare_mobility

    os.environ["DQFL_CACHE_DIR"] = str(cache)
    cfg = ChannelConfig(mobility="sumo", scenario=args.scenario)
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        prepare_mobility(cfg, args.vehicles, 0, args.rounds + 1)
        times.append(time.perf_counter() - t0)
    return times[0], times[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="urban", help="highway, urban or a .sumocfg")
    ap.add_argument("--vehicles", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="dqfl-bench-sumo-"))
    env = {**os.environ, "DQFL_CACHE_DIR": str(tmp / "cache"), "PYTHONPATH": str(ROOT)}
    base = [f"data.n_vehicles={args.vehicles}", f"federation.rounds={args.rounds}"]
    sumo = ["channel.mobility=sumo", f"channel.scenario={args.scenario}"]
    try:
        print("warm-up: rendering the plate data once (1 round, built-in road)", flush=True)
        run(tmp / "warmup", [f"data.n_vehicles={args.vehicles}", "federation.rounds=1"], env)
        road_s: list[float] = []
        sumo_s: list[float] = []
        for rep in range(args.repeats):
            road = run(tmp / f"road-{rep}", base, env)
            road_s.append(road["wall_s"])
            print(f"repeat {rep + 1}: road {road['wall_s']:.1f} s", flush=True)
            cold = rep == 0
            if cold:
                shutil.rmtree(tmp / "cache" / "sumo", ignore_errors=True)
            res = run(tmp / f"sumo-{rep}", base + sumo, env)
            sumo_s.append(res["wall_s"])
            state = "cold SUMO cache" if cold else "warm SUMO cache"
            print(f"repeat {rep + 1}: sumo {res['wall_s']:.1f} s ({state})", flush=True)
        prep = prepare_seconds(args, tmp / "prep-cache")
        r, s = sum(road_s) / len(road_s), sum(sumo_s) / len(sumo_s)
        print(
            f"\n{args.vehicles} vehicles x {args.rounds} rounds, scenario {args.scenario}: "
            f"road {r:.1f} s, sumo {s:.1f} s (mean of {args.repeats}); "
            f"SUMO adds {100 * (s - r) / r:+.1f} % wall time (target <= +20 %)"
        )
        print(
            f"SUMO's own work (in this process, no training): scenario generation + SUMO run "
            f"{prep[0]:.2f} s cold, {prep[1]:.3f} s from the cache = "
            f"{100 * prep[0] / r:.1f} % / {100 * prep[1] / r:.2f} % of the road federation"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
