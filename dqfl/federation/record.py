"""The round record: one typed schema for federated and centralised runs.

The engine (or the centralised trainer) produces one :class:`RoundRecord` per round; the results
folder stores ``to_row()`` as a line of ``history.jsonl``, the CLI's progress shows it and the
report reads it back. A centralised run has no vehicles: its vehicle lists are empty, its counts 0.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RoundRecord:
    round: int  # 1-based
    top1: list[float]  # global model, every exit, held-out set
    fleet_top1: float  # every sampled vehicle at the depth it delivered (outage = chance)
    fleet_top1_delivered: float  # the same over vehicles that delivered something
    lr: float  # the step size the vehicles were told this round
    train_loss: float | None  # sample-weighted over accepted vehicles
    wall_s: float
    vehicles: list[int] = field(default_factory=list)  # sampled this round
    delivered_depths: list[int] = field(default_factory=list)  # what the server used, per vehicle
    channel_depths: list[int] = field(default_factory=list)  # what the uplink let through
    snr_db: list[float | None] = field(default_factory=list)  # instantaneous, after fading
    mean_snr_db: list[float | None] = field(default_factory=list)  # before fading
    position_m: list[list[float | None]] = field(default_factory=list)  # (x, y); None off-road
    out_of_range: int = 0  # sampled vehicles with no link to the RSU this round
    bits_sent: int = 0
    energy_j: float = 0.0
    airtime_s: float = 0.0
    sent: int = 0  # instructions sent (planned depth 0 keeps a vehicle idle)
    accepted: int = 0  # updates used by the server
    failures: int = 0  # replies that carried an error (a crash)
    timeouts: int = 0  # vehicles that did not reply within the round's timeout
    rejected: int = 0  # replies refused (NaN/Inf, absurd norm, malformed, unexpected)
    faults: dict[str, int] = field(default_factory=dict)  # injected this round, by kind
    max_train_s: float = 0.0

    def to_row(self) -> dict[str, Any]:
        """The ``history.jsonl`` line (plain JSON types)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RoundRecord:
        """Read a history line back (unknown keys from older or newer versions are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in row.items() if k in names}
        values.setdefault("lr", float("nan"))
        values.setdefault("train_loss", None)
        values.setdefault("wall_s", 0.0)
        values.setdefault("fleet_top1_delivered", values.get("fleet_top1", float("nan")))
        return cls(**values)
