"""The server's update: how the aggregate of the delivered blocks becomes the new global model.

With Δ = aggregate − global for every key of a delivered block (Reddi et al., "Adaptive
Federated Optimization", without bias correction, as Flower's strategies do):

* ``fedavg``   x ← x + η Δ (η = 1: the aggregate itself)
* ``fedavgm``  m ← μ m + Δ;  x ← x + η m
* ``fedadam``  m ← β1 m + (1 − β1) Δ;  v ← β2 v + (1 − β2) Δ²;  x ← x + η m / (√v + τ)
* ``fedyogi``  as fedadam but v ← v − (1 − β2) Δ² sign(v − Δ²)

The state (m, v) is kept per key, so per block, and moves only for keys whose block somebody
delivered this round: a block in outage keeps its parameters *and* its optimiser state.
Integer buffers are never optimised: they take the aggregate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch


@dataclass
class ServerOptimizer:
    kind: str = "fedavg"
    lr: float = 1.0
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3
    m: dict[str, torch.Tensor] = field(default_factory=dict)
    v: dict[str, torch.Tensor] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)  # per key: rounds it moved

    @classmethod
    def from_config(cls, fed) -> ServerOptimizer:
        return cls(
            kind=fed.server_opt,
            lr=fed.resolved_server_lr(),
            momentum=fed.server_momentum,
            beta1=fed.server_beta1,
            beta2=fed.server_beta2,
            tau=fed.server_tau,
        )

    def step(
        self, global_state: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """New global state from the aggregates ``targets`` (only delivered keys present)."""
        new: dict[str, torch.Tensor] = {}
        for key, old in global_state.items():
            if key not in targets:
                new[key] = old.clone()
                continue
            target = targets[key]
            if not old.is_floating_point():
                new[key] = target.to(old.dtype)
                continue
            if self.kind == "fedavg" and self.lr == 1.0:
                new[key] = target.to(old.dtype)
                self.steps[key] = self.steps.get(key, 0) + 1
                continue
            x = old.detach().to(torch.float64)
            delta = target.to(torch.float64) - x
            new[key] = (x + self._direction(key, delta)).to(old.dtype)
            self.steps[key] = self.steps.get(key, 0) + 1
        return new

    def _direction(self, key: str, delta: torch.Tensor) -> torch.Tensor:
        if self.kind == "fedavg":
            return self.lr * delta
        if self.kind == "fedavgm":
            m = self.m.get(key)
            m = delta.clone() if m is None else self.momentum * m + delta
            self.m[key] = m
            return self.lr * m
        m = self.m.get(key, torch.zeros_like(delta))
        v = self.v.get(key, torch.zeros_like(delta))
        m = self.beta1 * m + (1.0 - self.beta1) * delta
        sq = delta * delta
        if self.kind == "fedadam":
            v = self.beta2 * v + (1.0 - self.beta2) * sq
        elif self.kind == "fedyogi":
            v = v - (1.0 - self.beta2) * sq * torch.sign(v - sq)
        else:
            raise ValueError(f"unknown server optimiser {self.kind!r}")
        self.m[key], self.v[key] = m, v
        return self.lr * m / (v.sqrt() + self.tau)
