"""The channel-aware, layer-wise strategy: Flower's FedAvg with the uplink in the loop.

Each round the roadside unit samples vehicles (seeded), asks the vehicular uplink how many blocks
of each would get through, optionally tells each vehicle that depth in advance (``plan_depth``:
train and send only what will arrive), and aggregates every block over the vehicles that
delivered it with :func:`dqfl.aggregation.aggregate_layerwise`. The Flower-free rules (sampling,
seeding, payloads, the fleet metric) live in :mod:`dqfl.federation.common`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from dqfl.aggregation import aggregate_layerwise, update_is_sane
from dqfl.config import RunConfig
from dqfl.federation import common
from dqfl.federation.results import RunRecorder

log = logging.getLogger("dqfl.federation")

Progress = Callable[[dict[str, Any]], None]


class ChannelAwareStrategy(FedAvg):
    """Layer-wise FedAvg over what a fading uplink delivers; one instance per run (point)."""

    def __init__(
        self,
        cfg: RunConfig,
        vehicles: dict[int, int],
        recorder: RunRecorder | None = None,
        progress: Progress | None = None,
        point: int = 0,
        n_points: int = 1,
    ) -> None:
        fed = cfg.federation
        super().__init__(fraction_train=fed.fraction, fraction_evaluate=0.0, min_train_nodes=1)
        from dqfl.channel import VehicularUplink

        self.cfg = cfg
        self.vehicles = dict(vehicles)  # vehicle (partition) id -> Flower node id
        self.node_to_vehicle = {nid: vid for vid, nid in self.vehicles.items()}
        self.recorder = recorder
        self.progress = progress
        self.point, self.n_points = point, n_points
        self.model = common.build(cfg)
        self.global_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.local_keys = common.local_key_filter(cfg)
        self.bits = common.payload_bits(cfg, self.model)
        self.mode = common.uplink_mode(fed.method)
        self.airtime_s = common.uplink_airtime(cfg, self.bits)
        self.uplink = VehicularUplink(
            cfg.channel, cfg.data.n_vehicles, cfg.seed, rounds=fed.rounds + 1
        )
        self.n_classes = common.n_classes(cfg)
        self.config_json = common.config_to_json(cfg)
        # Vehicles keep per-run state (FedBN norms) under this key; unique per point of a sweep.
        self.run_key = f"{point}-{cfg.fingerprint()}"
        self.initial_top1: list[float] = []
        self.rows: list[dict[str, Any]] = []
        self._round: dict[str, Any] = {}

    # -- what the vehicles receive -------------------------------------------------------------
    def initial_arrays(self) -> ArrayRecord:
        return ArrayRecord(self.global_state)

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Sample, draw the channel for this round, and send each vehicle its own instructions."""
        t0 = time.perf_counter()
        fed = self.cfg.federation
        r = server_round - 1  # the channel counts rounds from 0
        sampled = common.sample_vehicles(self.cfg.seed, r, self.vehicles, fed.fraction)
        channel = self.uplink.transmit(r, self.bits, self.mode, airtime_s=self.airtime_s)
        depths = {v: int(channel.depths[v]) for v in sampled}
        prox_mu = fed.prox_mu if fed.strategy == "fedprox" else 0.0
        planned = fed.plan_depth and fed.method != "classical"
        messages: list[Message] = []
        sent: list[int] = []
        in_range = {v: bool(channel.in_range[v]) for v in sampled}
        for v in sampled:
            if not in_range[v]:
                continue  # off the road or beyond coverage: no link to the RSU this round
            if planned and depths[v] == 0:
                continue  # told in advance that nothing will arrive: the vehicle stays idle
            cfg_record = ConfigRecord(
                {
                    common.CONFIG_KEY: self.config_json,
                    "run-key": self.run_key,
                    "server-round": server_round,
                    "vehicle-id": v,
                    "train-depth": depths[v] if planned else -1,
                    "prox-mu": float(prox_mu),
                    "local-seed": common.seed_for(self.cfg.seed, r, v),
                }
            )
            content = RecordDict({"arrays": arrays, "config": cfg_record})
            messages.append(
                Message(
                    content=content, message_type=MessageType.TRAIN, dst_node_id=self.vehicles[v]
                )
            )
            sent.append(v)
        self._round = {
            "t0": t0,
            "sampled": sampled,
            "sent": sent,
            "channel_depths": depths,
            "energy": {v: float(channel.energy_j[v]) for v in sampled},
            "airtime": {v: float(channel.airtime_s[v]) for v in sampled},
            "snr_db": {v: float(channel.snr_db[v]) for v in sampled},
            "mean_snr_db": {v: float(channel.mean_snr_db[v]) for v in sampled},
            "xy_m": {v: [float(c) for c in channel.xy_m[v]] for v in sampled},
            "in_range": in_range,
            "planned": planned,
        }
        return messages

    # -- what comes back -----------------------------------------------------------------------
    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Keep sane replies, cut each at its delivered depth, aggregate block by block."""
        info = self._round
        fed = self.cfg.federation
        replies = list(replies)
        failures, rejected = 0, 0
        accepted: dict[int, tuple[dict[str, torch.Tensor], float, MetricRecord]] = {}
        transmitted: set[int] = set()
        for msg in replies:
            node = msg.metadata.src_node_id
            vehicle = self.node_to_vehicle.get(node)
            if msg.has_error():
                failures += 1
                log.warning(
                    "round %d: vehicle %s failed: %s", server_round, vehicle, msg.error.reason
                )
                continue
            if vehicle is None or vehicle not in info["sent"]:
                rejected += 1
                log.warning("round %d: reply from unexpected node %s", server_round, node)
                continue
            try:
                update = msg.content["arrays"].to_torch_state_dict()
                metrics = msg.content["metrics"]
                weight = float(metrics["num-examples"])
            except (KeyError, TypeError, ValueError) as exc:
                rejected += 1
                log.warning(
                    "round %d: malformed reply from vehicle %d: %s", server_round, vehicle, exc
                )
                continue
            transmitted.add(vehicle)
            ok, reason = update_is_sane(update, self.global_state, fed.max_update_norm)
            if not ok or not (math.isfinite(weight) and weight >= 0):
                rejected += 1
                log.warning(
                    "round %d: rejected vehicle %d: %s",
                    server_round,
                    vehicle,
                    reason or "bad weight",
                )
                continue
            accepted[vehicle] = (update, weight, metrics)
        failures += len(
            set(info["sent"]) - {self.node_to_vehicle.get(m.metadata.src_node_id) for m in replies}
        )

        vehicles = info["sampled"]
        delivered = [info["channel_depths"][v] if v in accepted else 0 for v in vehicles]
        contributors = [v for v in vehicles if v in accepted]
        new_state = aggregate_layerwise(
            self.global_state,
            [accepted[v][0] for v in contributors],
            [info["channel_depths"][v] for v in contributors],
            [accepted[v][1] for v in contributors],
            local_keys=self.local_keys,
        )
        self.global_state = new_state
        weights = [accepted[v][1] for v in contributors]
        losses = [float(accepted[v][2].get("train-loss", float("nan"))) for v in contributors]
        finite = [(w, x) for w, x in zip(weights, losses, strict=True) if math.isfinite(x)]
        train_loss = (
            sum(w * x for w, x in finite) / sum(w for w, _ in finite)
            if finite and sum(w for w, _ in finite) > 0
            else None
        )
        bits_per_vehicle = {}
        for v in transmitted:
            d = info["channel_depths"][v] if info["planned"] else len(self.bits)
            bits_per_vehicle[v] = int(sum(self.bits[:d]))
        info.update(
            {
                "delivered": delivered,
                "weights": {
                    v: accepted[v][1] if v in accepted else float(self._weight_guess(v))
                    for v in vehicles
                },
                "failures": failures,
                "rejected": rejected,
                "train_loss": train_loss,
                "train_seconds": [
                    float(accepted[v][2].get("train-seconds", 0.0)) for v in contributors
                ],
                "bits_sent": int(sum(bits_per_vehicle.values())),
                "energy_j": float(sum(info["energy"][v] for v in transmitted)),
                "airtime_s": float(sum(info["airtime"][v] for v in transmitted)),
            }
        )
        metrics = MetricRecord(
            {"train-loss": train_loss if train_loss is not None else float("nan")}
        )
        return ArrayRecord(new_state), metrics

    def _weight_guess(self, vehicle: int) -> float:
        """Data size of a vehicle that did not report one (failed/skipped): its configured share."""
        return float(self.cfg.data.samples_per_vehicle)

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Evaluation is centralised on the held-out set (see ``evaluate_global``)."""
        return []

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        return None

    # -- centralised evaluation, history, progress ----------------------------------------------
    def evaluate_global(self, server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
        """Top-1 of every exit of the global model; then the round's history row."""
        from dqfl.training import evaluate

        self.model.load_state_dict(self.global_state)
        x, y = common.test_set(self.cfg)
        top1 = [float(a) for a in evaluate(self.model, x, y)]
        metrics = MetricRecord({f"top1-exit-{i + 1}": a for i, a in enumerate(top1)})
        if server_round == 0:
            self.initial_top1 = top1
            return metrics
        info = self._round
        vehicles = info["sampled"]
        fleet, fleet_delivered = common.fleet_top1(
            top1, info["delivered"], [info["weights"][v] for v in vehicles], self.n_classes
        )
        row = {
            "round": server_round,
            "top1": top1,
            "fleet_top1": fleet,
            "fleet_top1_delivered": fleet_delivered,
            "vehicles": vehicles,
            "delivered_depths": info["delivered"],
            "channel_depths": [info["channel_depths"][v] for v in vehicles],
            "snr_db": [_rounded(info["snr_db"][v]) for v in vehicles],
            "mean_snr_db": [_rounded(info["mean_snr_db"][v]) for v in vehicles],
            "position_m": [[_rounded(c, 1) for c in info["xy_m"][v]] for v in vehicles],
            "out_of_range": sum(not info["in_range"][v] for v in vehicles),
            "bits_sent": info["bits_sent"],
            "energy_j": info["energy_j"],
            "airtime_s": info["airtime_s"],
            "failures": info["failures"],
            "rejected": info["rejected"],
            "train_loss": info["train_loss"],
            "max_train_s": max(info["train_seconds"], default=0.0),
            "wall_s": time.perf_counter() - info["t0"],
        }
        self.rows.append(row)
        if self.recorder is not None:
            self.recorder.add_round(row)
        emit(
            self.progress,
            {
                "event": "round",
                "point": self.point,
                "n_points": self.n_points,
                "label": self.cfg.run_name(),
                "round": server_round,
                "rounds": self.cfg.federation.rounds,
                "top1": top1,
                "fleet_top1": fleet,
                "depths": info["delivered"],
                "failures": info["failures"],
                "rejected": info["rejected"],
                "wall_s": row["wall_s"],
            },
        )
        return metrics

    def summary(self) -> None:
        log.debug(
            "ChannelAwareStrategy: method=%s strategy=%s mode=%s bits=%s vehicles=%d",
            self.cfg.federation.method,
            self.cfg.federation.strategy,
            self.mode,
            self.bits,
            len(self.vehicles),
        )


def _rounded(x: float, digits: int = 3) -> float | None:
    """A JSON-safe number: None for NaN/inf (a vehicle off the road has no position or SNR)."""
    return round(x, digits) if math.isfinite(x) else None


def emit(progress: Progress | None, event: dict[str, Any]) -> None:
    """Report progress without letting a broken callback stop a run."""
    if progress is None:
        return
    try:
        progress(event)
    except Exception:  # the run matters more than its display
        log.exception("progress callback failed")


def out_dir_for(cfg: RunConfig) -> Path:
    return Path(cfg.output_dir) / cfg.run_name()
