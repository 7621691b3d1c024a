"""Atomic file writes: an existing file is replaced only by complete output."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import UserError


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call write(fileobj) on a temporary file beside `path`, then rename it into place.

    On any error nothing is left behind and an existing `path` is untouched.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UserError(f"output directory {directory} does not exist: create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))
