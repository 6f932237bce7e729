"""A linear-time message dispatcher for Flower's simulation engine (the cut that makes 1000s of
vehicles per round feasible).

Flower's simulation runtime (``flwr.server.superlink.fleet.vce.vce_api``, checked on flwr 1.42)
hands messages to its workers from a thread that, every 0.1 s, asks the in-memory link state for
one message per node: ``for node in all nodes: state.get_message_ins(node, limit=1)``, and each
call walks (and re-validates) every stored message. A sweep therefore costs
O(nodes x stored messages): with 1000 vehicles about a million validity checks per sweep, under
the state's lock and the driver's GIL, starving the workers and the server (profiled: half of all
samples of a 200-vehicle round). :func:`dispatch_sweep` does the same job in one pass over the
stored messages (again only for a node whose first message turned out invalid): the same
validity checks (expiry, federation) on the undelivered ones, at most
one message per node per sweep, each marked delivered as Flower marks it. Only the order in which
nodes are served within a sweep differs, and a round's result does not depend on it (every reply
is keyed by vehicle and aggregated in vehicle order).

:func:`linear_dispatch` swaps the sweep in for the duration of one ``run_simulation`` call and
restores Flower's own afterwards. It applies only where its assumptions hold (the in-memory link
state with the attributes used here); any other state object gets Flower's original loop.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from queue import Queue
from typing import Any

SWEEP_INTERVAL_S = 0.1  # Flower's own pause between sweeps

_STATE_ATTRS = ("lock", "message_ins_store", "_check_stored_messages")


def supports(state: Any) -> bool:
    """Whether ``state`` is an in-memory link state this dispatcher knows how to read."""
    return all(hasattr(state, a) for a in _STATE_ATTRS) and isinstance(
        state.message_ins_store, dict
    )


def dispatch_sweep(state: Any, nodes: Mapping[int, Any] | set[int]) -> list[Any]:
    """One sweep: the first undelivered, still valid message of every node in ``nodes``, each
    marked delivered (what Flower's ``get_message_ins(node, limit=1)`` does per node)."""
    from flwr.supercore.date import now

    with state.lock:
        store = state.message_ins_store
        batch, wanted = [], set(nodes)
        while wanted:  # again for the nodes whose first message turned out invalid
            first: dict[int, str] = {}
            for msg_id, msg in store.items():
                meta = msg.metadata
                node = meta.dst_node_id
                if node in wanted and node not in first and meta.delivered_at == "":
                    first[node] = msg_id
            if not first:
                break
            state._check_stored_messages(set(first.values()))  # drops expired / foreign ones
            batch += [store[m] for m in first.values() if m in store]
            wanted = {node for node, m in first.items() if m not in store}
        delivered_at = now().isoformat()
        for msg in batch:
            msg.metadata.delivered_at = delivered_at
    return batch


def _add_messages_to_queue(
    original: Callable[..., None],
) -> Callable[[Any, Queue, Mapping[int, int], threading.Event], None]:
    def add_messages_to_queue(
        state: Any, queue: Queue, nodes_mapping: Mapping[int, int], f_stop: threading.Event
    ) -> None:
        if not supports(state):
            original(state, queue, nodes_mapping, f_stop)
            return
        nodes = set(nodes_mapping)
        while not f_stop.is_set():
            for msg in dispatch_sweep(state, nodes):
                queue.put(msg)
            f_stop.wait(SWEEP_INTERVAL_S)

    return add_messages_to_queue


@contextlib.contextmanager
def linear_dispatch() -> Iterator[None]:
    """Run Flower's simulation engine with :func:`dispatch_sweep` as its message extractor."""
    from flwr.server.superlink.fleet.vce import vce_api

    original = getattr(vce_api, "add_messages_to_queue", None)
    if original is None:  # another Flower layout: keep its own dispatcher
        yield
        return
    vce_api.add_messages_to_queue = _add_messages_to_queue(original)
    try:
        yield
    finally:
        vce_api.add_messages_to_queue = original
