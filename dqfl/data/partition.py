"""Label skew: each vehicle's class proportions come from Dirichlet(alpha).

Small alpha -> each vehicle sees a few classes; large alpha -> nearly uniform. Proportions are
drawn from the vehicle's own seed stream, so they do not depend on the number of vehicles.
"""

from __future__ import annotations

import numpy as np

from dqfl.data.seeds import PURPOSE_PROPORTIONS, PURPOSE_SPLIT, real_rng, vehicle_rng

#: A vehicle of a real-image split always gets at least this many images (if the pool allows).
MIN_SAMPLES = 5


def class_proportions(seed: int, vehicle_id: int, n_classes: int, alpha: float) -> np.ndarray:
    """Vehicle's class distribution, a point on the simplex drawn from Dirichlet(alpha * 1)."""
    rng = vehicle_rng(seed, vehicle_id, PURPOSE_PROPORTIONS)
    p = rng.dirichlet(np.full(n_classes, float(alpha)))
    if not np.all(np.isfinite(p)) or p.sum() <= 0:  # underflow at tiny alpha: one class
        p = np.zeros(n_classes)
        p[int(rng.integers(n_classes))] = 1.0
    return p / p.sum()


def split_pool(
    labels: np.ndarray, n_vehicles: int, n_classes: int, seed: int, alpha: float
) -> list[np.ndarray]:
    """Share a finite pool of labelled images among vehicles, class c in proportion to p_v[c].

    Returns one index array per vehicle. Every vehicle ends with at least
    min(MIN_SAMPLES, len(labels) // n_vehicles) images (taken from the richest vehicles).
    """
    props = np.stack([class_proportions(seed, v, n_classes, alpha) for v in range(n_vehicles)])
    rng = real_rng(seed, PURPOSE_SPLIT)
    shares: list[list[int]] = [[] for _ in range(n_vehicles)]
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        if len(idx) == 0:
            continue
        idx = rng.permutation(idx)
        w = props[:, c]
        w = w / w.sum() if w.sum() > 0 else np.full(n_vehicles, 1.0 / n_vehicles)
        counts = _largest_remainder(w, len(idx))
        start = 0
        for v, k in enumerate(counts):
            shares[v].extend(idx[start : start + k].tolist())
            start += k
    floor = min(MIN_SAMPLES, len(labels) // n_vehicles)
    for v in range(n_vehicles):
        while len(shares[v]) < floor:
            donor = max(range(n_vehicles), key=lambda u: len(shares[u]))
            shares[v].append(shares[donor].pop())
    return [np.array(sorted(s), dtype=np.int64) for s in shares]


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    raw = weights * total
    counts = np.floor(raw).astype(np.int64)
    rest = total - counts.sum()
    if rest > 0:
        counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    return counts


def total_variation_from_uniform(labels: np.ndarray, n_classes: int) -> float:
    """0 for a perfectly balanced label set, up to 1 - 1/K for a single class."""
    p = np.bincount(labels, minlength=n_classes) / max(1, len(labels))
    return float(0.5 * np.abs(p - 1.0 / n_classes).sum())
