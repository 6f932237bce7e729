"""Fault robustness per aggregator, seed by seed: the README's faults table, in-process.

Every run is the round engine (``dqfl.federation.engine``) with the vehicles' own code
(``dqfl.federation.vehicle.train_vehicle``), exactly what the Flower apps run, minus the
transport: an injected crash becomes an error reply, a straggler is a vehicle that never answers
(under Flower it sleeps past the round's timeout and its late reply is dropped, so its training is
skipped here instead of waited out). Results are therefore those of ``dqfl sweep --config
experiments/sweep_faults.toml`` without the stragglers' waiting, and without honest replies that
a busy machine delivers after the timeout. Settings (``--variants``):

    clean       no faults, mean (the reference)
    survivors   30 % crashes + 10 % stragglers, no attackers, mean: what the honest vehicles
                left each round can learn (the best any aggregator can do)
    survivors_median, survivors_trimmed_mean   the same with a robust rule: its own cost
    oracle      all three faults, mean over the honest replies only (the server is told who
                attacked): the ceiling for any aggregator under these faults
    mean, median, trimmed_mean, krum   30 % crashes + 10 % stragglers + 20 % sign-flip (x10)
    *_clip      the same with federation.clip_updates = 1 (norm clipping before the rule)
    *_reject    the same with federation.reject_updates = 3 (norm outliers refused first)

    python experiments/fault_robustness.py --seeds 0,1 [--variants clean,median] \\
        [--set data.n_vehicles=30 ...] [--out results/fault-robustness]

One JSON line per (variant, seed) is printed and kept in ``--out`` (finished ones are skipped),
then a Markdown table of the final deepest-exit top-1: mean and half-range over the seeds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "experiments" / "sweep_faults.toml"
NO_FAULTS = [
    "faults.crash_fraction=0",
    "faults.straggler_fraction=0",
    "faults.byzantine_fraction=0",
]
VARIANTS: dict[str, list[str]] = {
    "clean": NO_FAULTS,
    "survivors": ["faults.byzantine_fraction=0"],
    "survivors_median": ["faults.byzantine_fraction=0", "federation.aggregator=median"],
    "survivors_trimmed_mean": ["faults.byzantine_fraction=0", "federation.aggregator=trimmed_mean"],
    "mean": ["federation.aggregator=mean"],
    "median": ["federation.aggregator=median"],
    "trimmed_mean": ["federation.aggregator=trimmed_mean"],
    "krum": ["federation.aggregator=krum"],
    "mean_clip": ["federation.aggregator=mean", "federation.clip_updates=1"],
    "median_clip": ["federation.aggregator=median", "federation.clip_updates=1"],
    "trimmed_mean_clip": ["federation.aggregator=trimmed_mean", "federation.clip_updates=1"],
    "mean_reject": ["federation.aggregator=mean", "federation.reject_updates=3"],
    "median_reject": ["federation.aggregator=median", "federation.reject_updates=3"],
    "trimmed_mean_reject": ["federation.aggregator=trimmed_mean", "federation.reject_updates=3"],
    "oracle": ["federation.aggregator=mean"],  # the attackers' replies are dropped (see run_one)
}
ORACLE = "oracle"


def run_one(overrides: list[str], drop_attackers: bool = False) -> dict:
    """One federation in-process; returns per-round counts and the final top-1 per exit."""
    import torch

    from dqfl.config import load_config
    from dqfl.federation.engine import Reply, RoundEngine
    from dqfl.federation.faults import VehicleCrash
    from dqfl.federation.vehicle import train_vehicle

    torch.set_num_threads(1)
    cfg = load_config(CONFIG, overrides).validate()
    engine = RoundEngine(cfg, range(cfg.data.n_vehicles))
    engine.initial_top1 = engine.evaluate()
    rounds = []
    t0 = time.perf_counter()
    for rnd in range(1, cfg.federation.rounds + 1):
        plan = engine.plan(rnd)
        replies = []
        for ins in plan.instructions:
            if ins.fault == "straggler" or (drop_attackers and ins.fault == "byzantine"):
                continue  # replies after the timeout (or, for the oracle, an attacker's): dropped
            try:
                r = train_vehicle(cfg, ins, engine.global_state)
            except VehicleCrash as exc:
                replies.append(Reply(ins.vehicle, error=str(exc)))
                continue
            replies.append(Reply(ins.vehicle, r.update, r.num_examples, r.train_loss))
        out = engine.conclude(plan, replies)
        record = engine.record(plan, out, engine.evaluate())
        rounds.append(
            {
                "round": rnd,
                "top1": [round(a, 4) for a in record.top1],
                "accepted": record.accepted,
                "byzantine_accepted": sum(plan.faults[v] == "byzantine" for v in out.accepted),
                "failures": record.failures,
                "timeouts": record.timeouts,
                "rejected": record.rejected,
            }
        )
    return {
        "top1": rounds[-1]["top1"],
        "wall_s": round(time.perf_counter() - t0, 1),
        "rounds": rounds,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--variants", default="clean,survivors,mean,median,trimmed_mean")
    ap.add_argument("--snr-db", type=float, default=15.0)
    ap.add_argument("--set", action="append", default=[], help="config override (repeatable)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "fault-robustness")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.variants.split(",")
    for name in names:
        if name not in VARIANTS:
            print(f"error: unknown variant {name!r}; use {', '.join(VARIANTS)}", file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    table: dict[str, list[float]] = {}
    for name in names:
        for seed in seeds:
            overrides = [
                f"channel.snr_db={args.snr_db:g}",
                f"seed={seed}",
                *args.set,
                *VARIANTS[name],
            ]
            digest = hashlib.sha256("\n".join(overrides).encode()).hexdigest()[:10]
            path = args.out / f"{name}-seed{seed}-{digest}.json"
            if path.is_file() and json.loads(path.read_text())["overrides"] == overrides:
                result = json.loads(path.read_text())
            else:
                result = {"variant": name, "seed": seed, "overrides": overrides}
                result.update(run_one(overrides, drop_attackers=name == ORACLE))
                path.write_text(json.dumps(result))
            print(json.dumps({k: result[k] for k in ("variant", "seed", "top1", "wall_s")}))
            table.setdefault(name, []).append(100 * result["top1"][-1])
    print(f"\n| setting | deepest-exit top-1 (%) per seed {seeds} | mean ± half-range |")
    print("|---|---|---|")
    for name, accs in table.items():
        spread = (max(accs) - min(accs)) / 2
        cells = ", ".join(f"{a:.1f}" for a in accs)
        print(f"| {name} | {cells} | {sum(accs) / len(accs):.1f} ± {spread:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
