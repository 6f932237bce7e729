"""The results folder of one run, written so that an interrupted run leaves nothing half-written.

Every file goes through a temp file + ``os.replace``; ``summary.json`` is written last and is the
completion marker a resumed sweep looks for.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from dqfl.config import RunConfig
    from dqfl.federation.record import RoundRecord

SUMMARY = "summary.json"
HISTORY = "history.jsonl"
CONFIG = "config.toml"
MODEL = "model.pt"


# Every result write holds this lock; an interrupt takes it for good (``freeze_writes``) so the
# process can exit with no write in flight. Re-entrant: the interrupt handler runs in the main
# thread, which may itself be inside a write.
_WRITE_LOCK = threading.RLock()
_UMASK = os.umask(0o022)
os.umask(_UMASK)
TMP_GLOB = ".*.tmp"


def freeze_writes(timeout_s: float = 10.0) -> None:
    """Block every later result write (for the rest of the process): called on interrupt."""
    _WRITE_LOCK.acquire(timeout=timeout_s)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file next to ``path`` and rename: readers see all of it or nothing."""
    with _WRITE_LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide results from the group
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _clean(value: Any) -> Any:
    """JSON without NaN/Inf (strict parsers reject them): non-finite floats become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _clean(value.item())
    return value


def to_json(value: Any) -> str:
    return json.dumps(_clean(value), sort_keys=True)


def is_done(out_dir: Path) -> bool:
    return (Path(out_dir) / SUMMARY).is_file()


def read_summary(out_dir: Path) -> dict[str, Any]:
    return json.loads((Path(out_dir) / SUMMARY).read_text())


def reusable_summary(cfg: RunConfig, out_dir: Path) -> dict[str, Any] | None:
    """The finished results in ``out_dir`` if they are this configuration's, else None.

    A folder holding finished results of another configuration is refused (DqflError): reporting
    them as this run's would be wrong, and overwriting them would lose finished work. The stored
    ``config.toml`` is compared key by key on what changes results (see
    :meth:`RunConfig.identity`); the summary's fingerprint decides when it cannot be read.
    """
    from dqfl.config import load_config
    from dqfl.errors import DqflError

    out_dir = Path(out_dir)
    if not is_done(out_dir):
        return None
    try:
        summary = read_summary(out_dir)
    except (OSError, ValueError) as exc:
        raise DqflError(
            f"{out_dir} holds an unreadable {SUMMARY} ({exc}); delete it or choose another folder"
        ) from None
    here = cfg.identity()
    try:
        there = load_config(out_dir / CONFIG).identity()
    except (DqflError, OSError) as exc:
        if isinstance(summary, dict) and summary.get("fingerprint") == cfg.fingerprint():
            return summary
        raise DqflError(
            f"{out_dir} holds finished results whose configuration cannot be compared ({exc}); "
            "choose another output folder or delete that one"
        ) from None
    diffs = [k for k in sorted(set(here) | set(there)) if here.get(k) != there.get(k)]
    if diffs:
        shown = "; ".join(f"{k} = {there.get(k)!r} there, {here.get(k)!r} now" for k in diffs[:3])
        more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
        raise DqflError(
            f"{out_dir} holds finished results of a different configuration: {shown}{more}; "
            "choose another output folder (--out) or delete that one to run again"
        )
    return summary


def discard_unfinished(out_dir: Path) -> bool:
    """Remove what an unfinished run left in ``out_dir`` (never finished results, never other
    files); the folder goes too if that leaves it empty. True if anything was removed."""
    out_dir = Path(out_dir)
    if is_done(out_dir) or not out_dir.is_dir():
        return False
    removed = False
    for path in [out_dir / n for n in (CONFIG, HISTORY, MODEL)] + list(out_dir.glob(TMP_GLOB)):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed = True
    try:
        out_dir.rmdir()
        removed = True
    except OSError:
        pass  # not empty: the user's own files stay
    return removed


class RunRecorder:
    """Writes config.toml at the start, history.jsonl after every round, then model and summary."""

    def __init__(self, cfg: RunConfig, out_dir: Path) -> None:
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.rows: list[dict[str, Any]] = []
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # A previous interrupted attempt may have left a history: this run starts over.
        for name in (HISTORY, MODEL):
            (self.out_dir / name).unlink(missing_ok=True)
        atomic_write_text(self.out_dir / CONFIG, cfg.to_toml())

    def add_round(self, record: RoundRecord | dict[str, Any]) -> None:
        """Append one round (a :class:`RoundRecord`, or its row) to history.jsonl."""
        row = record.to_row() if hasattr(record, "to_row") else dict(record)
        self.rows.append(_clean(row))
        text = "".join(to_json(r) + "\n" for r in self.rows)
        atomic_write_text(self.out_dir / HISTORY, text)

    def save_model(self, state: dict[str, torch.Tensor]) -> None:
        import torch

        buffer = io.BytesIO()
        torch.save(
            {
                "state_dict": {k: v.detach().cpu() for k, v in state.items()},
                "config": self.cfg.to_json(),
            },
            buffer,
        )
        atomic_write_bytes(self.out_dir / MODEL, buffer.getvalue())

    def finish(self, extra: dict[str, Any]) -> dict[str, Any]:
        """Summary from the history plus ``extra``; written last (the completion marker)."""
        summary = summarise(self.cfg, self.rows)
        summary.update(_clean(extra))
        atomic_write_text(
            self.out_dir / SUMMARY, json.dumps(_clean(summary), indent=2, sort_keys=True)
        )
        return summary


def summarise(cfg: RunConfig, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Final figures of a run from its per-round history."""
    last = rows[-1] if rows else {}
    top1 = last.get("top1") or []
    best = [
        max(
            (r["top1"][i] for r in rows if r.get("top1") and r["top1"][i] is not None), default=None
        )
        for i in range(len(top1))
    ]
    depths = [d for r in rows for d in r.get("delivered_depths", [])]
    return {
        "name": cfg.run_name(),
        "method": cfg.federation.method,
        "strategy": cfg.federation.strategy,
        "aggregator": cfg.federation.aggregator,
        "server_opt": cfg.federation.server_opt,
        "snr_db": cfg.channel.snr_db,
        "seed": cfg.seed,
        "fingerprint": cfg.fingerprint(),
        "rounds": len(rows),
        "top1": top1,
        "final_top1": top1,
        "best_top1": best,
        "final_fleet_top1": last.get("fleet_top1"),
        "mean_fleet_top1": _mean([r.get("fleet_top1") for r in rows]),
        "mean_delivered_depth": _mean(depths),
        "outage_rate": _mean([1.0 if d == 0 else 0.0 for d in depths]),
        "total_bits_sent": sum(r.get("bits_sent", 0) or 0 for r in rows),
        "total_energy_j": sum(r.get("energy_j", 0.0) or 0.0 for r in rows),
        "total_failures": sum(r.get("failures", 0) or 0 for r in rows),
        "total_timeouts": sum(r.get("timeouts", 0) or 0 for r in rows),
        "total_accepted": sum(r.get("accepted", 0) or 0 for r in rows),
        "total_rejected": sum(r.get("rejected", 0) or 0 for r in rows),
        "rounds_wall_s": sum(r.get("wall_s", 0.0) or 0.0 for r in rows),
    }


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(vals) / len(vals) if vals else None
