"""The Flower strategy: a thin adapter between Flower's messages and the round engine.

All of a round's logic (sampling, channel, instructions, acceptance, block-wise aggregation,
server optimiser, evaluation, the round record) lives in
:class:`dqfl.federation.engine.RoundEngine`; this class converts instructions to messages and
replies back, keeps the typed plan between Flower's callbacks and reports each round's record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from dqfl.config import RunConfig
from dqfl.federation import common, wire
from dqfl.federation.engine import Reply, RoundEngine, RoundPlan
from dqfl.federation.flower_dispatch import gate_reply_pulls
from dqfl.federation.record import RoundRecord
from dqfl.federation.results import RunRecorder

log = logging.getLogger("dqfl.federation")

Progress = Callable[[dict[str, Any]], None]


def _pace_pulls(grid: Grid, n_messages: int) -> None:
    """Poll for replies only when it pays.

    Flower's in-process grid asks the link state for every outstanding reply each
    ``pull_interval`` (0.1 s), and one poll validates every one of them: with 1000 vehicles that
    was about 4 s of the server's CPU per round, with 10,000 it grows with the square of the fleet.
    On Flower's in-memory grid, :func:`~dqfl.federation.flower_dispatch.gate_reply_pulls` lets a
    poll through only when a quarter of the outstanding replies wait; on any other grid, one
    poll per 2,000 outstanding messages per second (0.1 s to 1 s) keeps polling a small share of
    a round.
    """
    if gate_reply_pulls(grid):
        return
    if hasattr(grid, "pull_interval"):
        grid.pull_interval = min(1.0, max(0.1, n_messages / 2000))


class ChannelAwareStrategy(Strategy):
    """One run (point) on a Flower grid; the engine holds the model and decides everything."""

    def __init__(
        self,
        cfg: RunConfig,
        vehicles: dict[int, int],
        recorder: RunRecorder | None = None,
        progress: Progress | None = None,
        point: int = 0,
        n_points: int = 1,
    ) -> None:
        self.cfg = cfg
        self.vehicles = dict(vehicles)  # vehicle (partition) id -> Flower node id
        self.node_to_vehicle = {nid: vid for vid, nid in self.vehicles.items()}
        self.engine = RoundEngine(cfg, self.vehicles)
        self.recorder = recorder
        self.progress = progress
        self.point, self.n_points = point, n_points
        self.config_json = common.config_to_json(cfg)
        # Vehicles keep per-run state (local keys) under this key; unique per point of a sweep.
        self.run_key = f"{point}-{cfg.fingerprint()}"
        self.records: list[RoundRecord] = []
        self._plan: RoundPlan | None = None

    def initial_arrays(self) -> ArrayRecord:
        return ArrayRecord(self.engine.global_state)

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """The engine's instructions, one message each, with the engine's global model."""
        self._plan = self.engine.plan(server_round)
        model, layout = wire.to_record(self.engine.global_state)  # packed once for all
        messages = []
        for ins in self._plan.instructions:
            record = ConfigRecord(
                {
                    common.CONFIG_KEY: self.config_json,
                    "run-key": self.run_key,
                    wire.LAYOUT_KEY: layout,
                    **ins.to_config(),
                }
            )
            messages.append(
                Message(
                    content=RecordDict({"arrays": model, "config": record}),
                    message_type=MessageType.TRAIN,
                    dst_node_id=self.vehicles[ins.vehicle],
                )
            )
        _pace_pulls(grid, len(messages))
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Replies → the engine's :class:`Reply` → the engine concludes the round."""
        assert self._plan is not None and self._plan.round == server_round
        converted = [self._reply(msg) for msg in replies]
        self._outcome = self.engine.conclude(self._plan, converted)
        loss = self._outcome.train_loss
        return (
            ArrayRecord(self.engine.global_state),
            MetricRecord({"train-loss": loss if loss is not None else float("nan")}),
        )

    def _reply(self, msg: Message) -> Reply:
        vehicle = self.node_to_vehicle.get(msg.metadata.src_node_id, -1)
        if msg.has_error():
            return Reply(vehicle, error=str(msg.error.reason))
        try:
            metrics = msg.content["metrics"]
            return Reply(
                vehicle,
                update=wire.from_record(
                    msg.content["arrays"], str(msg.content["wire"][wire.LAYOUT_KEY])
                ),
                num_examples=float(metrics["num-examples"]),
                train_loss=float(metrics.get("train-loss", float("nan"))),
                train_seconds=float(metrics.get("train-seconds", 0.0)),
            )
        except (KeyError, TypeError, ValueError):
            return Reply(vehicle)  # no parameters: the engine rejects it as malformed

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Evaluation is centralised on the held-out set (see ``evaluate_global``)."""
        return []

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        return None

    def evaluate_global(self, server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
        """Top-1 of every exit of the engine's global model; then the round's record."""
        top1 = self.engine.evaluate()
        metrics = MetricRecord({f"top1-exit-{i + 1}": a for i, a in enumerate(top1)})
        if server_round == 0:
            self.engine.initial_top1 = top1
            return metrics
        record = self.engine.record(self._plan, self._outcome, top1)
        self.records.append(record)
        if self.recorder is not None:
            self.recorder.add_round(record)
        common.emit(self.progress, common.round_event(record, self.cfg, self.point, self.n_points))
        return metrics

    def summary(self) -> None:
        log.debug(
            "ChannelAwareStrategy: method=%s strategy=%s aggregator=%s server_opt=%s bits=%s",
            self.cfg.federation.method,
            self.cfg.federation.strategy,
            self.cfg.federation.aggregator,
            self.cfg.federation.server_opt,
            self.engine.bits,
        )
