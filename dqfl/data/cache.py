"""On-disk cache of generated arrays, keyed by a hash of everything that shapes the pixels.

A sweep over model or channel settings reuses the same files instead of re-rendering. Files are
written to a temporary name and moved into place with os.replace, so an interrupted run never
leaves a half-written file behind (and concurrent writers of the same key are harmless).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dqfl.data.config import DEFAULT_CACHE_DIR, DataConfig

#: Bump when the renderer changes what it draws, so stale caches are not reused.
CACHE_VERSION = 2
ENV_VAR = "DQFL_CACHE_DIR"


def resolve_cache_dir(cfg: DataConfig) -> Path | None:
    """cfg.cache_dir if set explicitly, else $DQFL_CACHE_DIR, else .dqfl_cache; '' disables."""
    value = cfg.cache_dir
    if value == DEFAULT_CACHE_DIR:
        value = os.environ.get(ENV_VAR, DEFAULT_CACHE_DIR)
    return Path(value).expanduser() if value else None


def digest(payload: dict) -> str:
    """Stable short hash of a JSON-able description of the data."""
    text = json.dumps({"version": CACHE_VERSION, **payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def load_or_build(
    path: Path | None, build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Arrays from `path` if present and readable, else `build()` them and store atomically."""
    if path is not None and path.is_file():
        try:
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError):
            pass  # damaged file (e.g. disk full earlier): rebuild and overwrite
    arrays = build()
    if path is not None:
        _atomic_save(path, arrays)
    return arrays


def write_manifest(folder: Path, payload: dict) -> None:
    """A human-readable note of what a cache folder holds (best effort)."""
    target = folder / "manifest.json"
    if not target.exists():
        _atomic_write(target, json.dumps(payload, indent=2, sort_keys=True, default=str).encode())


def _atomic_save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _atomic_write(path, buf.getvalue())


def _atomic_write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:  # a read-only or full disk costs speed, never correctness
        warnings.warn(f"could not write data cache file {path}: {exc}", stacklevel=3)
