"""Output files and folders named by the user: checked before the work, written atomically after.

A command that computes for minutes must not find out at the end that its output path is a
folder, sits under a file, is read-only or has an extension nothing can write: these are checked
first (:func:`check_file`, :func:`check_folder`), and the write itself (:func:`save`) goes to a
temporary name that is renamed, so a failure leaves the old file, never half a new one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from dqfl.errors import DqflError

#: Figure files matplotlib writes; raster images PIL writes.
FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".pdf", ".svg", ".eps")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif", ".pdf")

#: Temp files of writes in progress; an interrupt removes them before the process exits.
PENDING: set[str] = set()


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return probe


def _check_parent_chain(path: Path, option: str) -> None:
    base = _nearest_existing(path if not path.exists() else path.parent)
    if not base.is_dir():
        raise DqflError(f"{option} {path}: cannot write there, {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise DqflError(f"{option} {path}: cannot write there, {base} is not writable")


def check_file(path: Path, option: str, suffixes: tuple[str, ...] | None = None) -> Path:
    """``path`` can be written as a file (and has one of ``suffixes``), or DqflError."""
    path = Path(path)
    if path.is_dir():
        raise DqflError(f"{option} {path} is a folder; give a file name (a path inside it)")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise DqflError(
            f"{option} {path}: unknown file type {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(suffixes)}"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise DqflError(f"{option} {path}: the file is not writable")
    _check_parent_chain(path, option)
    return path


def check_folder(path: Path, option: str) -> Path:
    """``path`` is, or can be created as, a writable folder; or DqflError."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DqflError(f"{option} {path} is a file; give a folder")
    base = _nearest_existing(path)
    if not base.is_dir():
        raise DqflError(f"{option} {path}: cannot create it, {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise DqflError(f"{option} {path}: cannot write there, {base} is not writable")
    return path


def save(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` for a temp file next to ``path`` (same suffix), then rename it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise DqflError(f"cannot write {path}: {exc.strerror or exc}") from None
    PENDING.add(tmp)
    try:
        write(Path(tmp))
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DqflError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        PENDING.discard(tmp)
    return path


def discard_pending() -> None:
    """Remove temp files of writes still in progress (an interrupt calls this)."""
    for tmp in list(PENDING):
        Path(tmp).unlink(missing_ok=True)


def save_text(path: Path, text: str) -> Path:
    return save(path, lambda tmp: tmp.write_text(text))
