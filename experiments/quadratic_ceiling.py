"""The classical ceiling next to the DQNN: fits of the same function class, on the same crops.

With one amplitude-encoded copy of the image x, every expectation value an exit reads is a
quadratic form x^T A x / |x|^2, and the exit is a linear map of those, so the DQNN's exits live in
{softmax(linear map of quadratic forms of the normalised pixels)}. This script fits that class
classically (multinomial logistic regression on the degree-2 monomials of the normalised pixels,
after a PCA to ``--components`` directions to keep it tractable: a lower bound on the class's
ceiling) and, as simple baselines, logistic regression on the raw pixels and a small MLP. Same
training crops (every vehicle's partition pooled) and held-out set as the federation; one line
per seed, then mean ± half-range.

    python experiments/quadratic_ceiling.py [--seeds 0,1] [--components 64]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import PolynomialFeatures, StandardScaler


def data(seed: int, samples_per_vehicle: int):
    from dqfl.data import DataConfig, load_partition, load_test_set

    cfg = DataConfig(seed=seed, samples_per_vehicle=samples_per_vehicle)
    parts = [load_partition(cfg, v) for v in range(cfg.n_vehicles)]
    x = np.concatenate([p[0].numpy().reshape(len(p[0]), -1) for p in parts])
    y = np.concatenate([p[1].numpy() for p in parts])
    xt, yt = load_test_set(cfg)
    return x, y, xt.numpy().reshape(len(xt), -1), yt.numpy()


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fits(seed: int, args: argparse.Namespace) -> dict[str, float]:
    x, y, xt, yt = data(seed, args.samples_per_vehicle)
    out = {}
    raw = StandardScaler().fit(x)
    lr = LogisticRegression(max_iter=2000, C=1.0)
    out["logistic, raw pixels"] = lr.fit(raw.transform(x), y).score(raw.transform(xt), yt)
    pca = PCA(args.components, random_state=seed).fit(unit(x))
    quad = PolynomialFeatures(2, include_bias=False)
    q, qt = quad.fit_transform(pca.transform(unit(x))), quad.transform(pca.transform(unit(xt)))
    sc = StandardScaler().fit(q)
    lq = LogisticRegression(max_iter=3000, C=args.c)
    label = f"logistic, quadratic forms of the normalised pixels (PCA {args.components})"
    out[label] = lq.fit(sc.transform(q), y).score(sc.transform(qt), yt)
    mlp = MLPClassifier((32,), max_iter=300, random_state=seed)
    out["MLP 256-32-10 (the classical baseline's shape)"] = mlp.fit(raw.transform(x), y).score(
        raw.transform(xt), yt
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--components", type=int, default=64)
    ap.add_argument("--c", type=float, default=0.05, help="inverse L2 strength, quadratic fit")
    ap.add_argument("--samples-per-vehicle", type=int, default=1000)
    args = ap.parse_args()
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        t0 = time.perf_counter()
        results.append(fits(seed, args))
        cells = ", ".join(f"{k}: {100 * v:.1f} %" for k, v in results[-1].items())
        print(f"seed {seed} ({time.perf_counter() - t0:.0f} s): {cells}", flush=True)
    print("\n| classical fit | held-out top-1 (mean ± half-range) |\n|---|---|")
    for key in results[0]:
        vals = [100 * r[key] for r in results]
        half = (max(vals) - min(vals)) / 2
        print(f"| {key} | {statistics.mean(vals):.1f} ± {half:.1f} % |")


if __name__ == "__main__":
    main()
