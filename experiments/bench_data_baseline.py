"""Classical sanity baseline for the data: is the task learnable, and not trivial?

Renders a federation's data (10 vehicles x ``--samples-per-vehicle`` characters, the default
federation's 1,000 unless told, + the 500-image held-out set) without the cache, reports the
rendering rate, then fits a multinomial logistic regression on the raw 16x16 pixels of the union
of all vehicles' partitions and reports held-out top-1 (overall and per region) and top-1 on the
novel set (fonts and camera conditions never used in training). Chance is 1/10 for digits.

    .venv/bin/python experiments/bench_data_baseline.py [--samples-per-vehicle 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    from dqfl.data import DataConfig, class_names, held_out_arrays, novel_arrays, partition_arrays

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alphabet", default="digits")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--difficulty", type=float, default=1.0)
    parser.add_argument("--alpha", type=float, default=0.5, help="Dirichlet alpha")
    parser.add_argument("--samples-per-vehicle", type=int, default=DataConfig.samples_per_vehicle)
    args = parser.parse_args()

    cfg = DataConfig(
        seed=args.seed,
        alphabet=args.alphabet,
        image_size=args.image_size,
        difficulty=args.difficulty,
        dirichlet_alpha=args.alpha,
        samples_per_vehicle=args.samples_per_vehicle,
        cache_dir="",  # measure rendering, not the cache
    )
    cfg.validate()
    # CPU time of this process: honest per-core rate even when other jobs share the machine.
    t0, w0 = time.process_time(), time.perf_counter()
    parts = [partition_arrays(cfg, v) for v in range(cfg.n_vehicles)]
    x_te, y_te, region = held_out_arrays(cfg)
    seconds, wall = time.process_time() - t0, time.perf_counter() - w0
    n_rendered = sum(len(y) for _, y in parts) + len(y_te)
    # Warm rate: glyph masks are cached now, as they are after the first vehicles of a run.
    warm = DataConfig(**{**vars(cfg), "seed": cfg.seed + 1000, "samples_per_vehicle": 1000})
    t0 = time.process_time()
    partition_arrays(warm, 0)
    warm_rate = 1000 / (time.process_time() - t0)
    x_tr = np.concatenate([x for x, _ in parts])
    y_tr = np.concatenate([y for _, y in parts])
    print(
        f"rendered {n_rendered} characters in {seconds:.2f} CPU s ({wall:.2f} s wall) "
        f"= {n_rendered / seconds:.0f} characters/s cold (glyphs rendered on the fly), "
        f"{warm_rate:.0f} characters/s warm (one process, one core); per 1,000 crops: "
        f"{1000 * seconds / n_rendered:.2f} s cold, {1000 / warm_rate:.2f} s warm"
    )

    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_tr)
    clf = LogisticRegression(max_iter=2000, C=0.1)
    clf.fit(scaler.transform(x_tr), y_tr)
    pred = clf.predict(scaler.transform(x_te))
    top1 = float((pred == y_te).mean())
    train_top1 = float((clf.predict(scaler.transform(x_tr)) == y_tr).mean())
    chance = 1.0 / len(class_names(cfg))
    print(
        f"logistic regression on {cfg.image_size}x{cfg.image_size} pixels: "
        f"train {len(y_tr)} / test {len(y_te)}; "
        f"top-1 train {train_top1:.3f}, held-out {top1:.3f} (chance {chance:.3f})"
    )
    for r in np.unique(region):
        m = region == r
        print(f"  region {r}: top-1 {float((pred[m] == y_te[m]).mean()):.3f} on {int(m.sum())}")
    x_nv, y_nv, style = novel_arrays(cfg)
    pred = clf.predict(scaler.transform(x_nv))
    print(f"novel fonts/conditions: top-1 {float((pred == y_nv).mean()):.3f} on {len(y_nv)}")
    for r in np.unique(style):
        m = style == r
        print(f"  novel style {r}: top-1 {float((pred[m] == y_nv[m]).mean()):.3f}")


if __name__ == "__main__":
    main()
