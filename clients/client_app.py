"""A vehicle as a Flower ClientApp: unpack the instruction, obey it, pack the reply.

Everything the vehicle needs arrives in the message (the run's config as JSON for its data and
model, and the server's :class:`~dqfl.federation.engine.Instruction`), so one simulation engine
start can serve every point of a sweep. The work itself is :func:`dqfl.federation.vehicle.
train_vehicle`; the partition comes from ``context.node_config["partition-id"]``.
"""

from __future__ import annotations

import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from dqfl.config import RunConfig
from dqfl.federation import common, wire
from dqfl.federation.engine import Instruction

common.avoid_llvm_clash()

app = ClientApp()

_LOCAL_PREFIX = "local-"
_CONFIGS: dict[str, tuple[RunConfig, str]] = {}


def _config(text: str) -> tuple[RunConfig, str]:
    """The run's config and its fingerprint, parsed and hashed once per process."""
    if text not in _CONFIGS:
        if len(_CONFIGS) > 64:
            _CONFIGS.clear()
        cfg = common.config_from_json(text)
        _CONFIGS[text] = cfg, cfg.fingerprint()
    return _CONFIGS[text]


@app.train()
def train(message: Message, context: Context) -> Message:
    """Train as instructed and reply with the blocks that go on the air."""
    from dqfl.federation.vehicle import train_vehicle

    torch.set_num_threads(1)
    record = message.content["config"]
    cfg, fingerprint = _config(str(record[common.CONFIG_KEY]))
    ins = Instruction.from_config(record)
    # The server decides which vehicle (partition) a node plays and says so in the instruction;
    # Flower's simulation does not answer the discovery query, so its node order can differ from
    # node_config["partition-id"]. The instruction is the one source of truth.
    vehicle = ins.vehicle
    key = _LOCAL_PREFIX + str(record["run-key"])
    kept = context.state[key].to_torch_state_dict() if key in context.state else None
    global_state = wire.from_record(message.content["arrays"], str(record[wire.LAYOUT_KEY]))
    result = train_vehicle(cfg, ins, global_state, kept, model_key=fingerprint)
    if result.kept:
        for old in [k for k in context.state if k.startswith(_LOCAL_PREFIX) and k != key]:
            del context.state[old]  # an earlier point's local keys
        context.state[key] = ArrayRecord(result.kept)
    metrics = {
        "num-examples": result.num_examples,
        "train-loss": result.train_loss,
        "train-seconds": result.train_seconds,
        "partition-id": vehicle,
    }
    metrics.update({f"acc-exit-{i + 1}": a for i, a in enumerate(result.exit_accuracy)})
    update, layout = wire.to_record(result.update)
    content = RecordDict(
        {
            "arrays": update,
            "metrics": MetricRecord(metrics),
            "wire": ConfigRecord({wire.LAYOUT_KEY: layout}),
        }
    )
    return Message(content=content, reply_to=message)


@app.query()
def query(message: Message, context: Context) -> Message:
    """Tell the server which vehicle (partition) this node is; -1 when not configured."""
    pid = int(context.node_config.get("partition-id", -1))
    n = int(context.node_config.get("num-partitions", -1))
    metrics = MetricRecord({"partition-id": pid, "num-partitions": n})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=message)
