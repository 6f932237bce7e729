"""Quantum room: gates, simulators (statevector, density matrix, trajectories) and the DQNN.

Only the config is imported eagerly (no torch), so ``from dqfl.quantum import ModelConfig`` is
cheap; the model API loads torch on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dqfl.quantum.config import ModelConfig

if TYPE_CHECKING:
    from dqfl.quantum.dqnn import DQNN, block_parameter_counts, build_model

__all__ = ["ModelConfig", "DQNN", "build_model", "block_parameter_counts"]


def __getattr__(name: str):
    if name in ("DQNN", "build_model", "block_parameter_counts"):
        from dqfl.quantum import dqnn

        return getattr(dqnn, name)
    raise AttributeError(f"module 'dqfl.quantum' has no attribute {name!r}")
