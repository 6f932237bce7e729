"""Ctrl-C that works: the first interrupt stops any `dqfl` command promptly, exit code 130.

Why not a KeyboardInterrupt: Flower's simulation engine runs the ServerApp in a non-daemon thread
that waits on its in-memory grid, so the interpreter would hang at exit, and some libraries
swallow the exception. Instead the handler freezes result writing (every result file is written
atomically under one lock, so nothing is half-written), lets the command clean up and say what it
kept, ends every child process (Ray's services and workers) and leaves with ``os._exit``.
A second interrupt while this runs leaves at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Imported now, not in the handler: an import there could wait on a lock another thread holds.
from dqfl.federation.results import discard_unfinished, freeze_writes, is_done
from dqfl.outputs import discard_pending

EXIT_INTERRUPTED = 130

_on_interrupt: Callable[[], str] | None = None
_stopping = False


def set_on_interrupt(callback: Callable[[], str] | None) -> None:
    """Register the running command's clean-up; it returns the one line to print."""
    global _on_interrupt
    _on_interrupt = callback


def install() -> None:
    """Handle SIGINT (and SIGTERM) for the whole process; call once from the main thread."""
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)


def _handler(signum: int, frame: object) -> None:
    global _stopping
    code = EXIT_INTERRUPTED if signum == signal.SIGINT else 128 + signum
    if _stopping:  # a second interrupt: leave now
        os._exit(code)
    _stopping = True
    logging.disable(logging.CRITICAL)  # workers dying below must not print failures
    freeze_writes()
    discard_pending()
    line = (
        "interrupted: stopped before finishing (output files are whole or absent); "
        "run the same command again to start over"
    )
    if _on_interrupt is not None:
        try:
            line = _on_interrupt()
        except Exception as exc:  # the exit must happen whatever the clean-up does
            line = f"interrupted (clean-up failed: {exc})"
    stop_children()
    try:
        sys.stdout.flush()
    except Exception:
        pass
    try:
        sys.stderr.write("\n" + line + "\n")
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(code)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren, ...), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True for a running process; zombies (exited, not yet reaped) count as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().decode(errors="replace").rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def stop_children(grace_s: float = 1.5) -> None:
    """SIGTERM every descendant, then SIGKILL whatever is left after ``grace_s``."""
    me = os.getpid()
    seen = set(descendants(me))
    _signal_all(seen, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        seen |= set(descendants(me))
        if not any(alive(p) for p in seen):
            return
        time.sleep(0.05)
    seen |= set(descendants(me))
    _signal_all(seen, signal.SIGKILL)


def _signal_all(pids: set[int], sig: int) -> None:
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, sig)
            except OSError:
                pass


def keep_finished(targets: list, root: object | None = None) -> Callable[[], str]:
    """Clean-up for commands that write run folders: finished points stay, every unfinished
    point's partial files go (``root``, the sweep folder, too if that leaves it empty and it
    did not exist before). Returns the line that says what was kept and how to resume."""
    folders = [Path(t) for t in targets]
    sweep_root = Path(root) if root is not None else None
    root_existed = sweep_root is not None and sweep_root.exists()

    def cleanup() -> str:
        done = [f for f in folders if is_done(f)]
        for folder in folders:
            discard_unfinished(folder)
        if sweep_root is not None and not root_existed:
            try:
                sweep_root.rmdir()
            except OSError:
                pass
        if sweep_root is None:
            if done:
                return f"interrupted: the run had finished; its results are in {done[0]}"
            return (
                f"interrupted: the run stopped before it finished and its partial files in "
                f"{folders[0]} were removed; run the same command again to start it over"
            )
        return (
            f"interrupted: kept {len(done)} of {len(folders)} finished points in {sweep_root} "
            "(unfinished ones removed); run the same command again to resume: finished points "
            "are skipped"
        )

    return cleanup
