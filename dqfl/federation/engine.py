"""The round engine: one federated round from sampling to its record, without Flower.

    plan(r)      sample vehicles → draw the uplink → one :class:`Instruction` per vehicle
                 (planned depth, step size, proximal weight, local keys, seed, injected fault)
    conclude()   accept or reject each :class:`Reply` → cut it at its delivered depth →
                 aggregate each block over the vehicles that delivered it → server optimiser
    record()     evaluate the global model → a typed :class:`RoundRecord`

The engine owns the one global model. The Flower strategy (``server/strategy.py``) only turns
instructions into messages and messages into replies; :meth:`RoundEngine.run_round` drives a
round with any in-process ``train`` callable (the tests use :func:`.vehicle.train_vehicle`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from dqfl.aggregation import aggregate_blocks, block_update_norms, clip_update, update_is_sane
from dqfl.blocks import block_index, is_local
from dqfl.federation import common
from dqfl.federation.faults import attack_seed, draw_fault
from dqfl.federation.methods import method as method_record
from dqfl.federation.record import RoundRecord
from dqfl.federation.server_opt import ServerOptimizer
from dqfl.seeds import Stream, int_seed

if TYPE_CHECKING:
    from dqfl.config import RunConfig

log = logging.getLogger("dqfl.federation")

CLIP_WINDOW = 5  # rounds of accepted update norms behind federation.clip_updates' bound
NORM_QUANTILE = 0.25  # the reference norm: honest while attackers are under 3/4 of the window

_INSTRUCTION_KEYS = (
    "vehicle", "round", "train_depth", "lr", "prox_mu", "local", "seed", "fault",
    "attack", "attack_scale", "attack_seed", "delay_s",
)  # fmt: skip


@dataclass(frozen=True)
class Instruction:
    """Everything the server decided for one vehicle in one round; the vehicle obeys it."""

    vehicle: int
    round: int  # 1-based
    train_depth: int  # blocks to train and send; 0 = all
    lr: float
    prox_mu: float
    local: tuple[str, ...]  # key substrings that never leave the vehicle
    seed: int  # the vehicle's minibatch order this round
    fault: str = "none"  # none | crash | straggler | byzantine
    attack: str = ""
    attack_scale: float = 0.0
    attack_seed: int = 0
    delay_s: float = 0.0

    def to_config(self) -> dict[str, Any]:
        """Flat scalars for a Flower ConfigRecord (the local patterns joined by '|')."""
        values = {k: getattr(self, k) for k in _INSTRUCTION_KEYS}
        values["local"] = "|".join(self.local)
        return values

    @classmethod
    def from_config(cls, record: Mapping[str, Any]) -> Instruction:
        values = {k: record[k] for k in _INSTRUCTION_KEYS}
        values["local"] = tuple(p for p in str(values["local"]).split("|") if p)
        for k in ("vehicle", "round", "train_depth", "seed", "attack_seed"):
            values[k] = int(values[k])
        for k in ("lr", "prox_mu", "attack_scale", "delay_s"):
            values[k] = float(values[k])
        values["fault"], values["attack"] = str(values["fault"]), str(values["attack"])
        return cls(**values)


@dataclass
class Reply:
    """What came back from one vehicle (``error`` set: it failed)."""

    vehicle: int
    update: dict[str, torch.Tensor] | None = None
    num_examples: float = 0.0
    train_loss: float = float("nan")
    train_seconds: float = 0.0
    error: str | None = None


@dataclass
class RoundPlan:
    round: int
    t0: float
    sampled: list[int]
    channel_depths: dict[int, int]
    snr_db: dict[int, float]
    mean_snr_db: dict[int, float]
    xy_m: dict[int, tuple[float, float]]
    in_range: dict[int, bool]
    energy_j: dict[int, float]
    airtime_s: dict[int, float]
    instructions: list[Instruction]
    faults: dict[int, str]


@dataclass
class RoundOutcome:
    delivered: dict[int, int] = field(default_factory=dict)
    weights: dict[int, float] = field(default_factory=dict)
    accepted: list[int] = field(default_factory=list)
    failures: int = 0
    timeouts: int = 0
    rejected: int = 0
    train_loss: float | None = None
    max_train_s: float = 0.0
    bits_sent: int = 0
    energy_j: float = 0.0
    airtime_s: float = 0.0


class RoundEngine:
    """One run's rounds: the global model, the uplink, the server optimiser; no Flower."""

    def __init__(self, cfg: RunConfig, vehicles: Iterable[int]) -> None:
        from dqfl.channel import VehicularUplink

        self.cfg = cfg
        self.method = method_record(cfg.federation.method)
        self.vehicles = sorted(int(v) for v in vehicles)
        self.model = common.build(cfg)
        self.global_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.to(common.torch_device(cfg))  # evaluation only; global_state stays on CPU
        self.local = cfg.federation.local_patterns()
        self.bits = common.payload_bits(cfg, self.model)
        self.airtime = common.uplink_airtime(cfg, self.bits)
        self.uplink = VehicularUplink(
            cfg.channel, cfg.data.n_vehicles, cfg.seed, rounds=cfg.federation.rounds + 1
        )
        self.n_classes = common.n_classes(cfg)
        self.optimizer = ServerOptimizer.from_config(cfg.federation)
        self.initial_top1: list[float] = []
        self.norm_history: list[dict[int, list[float]]] = []  # per round: block -> norms / lr

    # -- plan ------------------------------------------------------------------------------------
    def plan(self, rnd: int) -> RoundPlan:
        """Sample, draw the channel and decide every sampled vehicle's instruction."""
        t0 = time.perf_counter()
        cfg, fed = self.cfg, self.cfg.federation
        r = rnd - 1  # the channel and the streams count rounds from 0
        sampled = common.sample_vehicles(cfg.seed, r, self.vehicles, fed.fraction)
        channel = self.uplink.transmit(r, self.bits, self.method.uplink, airtime_s=self.airtime)
        depths = {v: int(channel.depths[v]) for v in sampled}
        planned = fed.plan_depth and self.method.plans_depth
        lr = fed.learning_rate(r)
        faults = {v: draw_fault(cfg.faults, cfg.seed, r, v) for v in sampled}
        in_range = {
            v: True if channel.in_range is None else bool(channel.in_range[v]) for v in sampled
        }
        instructions = []
        for v in sampled:
            if not in_range[v]:
                continue  # off the road or beyond coverage: no link to the RSU this round
            if planned and depths[v] == 0:
                continue  # told in advance that nothing will arrive: the vehicle stays idle
            fault = faults[v]
            instructions.append(
                Instruction(
                    vehicle=v,
                    round=rnd,
                    train_depth=depths[v] if planned else 0,
                    lr=lr,
                    prox_mu=fed.vehicle_prox_mu(),
                    local=self.local,
                    seed=int_seed(cfg.seed, Stream.LOCAL_TRAINING, r, v),
                    fault=fault,
                    attack=cfg.faults.byzantine_attack if fault == "byzantine" else "",
                    attack_scale=cfg.faults.byzantine_scale if fault == "byzantine" else 0.0,
                    attack_seed=attack_seed(cfg.seed, r, v) if fault == "byzantine" else 0,
                    delay_s=cfg.faults.straggler_delay_s if fault == "straggler" else 0.0,
                )
            )
        return RoundPlan(
            round=rnd,
            t0=t0,
            sampled=sampled,
            channel_depths=depths,
            snr_db={v: float(channel.snr_db[v]) for v in sampled},
            mean_snr_db={v: float(channel.mean_snr_db[v]) for v in sampled},
            xy_m={
                v: (float("nan"), float("nan"))
                if channel.xy_m is None
                else (float(channel.xy_m[v][0]), float(channel.xy_m[v][1]))
                for v in sampled
            },
            in_range=in_range,
            energy_j={v: float(channel.energy_j[v]) for v in sampled},
            airtime_s={v: float(channel.airtime_s[v]) for v in sampled},
            instructions=instructions,
            faults=faults,
        )

    # -- conclude --------------------------------------------------------------------------------
    def conclude(self, plan: RoundPlan, replies: Iterable[Reply]) -> RoundOutcome:
        """Accept or reject the replies, cut each at its delivered depth, update the model."""
        fed = self.cfg.federation
        out = RoundOutcome()
        sent = {ins.vehicle: ins for ins in plan.instructions}
        answered: set[int] = set()
        accepted: dict[int, Reply] = {}
        transmitted: list[int] = []
        for reply in replies:
            v = reply.vehicle
            if v not in sent or v in answered:
                out.rejected += 1
                log.warning("round %d: unexpected reply from vehicle %s", plan.round, v)
                continue
            answered.add(v)
            if reply.error is not None:
                out.failures += 1
                injected = sent[v].fault == "crash"  # counted and shown; not worth a warning
                log.log(
                    logging.DEBUG if injected else logging.WARNING,
                    "round %d: vehicle %d failed: %s",
                    plan.round,
                    v,
                    reply.error,
                )
                continue
            transmitted.append(v)
            if plan.channel_depths[v] == 0:
                continue  # in outage: nothing of this update reached the server
            reason = self._check(reply, plan.channel_depths[v])
            if reason:
                out.rejected += 1
                log.warning("round %d: rejected vehicle %d: %s", plan.round, v, reason)
                continue
            accepted[v] = reply
        out.timeouts = len(set(sent) - answered)
        cuts = {
            v: {k: t for k, t in r.update.items() if block_index(k) < plan.channel_depths[v]}
            for v, r in accepted.items()
        }
        if fed.clip_updates > 0 or fed.reject_updates > 0:
            cuts = self._bound_norms(plan.round, cuts, out)
            accepted = {v: accepted[v] for v in cuts}
        out.accepted = sorted(accepted)
        out.delivered = {v: plan.channel_depths[v] if v in accepted else 0 for v in plan.sampled}
        out.weights = {
            v: accepted[v].num_examples
            if v in accepted
            else float(self.cfg.data.samples_per_vehicle)
            for v in plan.sampled
        }
        targets = aggregate_blocks(
            self.global_state,
            [cuts[v] for v in out.accepted],
            [out.delivered[v] for v in out.accepted],
            [accepted[v].num_examples for v in out.accepted],
            local_keys=lambda k: is_local(k, self.local),
            aggregator=fed.aggregator,
            robust_fraction=fed.robust_fraction,
        )
        self.global_state = self.optimizer.step(self.global_state, targets)
        pairs = [
            (accepted[v].num_examples, accepted[v].train_loss)
            for v in out.accepted
            if math.isfinite(accepted[v].train_loss)
        ]
        total = sum(w for w, _ in pairs)
        out.train_loss = sum(w * x for w, x in pairs) / total if total > 0 else None
        out.max_train_s = max((accepted[v].train_seconds for v in out.accepted), default=0.0)
        for v in transmitted:
            out.bits_sent += int(sum(self.bits[: sent[v].train_depth or len(self.bits)]))
        out.energy_j = float(sum(plan.energy_j[v] for v in transmitted))
        out.airtime_s = float(sum(plan.airtime_s[v] for v in transmitted))
        return out

    def _bound_norms(
        self, rnd: int, cuts: dict[int, dict[str, torch.Tensor]], out: RoundOutcome
    ) -> dict[int, dict[str, torch.Tensor]]:
        """Refuse (``reject_updates``) or clip (``clip_updates``) updates whose block norm is
        above a multiple of the lower quartile (``NORM_QUANTILE``) of that block's update norms
        over this and the previous ``CLIP_WINDOW - 1`` rounds, each norm counted per unit of its
        round's step size.

        Why a low quantile over several rounds: attackers drawn per vehicle are sometimes the
        majority of one round's few deliveries (3 of 5 in a 10-vehicle fleet with 30 % crashes),
        and early rounds have no history to outvote them; the lower quartile of the pool is an
        honest vehicle's norm while attackers are under three quarters of it, and an update
        scaled far beyond it is refused or cut to it (so is an honest one as far out: counted
        as rejected like any other).
        Why per unit of step size: an honest update scales with the round's learning rate, which
        a schedule shrinks (cosine: 9x from round 24 to 28 of 30); raw norms of earlier rounds
        would set a bound that a scaled attack of a late round stays under.
        """
        fed = self.cfg.federation
        lr = fed.learning_rate(rnd - 1)
        norms = {v: block_update_norms(self.global_state, cut) for v, cut in cuts.items()}
        this_round: dict[int, list[float]] = {}
        for per_block in norms.values():
            for block, norm in per_block.items():
                this_round.setdefault(block, []).append(norm / lr)
        self.norm_history = [*self.norm_history[-(CLIP_WINDOW - 1) :], this_round]
        reference = {
            block: lr
            * float(
                torch.tensor(
                    [n for past in self.norm_history for n in past.get(block, [])],
                    dtype=torch.float64,
                ).quantile(NORM_QUANTILE)
            )
            for block in this_round
        }
        kept = {}
        for v, cut in cuts.items():
            over = [b for b, n in norms[v].items() if n > fed.reject_updates * reference[b]]
            if fed.reject_updates > 0 and over:
                out.rejected += 1
                log.info("round %d: rejected vehicle %d: block %d norm far above the bound",
                         rnd, v, over[0])  # fmt: skip
                continue
            if fed.clip_updates > 0:
                cut = clip_update(
                    self.global_state, cut, {b: fed.clip_updates * m for b, m in reference.items()}
                )
            kept[v] = cut
        return kept

    def _check(self, reply: Reply, depth: int) -> str:
        """Why ``reply`` cannot be used ('' when it can)."""
        update = reply.update
        if update is None:
            return "no parameters"
        if not (math.isfinite(reply.num_examples) and reply.num_examples >= 0):
            return f"bad sample count {reply.num_examples!r}"
        ok, reason = update_is_sane(update, self.global_state, self.cfg.federation.max_update_norm)
        if not ok:
            return reason
        needed = [
            k for k in self.global_state if block_index(k) < depth and not is_local(k, self.local)
        ]
        missing = [k for k in needed if k not in update]
        return f"missing delivered keys {missing[:3]}" if missing else ""

    # -- evaluate and record ---------------------------------------------------------------------
    def evaluate(self) -> list[float]:
        """Top-1 of every exit of the global model on the held-out set."""
        from dqfl.training import evaluate

        self.model.load_state_dict(self.global_state)
        x, y = common.test_set(self.cfg)
        return [float(a) for a in evaluate(self.model, x, y)]

    def record(self, plan: RoundPlan, out: RoundOutcome, top1: Sequence[float]) -> RoundRecord:
        vehicles = plan.sampled
        delivered = [out.delivered[v] for v in vehicles]
        fleet, fleet_delivered = common.fleet_top1(
            top1, delivered, [out.weights[v] for v in vehicles], self.n_classes
        )
        kinds: dict[str, int] = {}
        for v in vehicles:
            if plan.faults[v] != "none":
                kinds[plan.faults[v]] = kinds.get(plan.faults[v], 0) + 1
        return RoundRecord(
            round=plan.round,
            top1=list(top1),
            fleet_top1=fleet,
            fleet_top1_delivered=fleet_delivered,
            lr=self.cfg.federation.learning_rate(plan.round - 1),
            train_loss=out.train_loss,
            wall_s=time.perf_counter() - plan.t0,
            vehicles=list(vehicles),
            delivered_depths=delivered,
            channel_depths=[plan.channel_depths[v] for v in vehicles],
            snr_db=[_rounded(plan.snr_db[v]) for v in vehicles],
            mean_snr_db=[_rounded(plan.mean_snr_db[v]) for v in vehicles],
            position_m=[[_rounded(c, 1) for c in plan.xy_m[v]] for v in vehicles],
            out_of_range=sum(not plan.in_range[v] for v in vehicles),
            bits_sent=out.bits_sent,
            energy_j=out.energy_j,
            airtime_s=out.airtime_s,
            sent=len(plan.instructions),
            accepted=len(out.accepted),
            failures=out.failures,
            timeouts=out.timeouts,
            rejected=out.rejected,
            faults=kinds,
            max_train_s=out.max_train_s,
        )

    def run_round(
        self, rnd: int, train: Callable[[Instruction, dict], Reply | None]
    ) -> RoundRecord:
        """A whole round in-process: ``train(instruction, global_state)`` answers for a vehicle
        (None: it never answered)."""
        plan = self.plan(rnd)
        replies = [train(ins, self.global_state) for ins in plan.instructions]
        out = self.conclude(plan, [r for r in replies if r is not None])
        return self.record(plan, out, self.evaluate())


def _rounded(x: float, digits: int = 3) -> float | None:
    """A JSON-safe number: None for NaN/inf (a vehicle off the road has no position or SNR)."""
    return round(x, digits) if math.isfinite(x) else None
