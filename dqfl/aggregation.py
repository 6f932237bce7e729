"""Layer-wise aggregation over the parameter blocks that actually reached the server.

Kept free of Flower (and of any model code) so the maths can be unit-tested on plain tensors.

State-dict naming contract (INTERFACES.md): every key of a multi-exit model starts with
``blocks.<l>.``; block ``l`` holds layer ``l``'s circuit and exit ``l``'s readout. A vehicle whose
uplink delivered depth ``d`` contributed blocks ``0..d-1``. Keys outside any ``blocks.<l>.`` prefix
(none in our models) travel with the first block. Keys containing ``.norm.`` are FedBN-local.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence

import torch

_BLOCK = re.compile(r"^blocks\.(\d+)\.")

LocalKeys = Collection[str] | Callable[[str], bool] | None


def block_index(key: str) -> int:
    """Block (layer/exit) index a state-dict key belongs to; 0 for keys outside any block."""
    match = _BLOCK.match(key)
    return int(match.group(1)) if match else 0


def is_fedbn_local(key: str) -> bool:
    """FedBN keeps normalisation layers on the vehicle: any key containing ``.norm.``."""
    return ".norm." in key


def n_blocks(state: Mapping[str, object]) -> int:
    """Number of blocks in a state dict (1 + the largest ``blocks.<l>.`` index)."""
    return 1 + max((block_index(k) for k in state), default=-1)


def _is_local(local_keys: LocalKeys, key: str) -> bool:
    if local_keys is None:
        return False
    if callable(local_keys):
        return bool(local_keys(key))
    return key in local_keys


def aggregate_layerwise(
    global_state: Mapping[str, torch.Tensor],
    updates: Sequence[Mapping[str, torch.Tensor]],
    depths: Sequence[int],
    weights: Sequence[float],
    local_keys: LocalKeys = None,
) -> dict[str, torch.Tensor]:
    """New global state: per block, the weighted mean over the vehicles that delivered it.

    ``depths[k]`` is how many leading blocks of ``updates[k]`` arrived (0 = outage); ``weights``
    are sample counts (need not be normalised). A block nobody delivered keeps its previous
    global value, and so does every key in ``local_keys`` (a collection of keys or a predicate,
    e.g. :func:`is_fedbn_local`): those are never averaged. Updates may omit keys they did not
    send (FedBN-local ones, or blocks beyond their depth). Inputs are not modified; dtypes and
    shapes of ``global_state`` are kept (integer buffers are rounded back).
    """
    if not len(updates) == len(depths) == len(weights):
        raise ValueError(
            f"updates, depths and weights must have equal lengths; got "
            f"{len(updates)}, {len(depths)}, {len(weights)}"
        )
    for w in weights:
        if not (math.isfinite(float(w)) and float(w) >= 0):
            raise ValueError(f"weights must be finite and >= 0; got {list(weights)}")
    new_state: dict[str, torch.Tensor] = {}
    for key, old in global_state.items():
        if _is_local(local_keys, key):
            new_state[key] = old.clone()
            continue
        block = block_index(key)
        total = torch.zeros(old.shape, dtype=torch.float64)
        weight_sum = 0.0
        for update, depth, weight in zip(updates, depths, weights, strict=True):
            if depth <= block or float(weight) == 0.0 or key not in update:
                continue
            value = torch.as_tensor(update[key]).detach().to("cpu", torch.float64)
            if value.shape != old.shape:
                raise ValueError(f"{key}: update shape {tuple(value.shape)} != {tuple(old.shape)}")
            total += float(weight) * value
            weight_sum += float(weight)
        if weight_sum == 0.0:
            new_state[key] = old.clone()
            continue
        mean = total / weight_sum
        if old.is_floating_point() or old.is_complex():
            new_state[key] = mean.to(old.dtype)
        else:
            new_state[key] = mean.round().to(old.dtype)
    return new_state


def delivered_counts(depths: Sequence[int], n: int) -> list[int]:
    """How many vehicles delivered each of ``n`` blocks (block l needs depth > l)."""
    return [sum(1 for d in depths if d > layer) for layer in range(n)]


def update_is_sane(
    update: Mapping[str, torch.Tensor],
    reference: Mapping[str, torch.Tensor],
    max_norm: float,
) -> tuple[bool, str]:
    """Reject NaN/Inf parameters and updates whose L2 distance to ``reference`` exceeds max_norm.

    Returns (ok, reason). Only keys present in both are compared (shapes must match).
    """
    sq = 0.0
    for key, value in update.items():
        value = torch.as_tensor(value)
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return False, f"non-finite values in {key}"
        if key not in reference:
            return False, f"unexpected key {key}"
        ref = reference[key]
        if tuple(value.shape) != tuple(ref.shape):
            return False, f"{key}: shape {tuple(value.shape)} != {tuple(ref.shape)}"
        if value.is_floating_point():
            sq += float(((value.double() - ref.double()) ** 2).sum())
    norm = math.sqrt(sq)
    if not norm <= max_norm:
        return False, f"update norm {norm:.3g} > max_update_norm {max_norm:g}"
    return True, ""
