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


def name_max(directory: Path) -> int:
    """Longest file name (bytes) the file system of `directory` takes."""
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_name_length(path: Path, option: str) -> None:
    """UserError if a part of `path` is too long for the file system (checked before any stat,
    which would fail on it)."""
    limit = name_max(Path(path.anchor or "."))
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > limit:
            raise UserError(f"{option} {str(path)[:60]}…: a file name of {size} bytes, the file system takes at most "
                            f"{limit}: choose a shorter name")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return a.resolve() == b.resolve()


def check_output_file(path: str | os.PathLike, option: str = "-o", inputs: dict | None = None) -> Path:
    """Before any work: `path` can be written as a regular file: a new name or an existing
    regular file (not a directory, symbolic link, FIFO or device), in a writable directory that
    exists, a name the file system takes, none of `inputs` ({what: path} of the command's
    other files, e.g. {"the input --qk": …}). Returns it as a Path."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    check_name_length(path, option)
    if path.is_symlink():
        raise UserError(f"{option} {path} is a symbolic link: expected a regular file or a new name (writing "
                        "would replace the link, not its target)")
    if path.is_dir():
        raise UserError(f"{option} {path} is a directory: expected a file name")
    if path.exists() and not path.is_file():
        raise UserError(f"{option} {path} is not a regular file (a FIFO, device or socket): expected a regular file "
                        "or a new name")
    if not directory.is_dir():
        raise UserError(f"output directory {directory} of {option} does not exist: create it first")
    for name, other in (inputs or {}).items():
        if other is not None and _same_file(path, Path(other)):
            raise UserError(f"{option} {path} is also {name}: write the result to another file")
    _probe(directory, path.name)
    return path


def check_writable_dir(directory: str | os.PathLike, what: str) -> None:
    """Before any work: files can be created in `directory` (and its sim_build/, if there)."""
    directory = Path(directory)
    _probe(directory, what)
    if (directory / "sim_build").is_dir():
        _probe(directory / "sim_build", what)


def check_output_dir(path: str | os.PathLike, option: str = "-o") -> Path:
    """Before any work: `path` is a directory or can be created as one, and is writable."""
    path = Path(path)
    check_name_length(path, option)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path} is an existing file: expected a directory")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{option} {path}: {existing} is a file, not a directory")
    _probe(existing, "files")
    return path


def atomic_write(path: str | os.PathLike, write, option: str = "-o") -> None:
    """Call write(fileobj) on a temporary file beside `path`, then rename it into place.

    On any error (or signal) nothing is left behind and an existing `path` is untouched.
    """
    path = check_output_file(path, option)
    directory = path.parent if str(path.parent) else Path(".")
    try:  # a short temporary name: `path`'s own may be near the file system's limit
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=".tmp", dir=directory)
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


def atomic_write_text(path: str | os.PathLike, text: str, option: str = "-o") -> None:
    atomic_write(path, lambda f: f.write(text.encode()), option)


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
