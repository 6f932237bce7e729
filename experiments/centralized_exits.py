"""Centralised training of the DQNN on the plate data; prints held-out top-1 per exit.

Pools every vehicle's partition (the upper bound that federation is compared against), trains
for ``--epochs`` epochs with Adam (constant or cosine learning rate over epochs) and evaluates
every exit on the held-out set, for each seed in ``--seeds``; prints mean and spread per exit.
Every model knob of ``[model]`` can be set with ``--set key=value`` (e.g.
``--set observables=z_zz_all --set layers_per_block=2``), so each ablation row is one command.

    python experiments/centralized_exits.py --seeds 0,1 --epochs 30 --samples-per-vehicle 1000
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from dqfl.data import DataConfig, load_partition, load_test_set
from dqfl.quantum import ModelConfig, build_model
from dqfl.schedules import scheduled_lr
from dqfl.training import evaluate, train_local


def pooled_training_set(cfg: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    parts = [load_partition(cfg, v) for v in range(cfg.n_vehicles)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def model_config(overrides: list[str], seed: int) -> ModelConfig:
    cfg = ModelConfig(init_seed=seed)
    for item in overrides:
        key, _, value = item.partition("=")
        field = {f.name: f for f in dataclasses.fields(ModelConfig)}[key]
        kind = type(getattr(cfg, key))
        setattr(cfg, key, value.lower() == "true" if kind is bool else kind(value))
        del field
    return cfg


def run(args: argparse.Namespace, seed: int) -> list[float]:
    dcfg = DataConfig(
        seed=seed, alphabet=args.alphabet, samples_per_vehicle=args.samples_per_vehicle
    )
    t0 = time.perf_counter()
    x, y = pooled_training_set(dcfg)
    xt, yt = load_test_set(dcfg)
    t_data = time.perf_counter() - t0
    n_classes = int(max(y.max(), yt.max())) + 1
    model = build_model(model_config(args.set, seed), n_classes=n_classes, n_inputs=x.shape[1])
    counts = model.parameter_counts()
    print(
        f"seed {seed}: train {len(x)} / test {len(xt)} crops (data {t_data:.1f}s), "
        f"{n_classes} classes, {counts['total_quantum']} quantum + "
        f"{counts['total_classical']} classical parameters",
        flush=True,
    )
    t0 = time.perf_counter()
    weights = [float(w) for w in args.exit_weights.split(",")] if args.exit_weights else None
    for epoch in range(args.epochs):
        res = train_local(
            model,
            x,
            y,
            epochs=1,
            batch_size=args.batch_size,
            lr=scheduled_lr(args.schedule, args.lr, epoch, args.epochs),
            seed=seed * 1000 + epoch,
            distill=args.distill,
            exit_weights=weights,
        )
        if (epoch + 1) % args.report_every == 0 or epoch + 1 == args.epochs:
            acc = evaluate(model, xt, yt)
            print(
                f"  epoch {epoch + 1}: loss {res.loss:.3f} train top-1 "
                f"{' '.join(f'{a:.3f}' for a in res.exit_accuracy)} | test top-1 "
                f"{' '.join(f'{a:.3f}' for a in acc)} ({time.perf_counter() - t0:.0f}s)",
                flush=True,
            )
    return acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--schedule", default="cosine", choices=("constant", "cosine"))
    ap.add_argument("--samples-per-vehicle", type=int, default=1000)
    ap.add_argument("--alphabet", default="digits")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--distill", type=float, default=0.0)
    ap.add_argument("--exit-weights", default="", help="comma-separated, one per exit")
    ap.add_argument("--set", action="append", default=[], help="[model] key=value")
    ap.add_argument("--report-every", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: leave as is)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    results = [run(args, s) for s in seeds]
    n_exits = len(results[0])
    print(
        f"\nsettings: {' '.join(args.set) or 'defaults'}; epochs {args.epochs}, {args.schedule} "
        f"lr {args.lr}, {args.samples_per_vehicle} crops/vehicle, distill {args.distill}"
    )
    print("| exit | " + " | ".join(str(i + 1) for i in range(n_exits)) + " |")
    print("|---|" + "---|" * n_exits)
    cells = []
    for j in range(n_exits):
        vals = [100 * r[j] for r in results]
        spread = (max(vals) - min(vals)) / 2
        cells.append(f"{statistics.mean(vals):.1f} ± {spread:.1f}")
    print(f"| test top-1 % (mean ± half-range, seeds {args.seeds}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
