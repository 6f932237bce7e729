"""The linear-time dispatcher hands out exactly what Flower's own per-node loop hands out.

Both run against Flower's real in-memory link state, set up the way ``run_simulation`` sets it
up: the same messages must come out (one per node per sweep, expired ones dropped), marked
delivered, and a second sweep must serve each node's next message.
"""

from __future__ import annotations

import threading
import time
from queue import Empty, Queue
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
_FACTORIES: dict[int, LinkStateFactory] = {}  # id(state) -> its factory (to build a grid on it)


def _state_with_messages(n_nodes: int, per_node: list[int], expired: set[int]):
    """A link state with ``per_node[i]`` messages for node i (node i's first one expired when
    i is in ``expired``); returns (state, node ids, message ids in store order)."""
    factory = LinkStateFactory(
        FLWR_IN_MEMORY_DB_NAME, NoOpFederationManager(), ObjectStoreFactory()
    )
    nodes = list(vce_api._register_nodes(n_nodes, factory))
    state = factory.state()
    _FACTORIES[id(state)] = factory
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
            msg = _message(node, k, i, ttl=1e-3 if (k == 0 and i in expired) else 3600.0)
            assert state.store_message_ins(msg) == msg.metadata.message_id
            ids.append(msg.metadata.message_id)
    time.sleep(0.01)  # let the short-lived ones expire
    return state, nodes, ids


def _message(node: int, k: int, i: int, ttl: float = 3600.0) -> Message:
    """An instruction for ``node`` as the grid stores it (content: its index k and node i)."""
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
    return Message(RecordDict({"c": ConfigRecord({"k": k, "i": i})}), metadata=meta)


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


def test_linear_dispatch_swaps_and_restores_flowers_extractor_and_worker():
    original, worker = vce_api.add_messages_to_queue, vce_api.worker
    with linear_dispatch():
        assert vce_api.add_messages_to_queue is not original
        assert vce_api.worker is not worker
    assert vce_api.add_messages_to_queue is original
    assert vce_api.worker is worker


def test_sweeps_pause_while_nothing_new_is_stored(monkeypatch):
    """After a sweep that found nothing, the extractor stops walking the store until a message is
    stored; the new one is then handed out as before."""
    import dqfl.federation.flower_dispatch as fd

    state, nodes, _ = _state_with_messages(3, [2, 1, 1], set())
    sweeps = []
    real_sweep = fd.dispatch_sweep
    monkeypatch.setattr(fd, "SWEEP_INTERVAL_S", 0.01)
    monkeypatch.setattr(fd, "dispatch_sweep", lambda s, n: sweeps.append(1) or real_sweep(s, n))
    queue, stop = Queue(), threading.Event()
    extractor = fd._add_messages_to_queue(vce_api.add_messages_to_queue)
    thread = threading.Thread(target=extractor, args=(state, queue, dict.fromkeys(nodes), stop))
    thread.start()
    try:
        _wait_for(lambda: queue.qsize() == 4)
        time.sleep(0.1)  # ten intervals
        settled = len(sweeps)
        assert settled <= 3  # node 0's two messages take two sweeps, then one that finds none
        time.sleep(0.1)
        assert len(sweeps) == settled
        state.store_message_ins(_message(nodes[2], 1, 2))
        _wait_for(lambda: queue.qsize() == 5)
        assert len(sweeps) > settled
    finally:
        stop.set()
        thread.join()


def _wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _reply_to(msg: Message) -> Message:
    reply = Message(RecordDict({"c": ConfigRecord({"ok": 1})}), reply_to=msg)
    reply.metadata.__dict__["_message_id"] = str(uuid4())  # as Flower's simulation worker does
    return reply


def test_reply_gate_polls_once_enough_replies_wait():
    """Fewer than a quarter of the outstanding replies waiting: no poll reaches the link state;
    then every reply comes back exactly once, as Flower's own poll returns it."""
    from flwr.superlink.grid import InMemoryGrid

    from dqfl.federation.flower_dispatch import gate_reply_pulls

    state, nodes, ids = _state_with_messages(8, [1] * 8, set())
    grid = InMemoryGrid(_FACTORIES[id(state)])
    grid.set_run(state.run_ids[RUN_ID].run)
    polls = []
    real_pull = grid.pull_messages
    grid.pull_messages = lambda message_ids: polls.append(1) or real_pull(message_ids)
    assert gate_reply_pulls(grid)
    assert gate_reply_pulls(grid)  # once per grid: no gate around the gate
    delivered = dispatch_sweep(state, set(nodes))
    assert grid.pull_messages(set(ids)) == [] and len(polls) == 1  # the first poll goes through
    state.store_message_res(_reply_to(delivered[0]))
    assert grid.pull_messages(set(ids)) == [] and len(polls) == 1  # 1 of 8 waits: held back
    state.store_message_res(_reply_to(delivered[1]))
    got = grid.pull_messages(set(ids))  # 2 of 8: a quarter
    assert len(polls) == 2
    assert sorted(m.metadata.reply_to_message_id for m in got) == sorted(
        m.metadata.message_id for m in delivered[:2]
    )
    rest = {m.metadata.message_id for m in delivered[2:]}
    for msg in delivered[2:]:
        state.store_message_res(_reply_to(msg))
    got = grid.pull_messages(rest)
    assert {m.metadata.reply_to_message_id for m in got} == rest and len(polls) == 3


def test_reply_gate_leaves_other_grids_alone():
    from dqfl.federation.flower_dispatch import gate_reply_pulls

    class Remote:  # a grid without an in-memory link state (deployment)
        pull_interval = 0.1

        def pull_messages(self, ids):
            return []

    grid = Remote()
    assert not gate_reply_pulls(grid)
    assert grid.pull_messages.__func__ is Remote.pull_messages


def test_worker_waits_are_capped_and_still_deliver():
    """cap_waits shortens only the timeout of a blocking get: a worker's get(timeout=1.0) on an
    empty queue gives up after the cap, and a message put in meanwhile is still handed out."""
    import dqfl.federation.flower_dispatch as fd

    asked = []
    queue = Queue()
    real_get = queue.get
    queue.get = lambda block=True, timeout=None: asked.append(timeout) or real_get(block, timeout)
    fd.cap_waits(queue, limit=0.01)
    with pytest.raises(Empty):
        queue.get(timeout=1.0)
    assert asked == [0.01]
    queue.put("message")
    assert queue.get(timeout=1.0) == "message"
    queue.put("later")
    assert queue.get() == "later"  # no timeout: still waits as asked
    assert asked[1:] == [0.01, None]
    fd.cap_waits(queue, limit=0.01)  # a second cap (every worker caps the shared queues)
    queue.put("again")
    assert queue.get(timeout=1.0) == "again"
    assert asked[3:] == [0.01]  # one capped call, not a chain of wrappers


def test_sweep_pause_grows_with_the_store():
    import dqfl.federation.flower_dispatch as fd

    assert fd.sweep_pause(0) == fd.SWEEP_INTERVAL_S
    assert fd.sweep_pause(1_000) == pytest.approx(0.01)
    assert fd.sweep_pause(5_000) == pytest.approx(0.05)
    assert fd.sweep_pause(100_000) == fd.MAX_SWEEP_INTERVAL_S
