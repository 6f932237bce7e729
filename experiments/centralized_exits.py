"""Centralised training of the default DQNN on the plate data; prints top-1 per exit.

Pools every vehicle's partition (the upper bound that federation is compared against), trains
with the default model and training settings, and evaluates each exit on the held-out test set.
Runs in about a minute on two CPU cores.

    python experiments/centralized_exits.py [--epochs 10] [--readout born] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import torch

from dqfl.data import DataConfig, load_partition, load_test_set
from dqfl.quantum import ModelConfig, build_model
from dqfl.training import evaluate, train_local


def pooled_training_set(cfg: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    parts = [load_partition(cfg, v) for v in range(cfg.n_vehicles)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--readout", default="shared")
    ap.add_argument("--encoding", default="amplitude")
    ap.add_argument("--init-scale", type=float, default=1.0)
    ap.add_argument("--alphabet", default="digits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--distill", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: leave as is)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    dcfg = DataConfig(seed=args.seed, alphabet=args.alphabet)
    x, y = pooled_training_set(dcfg)
    xt, yt = load_test_set(dcfg)
    n_classes = int(max(y.max(), yt.max())) + 1
    mcfg = ModelConfig(
        readout=args.readout,
        encoding=args.encoding,
        init_scale=args.init_scale,
        init_seed=args.seed,
    )
    model = build_model(mcfg, n_classes=n_classes, n_inputs=x.shape[1])
    counts = model.parameter_counts()
    print(
        f"train {len(x)} / test {len(xt)} examples, {n_classes} classes, "
        f"{counts['total_quantum']} quantum + {counts['total_classical']} classical parameters"
    )
    print(f"chance: {1 / n_classes:.3f}; test top-1 before training: {evaluate(model, xt, yt)}")
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        res = train_local(
            model,
            x,
            y,
            epochs=1,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed * 1000 + epoch,
            distill=args.distill,
        )
        acc = evaluate(model, xt, yt)
        print(
            f"epoch {epoch + 1}: loss {res.loss:.3f}  "
            f"test top-1 per exit {' '.join(f'{a:.3f}' for a in acc)}  "
            f"({time.perf_counter() - t0:.1f}s)"
        )
    print("\n| exit (layers) | " + " | ".join(str(i + 1) for i in range(len(acc))) + " |")
    print("|---|" + "---|" * len(acc))
    print("| test top-1 | " + " | ".join(f"{a:.3f}" for a in acc) + " |")


if __name__ == "__main__":
    main()
