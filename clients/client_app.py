"""A vehicle as a Flower ClientApp: receive the global DQNN, train on its own plates, reply.

Everything the vehicle needs arrives in the message (the run's full config as JSON, the round,
the depth the server expects to receive, the proximal weight), so one simulation engine start can
serve every point of a sweep. The partition comes from ``context.node_config["partition-id"]``.
"""

from __future__ import annotations

import math

import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from dqfl.aggregation import block_index
from dqfl.compression import quantize_upload
from dqfl.config import RunConfig
from dqfl.federation import common

common.avoid_llvm_clash()

app = ClientApp()

_FEDBN_PREFIX = "fedbn-"
_CONFIGS: dict[str, RunConfig] = {}


def _config(message: Message) -> tuple[RunConfig, ConfigRecord]:
    record = message.content["config"]
    text = str(record[common.CONFIG_KEY])
    if text not in _CONFIGS:
        if len(_CONFIGS) > 64:
            _CONFIGS.clear()
        _CONFIGS[text] = common.config_from_json(text)
    return _CONFIGS[text], record


def _vehicle_id(context: Context) -> int:
    return int(context.node_config.get("partition-id", 0))


def _model_from(cfg: RunConfig, message: Message, context: Context) -> torch.nn.Module:
    """The global model, with this vehicle's own FedBN norms put back when it keeps them."""
    state = message.content["arrays"].to_torch_state_dict()
    key = _fedbn_key(cfg, message)
    if cfg.federation.strategy == "fedbn" and key in context.state:
        state.update(context.state[key].to_torch_state_dict())
    model = common.build(cfg)
    model.load_state_dict(state)
    return model


@app.train()
def train(message: Message, context: Context) -> Message:
    """Local training (FedProx term, planned depth) and the reply the uplink will carry."""
    from dqfl.training import train_local

    torch.set_num_threads(1)
    cfg, record = _config(message)
    fed = cfg.federation
    vehicle = _vehicle_id(context)
    x, y = common.partition(cfg, vehicle)
    model = _model_from(cfg, message, context)
    start_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    depth = int(record.get("train-depth", -1))
    train_depth = depth if depth > 0 and fed.plan_depth and fed.method != "classical" else None
    prox_mu = float(record.get("prox-mu", 0.0)) if fed.strategy == "fedprox" else 0.0
    result = train_local(
        model,
        x,
        y,
        epochs=fed.local_epochs,
        batch_size=fed.batch_size,
        lr=fed.learning_rate(),
        optimizer=fed.optimizer,
        seed=int(record.get("local-seed", cfg.seed)),
        distill=fed.distill,
        prox_mu=prox_mu,
        global_state=start_state if prox_mu > 0 else None,
        train_depth=train_depth,
    )
    state = model.state_dict()
    local = common.local_key_filter(cfg)
    if local is not None:
        _keep_local(context, cfg, message, {k: v for k, v in state.items() if local(k)})
    sent = {
        k: v.detach()
        for k, v in state.items()
        if (local is None or not local(k)) and (train_depth is None or block_index(k) < train_depth)
    }
    sent = quantize_upload(sent, start_state, cfg.channel.bits_per_param)
    metrics = {
        "num-examples": int(result.num_examples),
        "train-loss": float(result.loss) if math.isfinite(float(result.loss)) else float("nan"),
        "train-seconds": float(result.seconds),
        "partition-id": vehicle,
    }
    metrics.update({f"acc-exit-{i + 1}": float(a) for i, a in enumerate(result.exit_accuracy)})
    content = RecordDict({"arrays": ArrayRecord(sent), "metrics": MetricRecord(metrics)})
    return Message(content=content, reply_to=message)


def _fedbn_key(cfg: RunConfig, message: Message) -> str:
    """Where this run's FedBN norms live in ``context.state`` (one key per point of a sweep)."""
    run_key = message.content["config"].get("run-key", cfg.fingerprint())
    return _FEDBN_PREFIX + str(run_key)


def _keep_local(
    context: Context, cfg: RunConfig, message: Message, state: dict[str, torch.Tensor]
) -> None:
    """FedBN: this run's norms stay in the node's state; older runs' norms are dropped."""
    key = _fedbn_key(cfg, message)
    for old in [k for k in context.state if k.startswith(_FEDBN_PREFIX) and k != key]:
        del context.state[old]
    if state:
        context.state[key] = ArrayRecord({k: v.detach().clone() for k, v in state.items()})


@app.evaluate()
def evaluate(message: Message, context: Context) -> Message:
    """Top-1 of every exit of the received model on this vehicle's own data."""
    from dqfl.training import evaluate as evaluate_exits

    torch.set_num_threads(1)
    cfg, _ = _config(message)
    vehicle = _vehicle_id(context)
    x, y = common.partition(cfg, vehicle)
    model = _model_from(cfg, message, context)
    accs = evaluate_exits(model, x, y)
    metrics = {"num-examples": int(len(y)), "partition-id": vehicle}
    metrics.update({f"acc-exit-{i + 1}": float(a) for i, a in enumerate(accs)})
    return Message(content=RecordDict({"metrics": MetricRecord(metrics)}), reply_to=message)


@app.query()
def query(message: Message, context: Context) -> Message:
    """Tell the server which vehicle (partition) this node is; -1 when not configured."""
    pid = int(context.node_config.get("partition-id", -1))
    n = int(context.node_config.get("num-partitions", -1))
    metrics = MetricRecord({"partition-id": pid, "num-partitions": n})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=message)
