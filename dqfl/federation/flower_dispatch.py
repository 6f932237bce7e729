"""Cheaper message traffic inside Flower's simulation engine: a linear-time dispatcher for the
instructions and a gate on reply polling (the cuts that make 1000s of vehicles per round
feasible).

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
state with the attributes used here); any other state object gets Flower's original loop. A
sweep is skipped while the store is unchanged since a sweep that found nothing to hand out:
nothing can have become deliverable (a round pushes all its messages at once, so at 10,000
vehicles this saves walking 10,000 stored messages at every sweep for the whole round). Flower's
workers and its reply thread wait on their queues at most 0.05 s at a time (:func:`cap_waits`),
so the engine stops within 0.05 s of the run's end instead of up to 1 s.

On the server's side, Flower's grid asks the link state for every outstanding reply each
``pull_interval``, and each ask validates all of them: O(outstanding) per poll.
:func:`gate_reply_pulls` lets a poll through only when at least a quarter of the outstanding
replies (at least one) have been stored since the last poll, or every ``MAX_PULL_GAP_S``:
about log(n) polls per round instead of one per interval, and the round's end is seen within
one interval of its last reply.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from queue import Queue
from typing import Any

# Flower pauses 0.1 s between sweeps and between reply polls. A skipped sweep (the store is
# unchanged) and a gated poll only compare a few numbers, so pausing 0.01 s costs nothing and a
# round no longer waits up to 0.1 s for its instructions to go out and again for its last reply
# to be seen (`make run`: about 0.1 s of each ~0.6 s round). A sweep that walks the store pauses
# longer with its size (see sweep_pause).
SWEEP_INTERVAL_S = 0.01
MAX_SWEEP_INTERVAL_S = 0.1  # Flower's own pause
SWEEP_SECONDS_PER_MESSAGE = 1e-5  # pause per stored message: walks stay a small share of a core
PULL_INTERVAL_S = 0.01
WORKER_WAIT_S = 0.05  # the longest a worker of Flower's waits on the instruction queue (see below)
PULL_FRACTION = 0.25  # a poll is let through once this share of the outstanding replies waits
MAX_PULL_GAP_S = 5.0  # ... or once this long has passed since the last one (a safety net)

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


def sweep_pause(stored: int) -> float:
    """Seconds before the next sweep when ``stored`` messages are in the store: 0.01 s up to
    1,000, then growing to Flower's 0.1 s at 10,000 (a walk of the store costs about a
    microsecond per message, so sweeping stays near a tenth of a core at any size)."""
    return min(MAX_SWEEP_INTERVAL_S, max(SWEEP_INTERVAL_S, stored * SWEEP_SECONDS_PER_MESSAGE))


def store_marker(state: Any) -> tuple[int, int, Any]:
    """What changes whenever a message is stored in or removed from the instruction store
    (its identity, size and newest key; dicts keep insertion order)."""
    with state.lock:
        store = state.message_ins_store
        return id(store), len(store), next(reversed(store), None)


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
        idle_at = None  # the store's marker when a sweep last found nothing to hand out
        while not f_stop.is_set():
            marker = store_marker(state)
            if marker != idle_at:
                batch = dispatch_sweep(state, nodes)
                for msg in batch:
                    queue.put(msg)
                idle_at = None if batch else marker
            f_stop.wait(sweep_pause(marker[1]))

    return add_messages_to_queue


def cap_waits(queue: Queue, limit: float = WORKER_WAIT_S) -> None:
    """Cap the timeout of every blocking ``get`` on ``queue`` at ``limit`` seconds.

    Flower's workers take instructions from one queue, and its reply thread takes replies from
    another, with ``get(timeout=1.0)``; they look at the engine's stop event only between waits,
    so a finished run waited up to a second for them before Ray was shut down (0.9 s of every
    ``make run``). Capped, an idle thread wakes 20 times a second (no measurable cost) and sees
    the stop event within ``limit``. A timeout only ends a wait for which nothing arrived: every
    message is handed on as before.
    """
    get = queue.get
    if getattr(get, "capped", False):  # every worker caps the shared queues: once is enough
        return

    def capped_get(block: bool = True, timeout: float | None = None) -> Any:
        if block and timeout is not None:
            timeout = min(timeout, limit)
        return get(block, timeout)

    capped_get.capped = True  # type: ignore[attr-defined]
    queue.get = capped_get  # type: ignore[method-assign]


def _worker(original: Callable[..., None]) -> Callable[..., None]:
    def worker(messageins_queue: Queue, messageres_queue: Queue, *args: Any) -> None:
        cap_waits(messageins_queue)
        cap_waits(messageres_queue)
        original(messageins_queue, messageres_queue, *args)

    return worker


@contextlib.contextmanager
def linear_dispatch() -> Iterator[None]:
    """Run Flower's simulation engine with :func:`dispatch_sweep` as its message extractor and
    its queue waits capped (:func:`cap_waits`)."""
    from flwr.server.superlink.fleet.vce import vce_api

    originals = {name: getattr(vce_api, name, None) for name in ("add_messages_to_queue", "worker")}
    if None in originals.values():  # another Flower layout: keep its own loops
        yield
        return
    vce_api.add_messages_to_queue = _add_messages_to_queue(originals["add_messages_to_queue"])
    vce_api.worker = _worker(originals["worker"])
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(vce_api, name, original)


class _ReplyGate:
    """Stands in for ``grid.pull_messages``: polls only when enough replies wait (module doc)."""

    def __init__(self, grid: Any) -> None:
        self.pull = grid.pull_messages
        self.store = grid.state.message_res_store
        self.seen = -1  # stored replies right after the last poll; -1: poll now
        self.last = 0.0

    def __call__(self, message_ids: Any) -> Any:
        ids = set(message_ids)
        stored = len(self.store)
        self.seen = min(self.seen, stored)  # the store shrank: count arrivals from here
        due = max(1, math.ceil(PULL_FRACTION * len(ids)))
        if self.seen >= 0 and stored - self.seen < due:
            if time.monotonic() - self.last < MAX_PULL_GAP_S:
                return []
        replies = self.pull(ids)
        self.seen, self.last = len(self.store), time.monotonic()
        return replies


def gate_reply_pulls(grid: Any) -> bool:
    """Gate ``grid``'s reply polls (once per grid) when it is Flower's in-memory grid over a
    state :func:`supports`; True when the gate is on."""
    if isinstance(getattr(grid, "pull_messages", None), _ReplyGate):
        return True
    state = getattr(grid, "state", None)
    if state is None or not supports(state) or not hasattr(state, "message_res_store"):
        return False
    grid.pull_messages = _ReplyGate(grid)
    grid.pull_interval = PULL_INTERVAL_S
    return True
