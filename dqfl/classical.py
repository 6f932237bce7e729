"""Classical baseline: a small MLP with the DQNN's multi-exit interface (one exit, one block).

``n_inputs -> hidden -> n_classes`` with a ReLU (256 -> 32 -> 10 by default: 8,554 parameters,
about 30x the default DQNN's payload). Logits come back as ``(1, batch, n_classes)`` and every
key lives under ``blocks.0.`` so aggregation, payload accounting and training treat it exactly
like a one-layer DQNN.
"""

from __future__ import annotations

import torch
from torch import nn

from dqfl.errors import DqflError


class _MLPBlock(nn.Module):
    def __init__(self, n_inputs: int, hidden: int, n_classes: int):
        super().__init__()
        self.fc1 = nn.Linear(n_inputs, hidden)
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


class ClassicalNet(nn.Module):
    """MLP baseline; ``depth`` is accepted for interface parity (only 1 is valid)."""

    n_layers = 1

    def __init__(self, n_inputs: int, n_classes: int, hidden: int = 32, seed: int = 0):
        super().__init__()
        if n_inputs < 1 or n_classes < 2 or hidden < 1:
            raise DqflError(
                f"classical model needs n_inputs >= 1, n_classes >= 2, hidden >= 1; got "
                f"{n_inputs}, {n_classes}, {hidden}"
            )
        self.n_inputs, self.n_classes = n_inputs, n_classes
        state = torch.random.get_rng_state()
        try:  # seeded init without leaking into the caller's global RNG stream
            torch.manual_seed(seed)
            self.blocks = nn.ModuleList([_MLPBlock(n_inputs, hidden, n_classes)])
        finally:
            torch.random.set_rng_state(state)

    def forward(self, x: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        if depth is not None and int(depth) != 1:
            raise DqflError(f"depth must be 1 for the classical model; got {depth}")
        x = x.reshape(x.shape[0], -1).to(self.blocks[0].fc1.weight.dtype)
        return self.blocks[0](x).unsqueeze(0)

    def parameter_counts(self) -> dict[str, list[int] | int]:
        total = sum(p.numel() for p in self.parameters())
        return {
            "quantum": [0],
            "classical": [total],
            "per_block": [total],
            "total_quantum": 0,
            "total_classical": total,
        }
