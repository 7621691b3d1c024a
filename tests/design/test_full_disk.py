"""Output whole or not at all (issue 29): `generate` on a full disk leaves no directory (nor the
parents it would have made), and with --force leaves the design it would have replaced as it was;
the helpers behind it and behind the checked caches and private TMPDIRs."""

import errno
import os
import subprocess
import sys
import threading

import pytest

from latte_rtl.errors import UserError

ENOSPC = os.strerror(errno.ENOSPC)
SMALL = ["--dim", "8", "--lanes", "4", "--max-keys", "16"]


def _disk_full_after(mp: pytest.MonkeyPatch, files: int) -> None:
    """os.replace (the last step of every atomic write) fails with ENOSPC after `files` calls."""
    real, calls = os.replace, []

    def replace(src, dst, **kwargs):
        calls.append(dst)
        if len(calls) > files:
            raise OSError(errno.ENOSPC, ENOSPC)
        return real(src, dst, **kwargs)

    mp.setattr(os, "replace", replace)


def _generate(capsys, *args) -> tuple[int, str]:
    from latte_rtl.commands import main

    capsys.readouterr()
    code = main(["generate", *map(str, args)])
    return code, capsys.readouterr().err


def _one_line_error(code: int, err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("latte-rtl: error: "), err
    assert "Traceback" not in err and all(w in lines[0] for w in words), (words, err)


def _contents(directory) -> dict:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_full_disk_generate_leaves_no_directory(tmp_path, capsys):
    out = tmp_path / "new" / "design"  # its parent is missing too
    with pytest.MonkeyPatch.context() as mp:
        _disk_full_after(mp, 1)
        code, err = _generate(capsys, *SMALL, "-o", out)
    _one_line_error(code, err, ENOSPC, str(out))
    assert list(tmp_path.iterdir()) == []
    code, err = _generate(capsys, *SMALL, "-o", out)  # with room: every file, a directory like mkdir's
    assert code == 0, err
    assert "manifest.json" in _contents(out) and not any(p.name.startswith(".") for p in tmp_path.rglob("*"))
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask


def test_full_disk_generate_force_leaves_the_old_design(tmp_path, capsys):
    out = tmp_path / "design"
    code, err = _generate(capsys, *SMALL, "-o", out)
    assert code == 0, err
    before = _contents(out)
    other = [*SMALL[:2], "--lanes", "2", "--max-keys", "16", "--prefix", "b_", "--force", "-o", out]
    with pytest.MonkeyPatch.context() as mp:
        _disk_full_after(mp, 1)
        code, err = _generate(capsys, *other)
    _one_line_error(code, err, ENOSPC, str(out))
    assert _contents(out) == before
    code, err = _generate(capsys, *other)  # with room: the other design replaces this one whole
    assert code == 0, err
    assert all(name.startswith("b_") for name in _contents(out) if name != "manifest.json")


def test_staged_dir_on_error_or_signal_leaves_nothing(tmp_path):
    from latte_rtl.design.files import staged_dir

    out = tmp_path / "a" / "b"
    for exc in (UserError("no"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), staged_dir(out) as stage:
            (stage / "x").write_text("partial")
            raise exc
        assert list(tmp_path.iterdir()) == []
    with staged_dir(out) as stage:
        (stage / "x").write_text("whole")
    assert _contents(out) == {"x": b"whole"}
    with pytest.raises(UserError, match=f"cannot write {out}"), staged_dir(out) as stage:
        (stage / "x").write_text("other")
        raise OSError(errno.ENOSPC, ENOSPC)
    assert _contents(out) == {"x": b"whole"}


def test_hashed_json_detects_edits_and_truncation(tmp_path):
    from latte_rtl.design.files import read_hashed_json, write_hashed_json

    path = tmp_path / "entry.json"
    assert read_hashed_json(path) == (None, None)
    doc = {"results": {"t": {"transistors": 29286, "ratio": 3.283}}, "error": None}
    write_hashed_json(path, doc)
    assert read_hashed_json(path) == (doc, None)
    path.write_text(path.read_text().replace("29286", "129286"))
    assert read_hashed_json(path) == (None, "content hash mismatch")
    path.write_text('{"results": {}}')
    assert read_hashed_json(path) == (None, "no content hash: an older format")
    path.write_text('{"results": ')
    assert read_hashed_json(path) == (None, "not valid JSON: truncated?")


def test_private_tmpdir_for_children_removed_after(tmp_path):
    """Children see the private TMPDIR; overlapping blocks (threads) share it; it is removed, with
    what a child left there, when the last block ends, and TMPDIR is restored."""
    import tempfile

    from latte_rtl.design.files import private_tmpdir

    saved, mine = os.environ.get("TMPDIR"), tempfile.gettempdir()
    inner_done, outer_may_end = threading.Event(), threading.Event()
    seen = []

    def child_tmpdir() -> str:
        code = "import tempfile, pathlib; d = tempfile.mkdtemp(prefix='yowasp_'); print(d)"
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()

    def other_thread():
        with private_tmpdir() as shared:
            seen.append(shared)
            inner_done.set()
            outer_may_end.wait(10)

    with private_tmpdir() as tmp:
        left = child_tmpdir()
        assert os.path.dirname(left) == str(tmp) and os.environ["TMPDIR"] == str(tmp)
        assert tempfile.gettempdir() == mine  # this process's own temporary files stay where they were
        thread = threading.Thread(target=other_thread)
        thread.start()
        inner_done.wait(10)
    assert tmp.is_dir() and seen == [tmp]  # the other thread's block still runs
    outer_may_end.set()
    thread.join()
    assert not tmp.exists() and os.environ.get("TMPDIR") == saved


def test_full_disk_leaves_no_partial_sweep_outputs(tmp_path):
    """sweep.csv, sweep.json and report.html appear all or none: the disk full at the first rename (the
    report's atomic write, inside the staging directory) leaves the output directory as it was."""
    from latte_rtl.synth import sweep

    out = tmp_path / "s"
    (out / "cache").mkdir(parents=True)
    rows = [{"point": 0, "status": "failed", "error": "lost", "cached": False, "lanes": 4, "msb_bits": 4, "dim": 64,
             "params": {}}]
    with pytest.MonkeyPatch.context() as mp:
        _disk_full_after(mp, 0)
        with pytest.raises(UserError) as exc:
            sweep.write_outputs(rows, out, 0.1)
    assert ENOSPC in str(exc.value) and "\n" not in str(exc.value)
    assert sorted(p.name for p in out.iterdir()) == ["cache"]
    assert sweep.write_outputs(rows, out, 0.1) == []
    assert sorted(p.name for p in out.iterdir()) == ["cache", "report.html", "sweep.csv", "sweep.json"]
