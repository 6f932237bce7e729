"""Faults a user can inject into a real run: crashing vehicles, stragglers, malicious updates.

The server decides each sampled vehicle's fault from its own stream, seeded per
(seed, round, vehicle), and sends it in the vehicle's instruction; the vehicle (inside the real
ClientApp) obeys: it raises, sleeps past the round's timeout, or corrupts the update it sends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dqfl.errors import DqflError
from dqfl.seeds import Stream, generator, int_seed

if TYPE_CHECKING:
    import torch

ATTACKS = ("sign_flip", "gaussian", "scale", "nan")
KINDS = ("none", "crash", "straggler", "byzantine")


@dataclass
class FaultConfig:
    """``[faults]``: fractions of each round's sampled vehicles that misbehave (off by default)."""

    crash_fraction: float = 0.0  # the vehicle raises during training
    straggler_fraction: float = 0.0  # the vehicle replies straggler_delay_s late
    straggler_delay_s: float = 0.0  # must exceed federation.client_timeout_s to time out
    byzantine_fraction: float = 0.0  # the vehicle sends a corrupted update
    byzantine_attack: str = "sign_flip"  # sign_flip | gaussian | scale | nan
    byzantine_scale: float = 10.0  # sign_flip/scale: factor on the update; gaussian: noise std

    def validate(self) -> None:
        for key in ("crash_fraction", "straggler_fraction", "byzantine_fraction"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise DqflError(f"faults.{key} must be in [0, 1]; got {value}")
        total = self.crash_fraction + self.straggler_fraction + self.byzantine_fraction
        if total > 1.0 + 1e-9:
            raise DqflError(f"the faults.*_fraction values must sum to at most 1; got {total:g}")
        if self.straggler_delay_s < 0:
            raise DqflError(f"faults.straggler_delay_s must be >= 0; got {self.straggler_delay_s}")
        if self.straggler_fraction > 0 and self.straggler_delay_s <= 0:
            raise DqflError("faults.straggler_fraction > 0 needs faults.straggler_delay_s > 0")
        if self.byzantine_attack not in ATTACKS:
            raise DqflError(
                f"faults.byzantine_attack must be one of {', '.join(ATTACKS)}; "
                f"got {self.byzantine_attack!r}"
            )
        if not (math.isfinite(self.byzantine_scale) and self.byzantine_scale > 0):
            raise DqflError(f"faults.byzantine_scale must be > 0; got {self.byzantine_scale}")

    @property
    def active(self) -> bool:
        return self.crash_fraction + self.straggler_fraction + self.byzantine_fraction > 0


def draw_fault(cfg: FaultConfig, seed: int, round_idx: int, vehicle: int) -> str:
    """This vehicle's fault in this round (one of :data:`KINDS`), from its own stream."""
    if not cfg.active:
        return "none"
    u = float(generator(seed, Stream.FAULTS, round_idx, vehicle).random())
    edges = (
        ("crash", cfg.crash_fraction),
        ("straggler", cfg.straggler_fraction),
        ("byzantine", cfg.byzantine_fraction),
    )
    cumulative = 0.0
    for kind, fraction in edges:
        cumulative += fraction
        if u < cumulative:
            return kind
    return "none"


class VehicleCrash(RuntimeError):
    """Raised by a vehicle told to crash (an injected fault, not a bug)."""


def attack(
    update: Mapping[str, torch.Tensor],
    reference: Mapping[str, torch.Tensor],
    attack_name: str,
    scale: float,
    seed: int,
) -> dict[str, torch.Tensor]:
    """A byzantine vehicle's corrupted version of its ``update`` (``reference``: what it got).

    sign_flip sends ``w_g - scale * (w - w_g)``, scale ``w_g + scale * (w - w_g)``, gaussian
    ``w_g + scale * N(0, 1)``, nan all-NaN values. Integer buffers are sent unchanged.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for key, value in update.items():
        if not value.is_floating_point():
            out[key] = value
            continue
        ref = reference[key].to(value.dtype)
        if attack_name == "sign_flip":
            out[key] = ref - scale * (value - ref)
        elif attack_name == "scale":
            out[key] = ref + scale * (value - ref)
        elif attack_name == "gaussian":
            noise = torch.randn(value.shape, generator=gen, dtype=torch.float64)
            out[key] = ref + (scale * noise).to(value.dtype)
        elif attack_name == "nan":
            out[key] = torch.full_like(value, float("nan"))
        else:
            raise DqflError(f"unknown byzantine attack {attack_name!r}")
    return out


def attack_seed(seed: int, round_idx: int, vehicle: int) -> int:
    return int_seed(seed, Stream.ATTACK_NOISE, round_idx, vehicle)
