"""Atomic file writes: an existing file is replaced only by complete output."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
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


def _move_in(stage: Path, out_dir: Path) -> None:
    """Rename every file of `stage` into `out_dir` (same file system: no data is copied)."""
    for path in sorted(stage.iterdir()):
        os.replace(path, out_dir / path.name)
    stage.rmdir()


def _make_parents(directory: Path) -> list[Path]:
    """Create the missing ancestors of `directory`; returns those created, outermost first (on a
    failure none is left)."""
    created = []
    try:
        for path in (p for p in reversed(directory.parents) if not p.is_dir()):
            with contextlib.suppress(FileExistsError):
                path.mkdir()
                created.append(path)
    except OSError as exc:
        _remove_dirs(created)
        raise UserError(f"cannot create {directory} ({exc.strerror or exc.__class__.__name__})") from None
    return created


def _public(path: Path) -> None:
    """Give a directory that mkdtemp made (0700) the mode mkdir would have given it."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)


@contextlib.contextmanager
def staged_dir(out_dir: str | os.PathLike):
    """Yield a staging directory for the files of `out_dir`: when the block ends without error they
    move in (a new `out_dir` is renamed into place whole); on an error or a signal the staging
    directory goes and `out_dir` (and its parents) stay as they were. Errors name `out_dir`."""
    out_dir = Path(out_dir)
    created = [] if out_dir.exists() else _make_parents(out_dir)
    new = not out_dir.exists()
    try:
        where = out_dir.parent if new else out_dir
        stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name[:64]}.", suffix=".staging", dir=where))
    except OSError as exc:
        _remove_dirs(created)
        raise UserError(f"cannot write {out_dir} ({exc.strerror or exc.__class__.__name__})") from None
    try:
        yield stage
        if new:
            _public(stage)
            try:
                os.rename(stage, out_dir)
            except OSError:  # created meanwhile (another process): move the files in instead
                _move_in(stage, out_dir)
        else:
            _move_in(stage, out_dir)
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        _remove_dirs(created)
        if isinstance(exc, OSError):
            raise UserError(f"cannot write {out_dir} ({exc.strerror or exc.__class__.__name__})") from None
        if isinstance(exc, UserError):
            raise UserError(str(exc).replace(str(stage), str(out_dir))) from None
        raise


def _remove_dirs(created: list[Path]) -> None:
    for path in reversed(created):
        with contextlib.suppress(OSError):
            path.rmdir()


_private = {"depth": 0, "path": None, "saved": None}
_private_lock = threading.Lock()


@contextlib.contextmanager
def private_tmpdir(prefix: str = "latte-tmp-"):
    """TMPDIR of the child processes started in the block (yowasp's `yowasp_*`, gcc's `cc*.s`): a
    new directory, removed with whatever a killed child left there when the block ends (error or
    signal too). Blocks that overlap (threads, nesting) share the outermost one's; this process's
    own `tempfile` directory is left as it was. Yields the directory."""
    tempfile.gettempdir()  # pinned first: tempfile must not adopt the directory removed later
    with _private_lock:
        if _private["depth"] == 0:
            _private["path"] = tempfile.mkdtemp(prefix=prefix)
            _private["saved"] = os.environ.get("TMPDIR")
            os.environ["TMPDIR"] = _private["path"]
        _private["depth"] += 1
        path = _private["path"]
    try:
        yield Path(path)
    finally:
        with _private_lock:
            _private["depth"] -= 1
            if _private["depth"] == 0:
                if _private["saved"] is None:
                    os.environ.pop("TMPDIR", None)
                else:
                    os.environ["TMPDIR"] = _private["saved"]
                shutil.rmtree(path, ignore_errors=True)


def content_hash(doc) -> str:
    """SHA-256 of `doc`'s canonical JSON (sorted keys, no spaces)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_hashed_json(path: str | os.PathLike, doc: dict) -> None:
    """Write `doc` atomically with a field `sha256`, the content_hash of the rest."""
    import json

    atomic_write_text(path, json.dumps({**doc, "sha256": content_hash(doc)}, indent=1, sort_keys=True) + "\n")


def read_hashed_json(path: str | os.PathLike) -> tuple[dict | None, str | None]:
    """(`doc`, None) of a file write_hashed_json wrote and nobody changed since; (None, why not)
    if it is there but fails the check; (None, None) if it is not there."""
    import json

    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc.__class__.__name__}"
    except ValueError:
        return None, "not valid JSON: truncated?"
    if not isinstance(doc, dict) or "sha256" not in doc:
        return None, "no content hash: an older format"
    digest = doc.pop("sha256")
    if digest != content_hash(doc):
        return None, "content hash mismatch"
    return doc, None
