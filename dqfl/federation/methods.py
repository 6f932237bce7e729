"""The methods a run can compare, as records instead of string branches scattered over the code.

A method says which model it trains, how its update goes on the air, where its step size lives
and whether the server's planned depth applies to it. Everything that used to ask
``method == "classical"`` asks the record instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    name: str
    federated: bool  # False: trained in-process on the pooled data (the ceiling)
    model: str  # "dqnn" (the multi-exit DQNN) or "mlp" (the classical baseline)
    uplink: str  # "superposition" (block by block), "vanilla" (all or nothing), "none"
    one_block: bool  # the whole model is a single uplink block
    plans_depth: bool  # federation.plan_depth can cut its local training
    lr_field: str  # the FederationConfig field that holds its step size


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("dqfl", True, "dqnn", "superposition", False, True, "lr"),
        Method("qfl", True, "dqnn", "vanilla", False, True, "lr"),
        Method("classical", True, "mlp", "vanilla", True, False, "classical_lr"),
        Method("centralized", False, "dqnn", "none", False, False, "lr"),
    )
}


def method(name: str) -> Method:
    """The record of method ``name`` (names are validated by the config)."""
    return METHODS[name]
