"""Read finished runs from a results folder: the one place that knows the on-disk format."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dqfl.errors import DqflError
from dqfl.federation.results import CONFIG, HISTORY, SUMMARY


@dataclass
class RunRecord:
    """One finished run: its resolved config, summary, per-round history and where it lives."""

    path: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def method(self) -> str:
        return str(self.config.get("federation", {}).get("method", "?"))

    @property
    def strategy(self) -> str:
        return str(self.config.get("federation", {}).get("strategy", "?"))

    @property
    def snr_db(self) -> float:
        return float(self.config.get("channel", {}).get("snr_db", float("nan")))

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    def flat_config(self) -> dict[str, Any]:
        """``section.key -> value`` of the resolved config (top-level keys as they are)."""
        flat: dict[str, Any] = {}
        for key, value in self.config.items():
            if isinstance(value, dict):
                flat.update({f"{key}.{k}": v for k, v in value.items()})
            else:
                flat[key] = value
        return flat

    @property
    def final(self) -> dict[str, Any]:
        """The last round's record (the final global model)."""
        return self.history[-1] if self.history else {}


def find_runs(root: str | Path) -> list[RunRecord]:
    """Every finished run at or below ``root`` (a run is finished once its summary.json exists)."""
    root = Path(root)
    if not root.exists():
        raise DqflError(f"results folder not found: {root}")
    if not root.is_dir():
        raise DqflError(f"results path is not a folder: {root}")
    summaries = sorted(root.rglob(SUMMARY))
    if not summaries:
        raise DqflError(
            f"no finished runs (summary.json) under {root}; run `dqfl run` or `dqfl sweep`"
        )
    return [_load(path.parent) for path in summaries]


# Keys a report lays out itself (axes and bookkeeping); any other key that differs between runs
# marks a variant of a method (e.g. a `--grid federation.strategy=fedavg,fedprox` sweep).
_AXES = {"seed", "name", "output_dir", "channel.snr_db", "federation.method"}


def variant_keys(runs: list[RunRecord]) -> dict[str, list[str]]:
    """Per method, the config keys whose values differ between its runs."""
    by_method: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_method.setdefault(run.method, []).append(run.flat_config())
    return {
        method: sorted(
            key
            for key in set().union(*configs) - _AXES
            if len({repr(c.get(key)) for c in configs}) > 1
        )
        for method, configs in by_method.items()
    }


def _load(run_dir: Path) -> RunRecord:
    try:
        summary = json.loads((run_dir / SUMMARY).read_text())
        config = tomllib.loads((run_dir / CONFIG).read_text())
        history_file = run_dir / HISTORY
        history = []
        if history_file.exists():
            history = [json.loads(line) for line in history_file.read_text().splitlines() if line]
    except (OSError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DqflError(f"cannot read run {run_dir}: {exc}") from None
    return RunRecord(run_dir, config, summary, history)
