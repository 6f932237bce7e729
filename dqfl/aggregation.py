"""Block-wise aggregation over the parameter blocks that actually reached the server.

Kept free of Flower (and of any model code) so the maths can be unit-tested on plain tensors.
Which key belongs to which block is :mod:`dqfl.blocks`' rule. A vehicle whose uplink delivered
depth ``d`` contributed blocks ``0..d-1``; every block is aggregated over the vehicles that
delivered it, by one of four rules:

* ``mean``: the sample-weighted mean (FedAvg);
* ``median``: the coordinate-wise median (unweighted, robust to a minority of attackers);
* ``trimmed_mean``: per coordinate, drop the ``trim_count(n, f)`` smallest and largest values
  and average the rest (unweighted);
* ``krum``: per block, the one vehicle's block whose summed squared distance to its
  ``n - floor(f n) - 2`` nearest neighbours (at least 1) is smallest.

Integer buffers (counters) are always the weighted mean, rounded back.

Before any rule, the engine may bound each vehicle's influence (``federation.clip_updates``):
:func:`block_update_norms` measures every block of an update against the global model and
:func:`clip_update` scales a block's update down to a bound (norm clipping).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence

import torch

from dqfl.blocks import FEDBN_LOCAL, block_index, is_local, n_blocks

__all__ = [
    "AGGREGATORS",
    "aggregate_blocks",
    "aggregate_layerwise",
    "block_index",
    "block_update_norms",
    "clip_update",
    "delivered_counts",
    "is_fedbn_local",
    "n_blocks",
    "robust_combine",
    "trim_count",
    "update_is_sane",
]

AGGREGATORS = ("mean", "median", "trimmed_mean", "krum")
LocalKeys = Collection[str] | Callable[[str], bool] | None


def is_fedbn_local(key: str) -> bool:
    """FedBN keeps normalisation layers on the vehicle: any key containing ``.norm.``."""
    return is_local(key, FEDBN_LOCAL)


def _is_local(local_keys: LocalKeys, key: str) -> bool:
    if local_keys is None:
        return False
    if callable(local_keys):
        return bool(local_keys(key))
    return key in local_keys


def trim_count(n: int, robust_fraction: float) -> int:
    """Values the trimmed mean cuts from each end of ``n``: ``ceil(f n)``, at least one whenever
    an attacker is assumed (f > 0) and three or more contributed, never the middle value.

    Rounding up, not down: ``f`` is the share of attackers assumed among the contributors, and
    with few contributors ``floor(f n)`` cut nothing (n < 5 at f = 0.2) although an attacker
    among them is likely; a cut of ``ceil(f n)`` covers every attacker up to that share.
    """
    if robust_fraction <= 0 or n < 3:
        return 0
    return min(max(1, math.ceil(robust_fraction * n - 1e-9)), (n - 1) // 2)


def robust_combine(
    values: torch.Tensor, weights: torch.Tensor, rule: str, robust_fraction: float = 0.2
) -> torch.Tensor:
    """Combine ``values`` (n, p) float64 of n contributors into one (p,) vector by ``rule``."""
    n = values.shape[0]
    if rule == "mean":
        return (weights[:, None] * values).sum(0) / weights.sum()
    if rule == "median":
        # the mean of the two middle values for even n (torch.median would take the lower)
        return values.quantile(0.5, dim=0) if n > 1 else values[0].clone()
    if rule == "trimmed_mean":
        cut = trim_count(n, robust_fraction)
        ordered = values.sort(dim=0).values
        return ordered[cut : n - cut].mean(0)
    if rule == "krum":
        f = int(math.floor(robust_fraction * n))
        k = max(1, n - f - 2)
        if n <= 2:
            return values[0].clone() if n == 1 else values.mean(0)
        dist = torch.cdist(values, values) ** 2
        dist.fill_diagonal_(float("inf"))
        scores = dist.sort(dim=1).values[:, :k].sum(1)
        return values[int(torch.argmin(scores))].clone()
    raise ValueError(f"unknown aggregator {rule!r}; use one of {', '.join(AGGREGATORS)}")


def aggregate_blocks(
    global_state: Mapping[str, torch.Tensor],
    updates: Sequence[Mapping[str, torch.Tensor]],
    depths: Sequence[int],
    weights: Sequence[float],
    local_keys: LocalKeys = None,
    aggregator: str = "mean",
    robust_fraction: float = 0.2,
) -> dict[str, torch.Tensor]:
    """Per delivered key, the aggregate of the vehicles that delivered its block (float64 for
    floating keys, the global dtype for integer ones); keys nobody delivered are absent.

    ``depths[k]`` is how many leading blocks of ``updates[k]`` arrived (0 = outage); ``weights``
    are sample counts (need not be normalised; a zero weight contributes nothing). Keys in
    ``local_keys`` (a collection or a predicate) are never aggregated. Updates may omit keys they
    did not send. Inputs are not modified.
    """
    if not len(updates) == len(depths) == len(weights):
        raise ValueError(
            f"updates, depths and weights must have equal lengths; got "
            f"{len(updates)}, {len(depths)}, {len(weights)}"
        )
    for w in weights:
        if not (math.isfinite(float(w)) and float(w) >= 0):
            raise ValueError(f"weights must be finite and >= 0; got {list(weights)}")
    if aggregator not in AGGREGATORS:
        raise ValueError(f"unknown aggregator {aggregator!r}; use one of {', '.join(AGGREGATORS)}")
    by_block: dict[int, list[str]] = {}
    for key in global_state:
        if not _is_local(local_keys, key):
            by_block.setdefault(block_index(key), []).append(key)
    out: dict[str, torch.Tensor] = {}
    for block, keys in by_block.items():
        floats = [k for k in keys if global_state[k].is_floating_point()]
        ints = [k for k in keys if not global_state[k].is_floating_point()]
        for key in ints:
            _integer_mean(key, global_state[key], updates, depths, weights, block, out)
        if aggregator == "krum":
            _krum_block(floats, global_state, updates, depths, weights, block, robust_fraction, out)
            continue
        for key in floats:
            rows, ws = _contributions(key, global_state[key], updates, depths, weights, block)
            if rows:
                stacked = torch.stack([r.reshape(-1) for r in rows])
                combined = robust_combine(
                    stacked, torch.tensor(ws, dtype=torch.float64), aggregator, robust_fraction
                )
                out[key] = combined.reshape(global_state[key].shape)
    return out


def _contributions(key, old, updates, depths, weights, block):
    rows, ws = [], []
    for update, depth, weight in zip(updates, depths, weights, strict=True):
        if depth <= block or float(weight) == 0.0 or key not in update:
            continue
        value = torch.as_tensor(update[key]).detach().to("cpu", torch.float64)
        if value.shape != old.shape:
            raise ValueError(f"{key}: update shape {tuple(value.shape)} != {tuple(old.shape)}")
        rows.append(value)
        ws.append(float(weight))
    return rows, ws


def _integer_mean(key, old, updates, depths, weights, block, out) -> None:
    rows, ws = _contributions(key, old, updates, depths, weights, block)
    if rows:
        total = sum(w * r for w, r in zip(ws, rows, strict=True))
        out[key] = (total / sum(ws)).round().to(old.dtype)


def _krum_block(keys, global_state, updates, depths, weights, block, fraction, out) -> None:
    """Krum over whole blocks: vehicles that delivered the block with every one of its keys."""
    chosen = [
        u
        for u, d, w in zip(updates, depths, weights, strict=True)
        if d > block and float(w) > 0 and all(k in u for k in keys)
    ]
    if not chosen or not keys:
        return
    for u in chosen:
        for k in keys:
            if tuple(u[k].shape) != tuple(global_state[k].shape):
                raise ValueError(f"{k}: update shape {tuple(u[k].shape)} mismatches")
    flat = torch.stack(
        [torch.cat([u[k].detach().to(torch.float64).reshape(-1) for k in keys]) for u in chosen]
    )
    best = robust_combine(flat, torch.ones(len(chosen), dtype=torch.float64), "krum", fraction)
    offset = 0
    for k in keys:
        size = global_state[k].numel()
        out[k] = best[offset : offset + size].reshape(global_state[k].shape)
        offset += size


def block_update_norms(
    global_state: Mapping[str, torch.Tensor], update: Mapping[str, torch.Tensor]
) -> dict[int, float]:
    """L2 norm of ``update - global_state`` per block, over the floating keys ``update`` holds."""
    sq: dict[int, float] = {}
    for key, value in update.items():
        if key in global_state and torch.as_tensor(value).is_floating_point():
            diff = torch.as_tensor(value).double() - global_state[key].double()
            sq[block_index(key)] = sq.get(block_index(key), 0.0) + float((diff * diff).sum())
    return {block: math.sqrt(v) for block, v in sq.items()}


def clip_update(
    global_state: Mapping[str, torch.Tensor],
    update: Mapping[str, torch.Tensor],
    bounds: Mapping[int, float],
) -> dict[str, torch.Tensor]:
    """``update`` with every block whose update norm exceeds ``bounds[block]`` pulled towards the
    global model along its own direction until the norm equals the bound (other keys as they are).

    Norm clipping bounds what any one vehicle can move a block by, whatever it sends; honest
    updates under the bound are untouched.
    """
    norms = block_update_norms(global_state, update)
    out = dict(update)
    for key, value in update.items():
        block = block_index(key)
        bound, norm = bounds.get(block), norms.get(block, 0.0)
        if bound is None or not norm > bound or not torch.as_tensor(value).is_floating_point():
            continue
        ref = global_state[key]
        scale = bound / norm
        out[key] = (ref.double() + scale * (value.double() - ref.double())).to(value.dtype)
    return out


def aggregate_layerwise(
    global_state: Mapping[str, torch.Tensor],
    updates: Sequence[Mapping[str, torch.Tensor]],
    depths: Sequence[int],
    weights: Sequence[float],
    local_keys: LocalKeys = None,
    aggregator: str = "mean",
    robust_fraction: float = 0.2,
) -> dict[str, torch.Tensor]:
    """New global state: every delivered block replaced by its aggregate (plain FedAvg when
    ``aggregator="mean"``); blocks nobody delivered and local keys keep their previous value.
    Dtypes and shapes of ``global_state`` are kept."""
    targets = aggregate_blocks(
        global_state, updates, depths, weights, local_keys, aggregator, robust_fraction
    )
    return {
        key: targets[key].to(old.dtype) if key in targets else old.clone()
        for key, old in global_state.items()
    }


def delivered_counts(depths: Sequence[int], n: int) -> list[int]:
    """How many vehicles delivered each of ``n`` blocks (block l needs depth > l)."""
    return [sum(1 for d in depths if d > layer) for layer in range(n)]


def update_is_sane(
    update: Mapping[str, torch.Tensor],
    reference: Mapping[str, torch.Tensor],
    max_norm: float,
) -> tuple[bool, str]:
    """Reject NaN/Inf parameters and updates whose L2 distance to ``reference`` exceeds max_norm.

    Returns (ok, reason). Only keys present in both are compared (shapes must match). The
    server checks every reply, so the values are checked as one vector (one finiteness test,
    one squared distance) and only the reason is looked up key by key.
    """
    tensors = {key: torch.as_tensor(value) for key, value in update.items()}
    floats = [(k, v) for k, v in tensors.items() if v.is_floating_point()]
    first_bad = _first_non_finite(floats)
    for key, value in tensors.items():
        if key == first_bad:
            return False, f"non-finite values in {key}"
        if key not in reference:
            return False, f"unexpected key {key}"
        if value.shape != reference[key].shape:
            shape, ref_shape = tuple(value.shape), tuple(reference[key].shape)
            return False, f"{key}: shape {shape} != {ref_shape}"
    ours = _flat_double([v for _, v in floats])
    theirs = _flat_double([reference[k] for k, _ in floats])
    norm = math.sqrt(float(((ours - theirs) ** 2).sum()))
    if not norm <= max_norm:
        return False, f"update norm {norm:.3g} > max_update_norm {max_norm:g}"
    return True, ""


def _flat_double(values: Sequence[torch.Tensor]) -> torch.Tensor:
    """``values`` flattened into one float64 vector (empty when there are none)."""
    if not values:
        return torch.zeros(0, dtype=torch.float64)
    if len({v.dtype for v in values}) == 1:
        return torch.cat([v.reshape(-1) for v in values]).double()
    return torch.cat([v.reshape(-1).double() for v in values])


def _first_non_finite(values: Sequence[tuple[str, torch.Tensor]]) -> str | None:
    """The key of the first tensor holding a NaN or Inf (None when all are finite)."""
    if not values:
        return None
    if len({v.dtype for _, v in values}) == 1:
        flat = torch.cat([v.reshape(-1) for _, v in values])
        if bool(torch.isfinite(flat).all()):
            return None
    return next((k for k, v in values if not bool(torch.isfinite(v).all())), None)
