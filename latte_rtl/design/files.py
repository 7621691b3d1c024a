"""Atomic file writes: an existing file is replaced only by complete output."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path

from ..errors import UserError


def _probe(directory: Path, what: str) -> None:
    """UserError unless a file can be created in `directory` (a real try: access bits lie to root)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise UserError(f"cannot write {what} in {directory} ({exc.strerror or exc.__class__.__name__}): "
                        "choose a writable directory") from None


def check_output_file(path: str | os.PathLike, option: str = "-o") -> Path:
    """Before any work: `path` can be written as a file (not a directory, its directory exists
    and is writable). Returns it as a Path."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserError(f"{option} {path} is a directory: expected a file name")
    if not directory.is_dir():
        raise UserError(f"output directory {directory} does not exist: create it first")
    _probe(directory, path.name)
    return path


def check_output_dir(path: str | os.PathLike, option: str = "-o") -> Path:
    """Before any work: `path` is a directory or can be created as one, and is writable."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path} is an existing file: expected a directory")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{option} {path}: {existing} is a file, not a directory")
    _probe(existing, "files")
    return path


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call write(fileobj) on a temporary file beside `path`, then rename it into place.

    On any error nothing is left behind and an existing `path` is untouched.
    """
    path = check_output_file(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror or exc.__class__.__name__})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise UserError(f"cannot write {path} ({exc.strerror or exc.__class__.__name__})") from None
    except BaseException:
        os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


@contextlib.contextmanager
def file_lock(path: str | os.PathLike):
    """Hold an exclusive lock on `path` (created if missing) for a `with` block: one writer of a
    cache entry among processes (local workers, Dask workers of one machine)."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
