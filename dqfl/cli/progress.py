"""Live progress for long runs: one line per round, a bar per sweep."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class ProgressPrinter:
    """Renders the harness's progress events (dicts) on the terminal; a context manager."""

    def __init__(self, console: Console | None = None, total_points: int = 1) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._overall = self._progress.add_task(
            "points", total=total_points, visible=total_points > 1
        )
        self._rounds = self._progress.add_task("rounds", total=None)
        self._total = total_points
        self._finished = 0  # points finished or skipped so far
        self._ran = 0  # points this invocation ran (skipped ones cost no time)
        self._start = time.monotonic()

    def __enter__(self) -> ProgressPrinter:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        label = event.get("label") or f"point {event.get('point', 0) + 1}"
        if kind == "point_start":
            self._progress.reset(self._rounds, total=event.get("rounds"), description=label)
        elif kind == "round":
            top1 = " ".join(f"{100 * a:4.1f}" for a in event.get("top1", []))
            depths = event.get("delivered_depths") or []
            depth_text = ""
            if depths:
                hist = [sum(1 for d in depths if d == k) for k in range(max(depths) + 1)]
                depth_text = f"  depths mean {sum(depths) / len(depths):.2f} (d=0..: {hist})"
            fleet = event.get("fleet_top1")
            fleet_text = f"  fleet {100 * fleet:4.1f}%" if fleet is not None else ""
            counts = [
                f"{event[k]} {k}" for k in ("failures", "timeouts", "rejected") if event.get(k)
            ]
            fault_text = ("  " + ", ".join(counts)) if counts else ""
            self._progress.update(self._rounds, completed=event.get("round"))
            self.console.print(
                f"{label}  round {event.get('round')}/{event.get('rounds')}  "
                f"top-1 per exit % [{top1}]{fleet_text}{depth_text}{fault_text}"
            )
        elif kind == "point_skipped":
            self._finished += 1
            self._progress.advance(self._overall)
            self.console.print(f"{label}: finished earlier, skipped")
        elif kind == "point_done":
            self._finished += 1
            self._ran += 1
            self._progress.advance(self._overall)
            where = event.get("out_dir")
            self.console.print(
                f"{label}: done" + (f" → {where}" if where else "") + self._eta_text()
            )

    def _eta_text(self) -> str:
        """``"  [7/105, 3 min 10 s so far, about 44 min left]"`` on a sweep; empty for one run."""
        if self._total <= 1:
            return ""
        elapsed = time.monotonic() - self._start
        left = (self._total - self._finished) * elapsed / max(self._ran, 1)
        text = f"  [{self._finished}/{self._total}, {_duration(elapsed)} so far"
        return text + (f", about {_duration(left)} left]" if left > 0 else "]")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
