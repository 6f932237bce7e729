"""What a vehicle does with its instruction, without Flower: train, keep local keys, reply.

The ClientApp (``clients/client_app.py``) only unpacks the message, calls :func:`train_vehicle`
and packs the reply. Every decision (depth, step size, proximal weight, local keys, seed, fault)
comes from the :class:`~dqfl.federation.engine.Instruction`; the vehicle decides nothing itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from dqfl.blocks import is_local, within
from dqfl.compression import quantize_upload
from dqfl.federation import common
from dqfl.federation.faults import VehicleCrash, attack

if TYPE_CHECKING:
    from dqfl.config import RunConfig
    from dqfl.federation.engine import Instruction

_TEMPLATES: dict[str, torch.nn.Module] = {}


@dataclass
class VehicleResult:
    update: dict[str, torch.Tensor]  # what goes on the air
    kept: dict[str, torch.Tensor]  # local keys that stay on the vehicle
    num_examples: int
    train_loss: float
    train_seconds: float
    exit_accuracy: list[float] = field(default_factory=list)


def model_for(
    cfg: RunConfig, state: Mapping[str, torch.Tensor], key: str | None = None
) -> torch.nn.Module:
    """The run's model holding ``state``: built once per process and config, then reused.

    Loading a full state into a kept model costs a fraction of building (or copying) one per
    vehicle: a cut in per-vehicle overhead at scale. A noise generator (shots, trajectories) is
    reseeded as a fresh build would seed it, so draws never depend on which vehicles this
    process served before. ``key`` names the config (default: its fingerprint, which costs
    about as much as the load; the ClientApp passes the one it computed once per config).
    """
    key = key or cfg.fingerprint()
    model = _TEMPLATES.get(key)
    if model is None:
        if len(_TEMPLATES) > 16:
            _TEMPLATES.clear()
            _SLOTS.clear()
        model = _TEMPLATES[key] = common.build(cfg, placed=True)
    _load(model, state)
    generator = getattr(model, "noise_generator", None)
    if isinstance(generator, torch.Generator):
        generator.manual_seed(int(cfg.model.noise_seed))
    return model


_SLOTS: dict[int, tuple[torch.nn.Module, dict[str, torch.Tensor]]] = {}  # model -> its tensors


def _load(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """``model.load_state_dict(state)`` as one batched copy when it comes to the same thing:
    the same keys, the same shapes, no module with its own loading rules. Anything else goes
    through ``load_state_dict`` (and its errors)."""
    entry = _SLOTS.get(id(model))
    if entry is None or entry[0] is not model:
        plain = all(
            type(m)._load_from_state_dict is torch.nn.Module._load_from_state_dict
            and not m._load_state_dict_pre_hooks
            and not m._load_state_dict_post_hooks
            for m in model.modules()
        )
        slots = model.state_dict(keep_vars=True) if plain else {}
        entry = _SLOTS[id(model)] = model, slots
    slots = entry[1]
    if not slots or len(state) != len(slots):
        model.load_state_dict(state)
        return
    targets, sources = [], []
    for key, value in state.items():
        slot = slots.get(key)
        if slot is None or slot.shape != value.shape or slot.device != value.device:
            model.load_state_dict(state)
            return
        targets.append(slot)
        sources.append(value)
    with torch.no_grad():
        torch._foreach_copy_(targets, sources)


def train_vehicle(
    cfg: RunConfig,
    ins: Instruction,
    global_state: Mapping[str, torch.Tensor],
    kept: Mapping[str, torch.Tensor] | None = None,
    model_key: str | None = None,
) -> VehicleResult:
    """Obey ``ins``: inject its fault, train on this vehicle's data, cut, keep local keys.

    ``model_key``: the config's fingerprint when the caller knows it (see :func:`model_for`).
    """
    from dqfl.training import train_local

    if ins.fault == "crash":
        raise VehicleCrash(f"vehicle {ins.vehicle} crashed (injected fault, round {ins.round})")
    if ins.fault == "straggler":
        time.sleep(ins.delay_s)
    fed = cfg.federation
    x, y = common.partition(cfg, ins.vehicle)
    state = dict(global_state)
    if kept:
        state.update(kept)
    model = model_for(cfg, state, model_key)
    depth = ins.train_depth or None
    result = train_local(
        model,
        x,
        y,
        epochs=fed.local_epochs,
        batch_size=fed.batch_size,
        lr=ins.lr,
        optimizer=fed.optimizer,
        seed=ins.seed,
        distill=fed.distill,
        prox_mu=ins.prox_mu,
        global_state=global_state if ins.prox_mu > 0 else None,
        train_depth=depth,
    )
    trained = model.state_dict()
    update = {  # on the CPU, and copies: the kept model is reused, never hand out its storage
        k: v.detach().to("cpu", copy=True)
        for k, v in trained.items()
        if not is_local(k, ins.local) and within(k, depth)
    }
    if ins.fault == "byzantine":
        update = attack(update, global_state, ins.attack, ins.attack_scale, ins.attack_seed)
    update = quantize_upload(update, global_state, cfg.channel.bits_per_param)  # what bits say
    loss = float(result.loss)
    return VehicleResult(
        update=update,
        kept={
            k: v.detach().to("cpu", copy=True) for k, v in trained.items() if is_local(k, ins.local)
        },
        num_examples=int(result.num_examples),
        train_loss=loss if math.isfinite(loss) else float("nan"),
        train_seconds=float(result.seconds),
        exit_accuracy=[float(a) for a in result.exit_accuracy],
    )
