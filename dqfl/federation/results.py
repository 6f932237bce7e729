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
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from dqfl.config import RunConfig

SUMMARY = "summary.json"
HISTORY = "history.jsonl"
CONFIG = "config.toml"
MODEL = "model.pt"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
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

    def add_round(self, row: dict[str, Any]) -> None:
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
        "total_rejected": sum(r.get("rejected", 0) or 0 for r in rows),
        "rounds_wall_s": sum(r.get("wall_s", 0.0) or 0.0 for r in rows),
    }


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(vals) / len(vals) if vals else None
