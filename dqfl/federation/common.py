"""Flower-free pieces shared by the vehicle, the server and the harness.

Model construction, payload sizes, seeding, sampling, the fleet metric and in-process data caches
live here so the Flower apps stay thin and these rules stay testable without a simulation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dqfl.blocks import block_index, is_local
from dqfl.federation.methods import method
from dqfl.seeds import Stream, generator

if TYPE_CHECKING:
    import torch

    from dqfl.config import RunConfig
    from dqfl.federation.record import RoundRecord

CONFIG_KEY = "dqfl-config"


def avoid_llvm_clash() -> None:
    """Never load TensorFlow and Triton into one process.

    ``flwr.simulation`` imports TensorFlow whenever it is installed; torch's optimisers import
    ``torch._dynamo``, which probes Triton; both bundle LLVM, and loading the two aborts the
    process ("Option ... registered more than once"). Neither is used here (CPU torch), so: if
    TensorFlow is not loaded yet, hide it (Flower then treats it as absent); if it is (a Ray
    worker, where Flower's actor module loaded it first), hide Triton instead.
    """
    import sys

    if "tensorflow" not in sys.modules:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]
    elif "triton" not in sys.modules and "torch._dynamo" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]


_PARTITIONS: dict[tuple[str, int], tuple[Any, Any]] = {}
_TEST_SETS: dict[str, tuple[Any, Any]] = {}
_NOVEL_SETS: dict[str, tuple[Any, Any]] = {}
# Partitions kept per process, by size: a Ray actor serves any vehicle, so at 10,000 vehicles
# each one meets nearly all of them every round; a cap of 4096 partitions emptied the cache
# every round and re-read every partition from disk (about 0.6 ms each). 10,000 partitions of
# 10 crops take about 100 MB.
_MAX_CACHED_BYTES = 256 * 1024**2
_cached_bytes = 0


def point_event(
    kind: str, index: int, n_points: int, cfg: RunConfig, out_dir, **extra: Any
) -> dict:
    """A progress event about one point of a list of runs (rendered by the CLI's progress view)."""
    return {
        "event": kind,
        "point": index,
        "n_points": n_points,
        "label": cfg.run_name(),
        "out_dir": str(out_dir),
        **extra,
    }


def emit(progress: Callable[[dict[str, Any]], None] | None, event: dict[str, Any]) -> None:
    """Report progress without letting a broken callback stop a run."""
    if progress is None:
        return
    try:
        progress(event)
    except Exception:  # the run matters more than its display
        logging.getLogger("dqfl.federation").exception("progress callback failed")


def round_event(record: RoundRecord, cfg: RunConfig, point: int, n_points: int) -> dict[str, Any]:
    """The progress event of one round: the round's record plus where it belongs."""
    return {
        "event": "round",
        "point": point,
        "n_points": n_points,
        "label": cfg.run_name(),
        "rounds": cfg.federation.rounds,
        **record.to_row(),
    }


def config_to_json(cfg: RunConfig) -> str:
    """The run's config as the JSON the vehicles receive (whole config: one engine, many runs)."""
    return cfg.to_json()


def config_from_json(text: str) -> RunConfig:
    """Inverse of :func:`config_to_json` (validated)."""
    from dqfl.config import from_json

    return from_json(text)


def data_key(cfg: RunConfig) -> str:
    """Hash of the data section (with the run seed): points that share data share the cache."""
    blob = json.dumps(dataclasses.asdict(cfg.data_config()), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def partition(cfg: RunConfig, vehicle_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A vehicle's (x, y), loaded once per process (Ray actors serve many vehicles and rounds)."""
    global _cached_bytes
    key = (data_key(cfg), int(vehicle_id))
    if key not in _PARTITIONS:
        from dqfl.data import load_partition

        x, y = load_partition(cfg.data_config(), int(vehicle_id))
        size = x.element_size() * x.nelement() + y.element_size() * y.nelement()
        if _cached_bytes + size > _MAX_CACHED_BYTES:
            _PARTITIONS.clear()
            _cached_bytes = 0
        _PARTITIONS[key] = x, y
        _cached_bytes += size
    return _PARTITIONS[key]


def test_set(cfg: RunConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out set, loaded once per process."""
    key = data_key(cfg)
    if key not in _TEST_SETS:
        from dqfl.data import load_test_set

        _TEST_SETS[key] = load_test_set(cfg.data_config())
    return _TEST_SETS[key]


def novel_set(cfg: RunConfig) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The novel-conditions held-out set (unseen fonts and camera conditions), loaded once per
    process; None for real data (``data_root``), which has no synthetic novel set."""
    if cfg.data_config().data_root:
        return None
    key = data_key(cfg)
    if key not in _NOVEL_SETS:
        from dqfl.data import load_novel_set

        _NOVEL_SETS[key] = load_novel_set(cfg.data_config())
    return _NOVEL_SETS[key]


def novel_top1(cfg: RunConfig, model: torch.nn.Module) -> list[float] | None:
    """Top-1 of every exit of ``model`` on :func:`novel_set` (None for real data): reported
    next to the in-distribution held-out top-1 to show how far synthetic training carries."""
    data = novel_set(cfg)
    if data is None:
        return None
    from dqfl.training import evaluate

    return [float(a) for a in evaluate(model, *data)]


def n_classes(cfg: RunConfig) -> int:
    from dqfl.data import class_names

    return len(class_names(cfg.data_config()))


def n_inputs(cfg: RunConfig) -> int:
    return int(cfg.data.image_size) ** 2


def build(cfg: RunConfig, seed: int | None = None, placed: bool = False) -> torch.nn.Module:
    """The run's model (DQNN, or ClassicalNet for method classical), initialised from ``seed``
    on the CPU (the same draws everywhere); ``placed`` moves it to :func:`torch_device`."""
    import torch

    torch.manual_seed(cfg.seed if seed is None else seed)
    if method(cfg.federation.method).model == "mlp":
        from dqfl.classical import ClassicalNet

        model = ClassicalNet(n_inputs(cfg), n_classes(cfg))
    else:
        from dqfl.quantum import build_model

        model = build_model(cfg.model, n_classes(cfg), n_inputs(cfg))
    return model.to(torch_device(cfg)) if placed else model


def torch_device(cfg: RunConfig) -> torch.device:
    """Where the run's model trains and evaluates (``model.torch_device`` on this machine)."""
    import torch

    from dqfl.quantum.config import resolve_torch_device

    return torch.device(resolve_torch_device(cfg.model.torch_device))


def block_counts(cfg: RunConfig, model: torch.nn.Module) -> list[int]:
    """Trainable parameters each block puts on the air (FedBN-local ones stay home).

    The classical baseline is one block: it is sent as a single message like vanilla QFL.
    """
    local = cfg.federation.local_patterns()
    counts: dict[int, int] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad or is_local(name, local):
            continue
        counts[block_index(name)] = counts.get(block_index(name), 0) + param.numel()
    n = 1 + max(counts, default=0)
    per_block = [counts.get(layer, 0) for layer in range(n)]
    if method(cfg.federation.method).one_block:
        return [sum(per_block)]
    return per_block


def default_block_params() -> tuple[list[int], str]:
    """Trainable parameters per uplink block of the default run's model, and where they came
    from: the channel takes bit counts; building the model to count them happens here."""
    from dqfl.config import RunConfig

    cfg = RunConfig().validate()
    return block_counts(cfg, build(cfg)), "the default dqfl model (dqfl.federation.common)"


def payload_bits(cfg: RunConfig, model: torch.nn.Module) -> list[int]:
    from dqfl.channel import block_bits

    return block_bits(block_counts(cfg, model), cfg.channel.bits_per_param)


def uplink_airtime(cfg: RunConfig, bits: list[int]) -> float | None:
    """Airtime of one upload, or None for the common slot.

    The classical baseline's message is far larger than the DQNN's; with ``same_rate`` its slot
    is stretched so it needs the same spectral efficiency (and so sees the same outage law) as
    vanilla QFL's full DQNN, and it pays for its size in airtime and energy instead.
    """
    if not method(cfg.federation.method).one_block or cfg.channel.classical_airtime != "same_rate":
        return None
    from dqfl.quantum import build_model

    dqnn = build_model(cfg.model, n_classes(cfg), n_inputs(cfg))
    dqnn_bits = sum(payload_bits(dataclasses.replace(cfg, federation=_as_qfl(cfg)), dqnn))
    return cfg.channel.slot_s * sum(bits) / dqnn_bits


def _as_qfl(cfg: RunConfig):
    return dataclasses.replace(cfg.federation, method="qfl")


def parameter_split(model: torch.nn.Module) -> dict[str, int]:
    """Quantum vs classical trainable parameter counts (as the model reports them if it can)."""
    counts_fn = getattr(model, "parameter_counts", None)
    if callable(counts_fn):
        counts = counts_fn()
        out: dict[str, int] = {}
        for key in ("quantum", "classical"):
            value = counts.get(key, 0)
            out[key] = int(sum(value)) if isinstance(value, list | tuple) else int(value)
        return out
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"quantum": 0, "classical": int(total)}


def sample_vehicles(
    seed: int, round_idx: int, vehicles: Sequence[int], fraction: float
) -> list[int]:
    """The round's participants: ``ceil(fraction * n)`` (at least one), seeded per round."""
    pool = sorted(int(v) for v in vehicles)
    if not pool:
        return []
    k = max(1, min(len(pool), math.ceil(fraction * len(pool) - 1e-9)))
    if k == len(pool):
        return pool
    rng = generator(seed, Stream.SAMPLING, round_idx)
    return sorted(int(v) for v in rng.choice(pool, size=k, replace=False))


def fleet_top1(
    exit_top1: Sequence[float],
    depths: Sequence[int],
    weights: Sequence[float],
    n_classes: int,
) -> tuple[float, float]:
    """The fleet's accuracy at the depths its uplink delivered.

    A vehicle that delivered d >= 1 blocks scores the global model's top-1 at exit d (the
    server's model truncated where that vehicle's knowledge stops); a vehicle in outage (d = 0)
    scores chance, 1/n_classes: with no exit delivered there is no classifier to credit. Weighted
    by the vehicles' sample counts. Returns (fleet_top1, fleet_top1 over delivered vehicles only;
    NaN when none delivered).
    """
    total = sum(float(w) for w in weights)
    if total <= 0:
        return float("nan"), float("nan")
    score = 0.0
    delivered_score, delivered_w = 0.0, 0.0
    for depth, weight in zip(depths, weights, strict=True):
        if depth >= 1:
            acc = float(exit_top1[min(int(depth), len(exit_top1)) - 1])
            delivered_score += weight * acc
            delivered_w += weight
        else:
            acc = 1.0 / n_classes
        score += weight * acc
    delivered = delivered_score / delivered_w if delivered_w > 0 else float("nan")
    return score / total, delivered
