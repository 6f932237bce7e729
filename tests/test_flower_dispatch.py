"""The linear-time dispatcher hands out exactly what Flower's own per-node loop hands out.

Both run against Flower's real in-memory link state, set up the way ``run_simulation`` sets it
up: the same messages must come out (one per node per sweep, expired ones dropped), marked
delivered, and a second sweep must serve each node's next message.
"""

from __future__ import annotations

import time
from uuid import uuid4

import pytest

pytest.importorskip("flwr")

from flwr.app import ConfigRecord, Message, Metadata, RecordDict  # noqa: E402
from flwr.common.constant import SUPERLINK_NODE_ID  # noqa: E402
from flwr.proto.task_pb2 import Task  # noqa: E402
from flwr.server.superlink.fleet.vce import vce_api  # noqa: E402
from flwr.server.superlink.linkstate import LinkStateFactory  # noqa: E402
from flwr.server.superlink.linkstate.in_memory_linkstate import RunRecord  # noqa: E402
from flwr.supercore.constant import FLWR_IN_MEMORY_DB_NAME, NOOP_FEDERATION_ID  # noqa: E402
from flwr.supercore.object_store import ObjectStoreFactory  # noqa: E402
from flwr.supercore.run import Run  # noqa: E402
from flwr.superlink.federation import NoOpFederationManager  # noqa: E402

from dqfl.federation.flower_dispatch import dispatch_sweep, linear_dispatch, supports  # noqa: E402

RUN_ID, TASK_ID = 7, 11


def _state_with_messages(n_nodes: int, per_node: list[int], expired: set[int]):
    """A link state with ``per_node[i]`` messages for node i (node i's first one expired when
    i is in ``expired``); returns (state, node ids, message ids in store order)."""
    factory = LinkStateFactory(
        FLWR_IN_MEMORY_DB_NAME, NoOpFederationManager(), ObjectStoreFactory()
    )
    nodes = list(vce_api._register_nodes(n_nodes, factory))
    state = factory.state()
    run = Run.create_empty(RUN_ID)
    run.primary_task_id = TASK_ID
    run.federation_id = NOOP_FEDERATION_ID
    state.run_ids[RUN_ID] = RunRecord(run=run)  # as flwr.simulation.run_simulation does
    state.task_store[TASK_ID] = Task(task_id=TASK_ID, run_id=RUN_ID)
    ids = []
    for k in range(max(per_node)):
        for i, node in enumerate(nodes):
            if k >= per_node[i]:
                continue
            ttl = 1e-3 if (k == 0 and i in expired) else 3600.0
            meta = Metadata(
                run_id=RUN_ID,
                message_id=str(uuid4()),
                src_node_id=SUPERLINK_NODE_ID,
                dst_node_id=node,
                reply_to_message_id="",
                group_id="",
                created_at=time.time(),
                ttl=ttl,
                message_type="train",
            )
            msg = Message(RecordDict({"c": ConfigRecord({"k": k, "i": i})}), metadata=meta)
            assert state.store_message_ins(msg) == meta.message_id
            ids.append(meta.message_id)
    time.sleep(0.01)  # let the short-lived ones expire
    return state, nodes, ids


def _flower_sweep(state, nodes):
    """Flower's own extractor, one sweep (``vce_api.add_messages_to_queue``'s loop body)."""
    out = []
    for node in nodes:
        out.extend(state.get_message_ins(node_id=node, limit=1))
    return out


@pytest.mark.parametrize("per_node,expired", [([1, 1, 1, 1], set()), ([2, 1, 3, 0, 1], {1, 2})])
def test_sweeps_match_flower(per_node, expired):
    ours_state, ours_nodes, _ = _state_with_messages(len(per_node), per_node, expired)
    ref_state, ref_nodes, _ = _state_with_messages(len(per_node), per_node, expired)
    assert supports(ours_state)
    for _ in range(max(per_node) + 1):
        ours = dispatch_sweep(ours_state, set(ours_nodes))
        ref = _flower_sweep(ref_state, ref_nodes)

        def key(nodes, msgs):
            return sorted((nodes.index(m.metadata.dst_node_id), m.content["c"]["k"]) for m in msgs)

        assert key(ours_nodes, ours) == key(ref_nodes, ref)
        assert all(m.metadata.delivered_at != "" for m in ours)
        assert len({m.metadata.dst_node_id for m in ours}) == len(ours)  # one per node
    # expired messages were dropped from the store by both
    assert len(ours_state.message_ins_store) == len(ref_state.message_ins_store)


def test_linear_dispatch_swaps_and_restores_flowers_extractor():
    original = vce_api.add_messages_to_queue
    with linear_dispatch():
        assert vce_api.add_messages_to_queue is not original
    assert vce_api.add_messages_to_queue is original
