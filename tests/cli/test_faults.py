"""Faults and hostile paths (issue 19): bounded -j, signals, a killed worker, corrupt caches, a
malformed --scheduler, names too long, unwritable designs, outputs that are not regular files or
equal an input, another design's files, outputs checked first; and the CLI's consistency
(issue 18): every option has help, the design directory positional everywhere, one --sim syntax."""

import argparse
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from latte_rtl.config import LatteConfig
from latte_rtl.design import generate, load_design
from latte_rtl.design.files import file_lock
from tests.cli_helpers import assert_user_error, run_cli
from tests.conftest import require_simulator

SEED = 19
TOP = "latte_score_engine"


def _write_qk(path: Path, rows: int, keys: int, seed: int = SEED) -> Path:
    rng = np.random.default_rng(seed)
    print(f"seed={seed}")
    np.savez(path, q=rng.integers(-128, 128, (rows, 8), dtype=np.int8),
             k=rng.integers(-128, 128, (keys, 8), dtype=np.int8), thresholds=np.array([40, 80]),
             heads=rng.integers(0, 2, rows))
    return path


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    """A small design (d = 8, 4 lanes, 16 keys) with its native harness built: one per test session,
    shared by the pytest-xdist workers (so the harness is compiled once)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path = root / "faults-design"
    with file_lock(root / "faults-design.lock"):
        if not (path / "manifest.json").is_file():
            generate(LatteConfig.from_params(dim=8, lanes=4, heads=2, max_keys=16), path)
        require_simulator("verilator")
        from latte_rtl.sim.native_build import build_harness

        build_harness(path, TOP, load_design(path)[1])
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """small.npz: 3 rows x 10 keys; long.npz: 4000 rows x 16 keys (with --valid-prob 0.02 the
    harness runs for seconds: time to send a signal)."""
    path = tmp_path_factory.mktemp("inputs")
    return {"small": _write_qk(path / "small.npz", 3, 10), "long": _write_qk(path / "long.npz", 4000, 16)}


def _harnesses(design: Path) -> list[int]:
    """Pids of the running native harnesses of `design`."""
    exe = str(design / "sim_build" / f"{TOP}_native" / "harness").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().split(b"\0")[0] == exe:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _own_copy(design: Path, tmp_path: Path) -> Path:
    """The design with its built harness, copied: its harness processes are this test's alone
    (pytest-xdist runs other tests of this module beside it)."""
    copy = tmp_path / "design"
    shutil.copytree(design, copy, ignore=shutil.ignore_patterns("*.lock"))
    return copy


def _start_run(design, qk, out, tmp, *extra):
    """`latte-rtl run` in a subprocess with its own TMPDIR; returns it once a harness runs."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "latte_rtl.cli", "run", str(design), "--qk", str(qk), "-o",
                             str(out), "--valid-prob", "0.02", *map(str, extra)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _harnesses(design):
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before its harness started"
        time.sleep(0.02)
    return proc


def _assert_clean(design, tmp, out):
    """No harness left running, no temporary file left, the -o file untouched."""
    deadline = time.monotonic() + 10
    while _harnesses(design) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _harnesses(design) == []
    assert list(tmp.iterdir()) == []
    assert out.read_bytes() == b"precious"


@pytest.mark.parametrize("sig, jobs", [(signal.SIGTERM, 1), (signal.SIGHUP, 2), (signal.SIGINT, 2)],
                         ids=["TERM-j1", "HUP-j2", "INT-j2"])
def test_signal_ends_run_cleanly(sig, jobs, design, inputs, tmp_path):
    """A signal to the CLI process: one line, exit 128 + n, harnesses and temporary dirs gone, -o untouched."""
    tmp, out, design = tmp_path / "tmp", tmp_path / "out.npz", _own_copy(design, tmp_path)
    tmp.mkdir()
    out.write_bytes(b"precious")
    proc = _start_run(design, inputs["long"], out, tmp, "-j", jobs)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert err.strip() == f"latte-rtl: interrupted by {sig.name} (temporary files and child processes removed)"
    _assert_clean(design, tmp, out)


def test_killed_worker_is_one_line_naming_the_rows(design, inputs, tmp_path):
    tmp, out, design = tmp_path / "tmp", tmp_path / "out.npz", _own_copy(design, tmp_path)
    tmp.mkdir()
    out.write_bytes(b"precious")
    proc = _start_run(design, inputs["long"], out, tmp, "-j", 2)
    harness = _harnesses(design)[0]
    worker = int(Path(f"/proc/{harness}/stat").read_text().rsplit(")", 1)[1].split()[1])  # the harness's parent
    assert worker != proc.pid
    os.kill(worker, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("latte-rtl: FAIL: a worker process died") and "rows 0..1999" in lines[0], lines[0]
    _assert_clean(design, tmp, out)


def test_jobs_are_bounded_by_rows_and_cores(design, inputs, tmp_path):
    from latte_rtl.executor import PER_CORE, bounded_jobs

    proc = run_cli("run", design, "--qk", inputs["small"], "-o", tmp_path / "r.npz", "-j", 100000)
    assert proc.returncode == 0, proc.stderr
    assert "latte-rtl: note: -j 100000 clamped to" in proc.stderr and "3 rows" in proc.stderr, proc.stderr
    assert " 3 shard(s)" in proc.stdout or " 2 shard(s)" in proc.stdout, proc.stdout  # ≤ one per row
    cores = len(os.sched_getaffinity(0))
    assert bounded_jobs(100000, 3, "rows") == min(3, PER_CORE * cores)
    assert bounded_jobs(100000, 10**6, "points", "--jobs") == PER_CORE * cores
    assert bounded_jobs(1, 10**6, "points") == 1


def test_truncated_harness_is_rebuilt(design, inputs, tmp_path):
    """The cache checks the binary it runs: truncated, it is rebuilt (with a note), the run passes."""
    copy = _own_copy(design, tmp_path)
    os.truncate(copy / "sim_build" / f"{TOP}_native" / "harness", 1000)
    proc = run_cli("run", copy, "--qk", inputs["small"], "-o", tmp_path / "r.npz")
    assert proc.returncode == 0, proc.stderr
    assert "differs from the file that was built" in proc.stderr and "rebuilding" in proc.stderr, proc.stderr
    assert "(cached model)" not in proc.stdout


def test_cached_model_is_verified(tmp_path, capsys):
    """cocotb models: a build for another key is rebuilt silently, a changed artifact with a note."""
    from latte_rtl.sim.runner import cached_build, write_stamp

    exe = tmp_path / "sim.vvp"
    exe.write_bytes(b"compiled model")
    write_stamp(tmp_path, "key-a", [exe])
    assert cached_build(tmp_path, "key-a", [exe], "icarus model")
    assert not cached_build(tmp_path, "key-b", [exe], "icarus model")
    assert capsys.readouterr().err == ""
    exe.write_bytes(b"compiled mode")
    assert not cached_build(tmp_path, "key-a", [exe], "icarus model")
    assert "differs from the file that was built" in capsys.readouterr().err
    exe.unlink()
    assert not cached_build(tmp_path, "key-a", [exe], "icarus model")
    (tmp_path / "latte-build.sha256").write_text("not json")
    assert not cached_build(tmp_path, "key-a", [exe], "icarus model")


@pytest.mark.parametrize("address", ["tcp://nohost:xx", "foo://bar", "tcp://[::1", "tcp://host", "tcp://:8786"])
def test_malformed_scheduler_is_refused_at_once(address, tmp_path):
    start = time.perf_counter()
    proc = run_cli("sweep", "--scheduler", address, "-o", tmp_path / "s")
    assert_user_error(proc, "--scheduler", "tcp://HOST:PORT")
    assert time.perf_counter() - start < 10
    assert not (tmp_path / "s").exists()


def test_prefix_too_long_writes_nothing(tmp_path):
    out = tmp_path / "d"
    assert_user_error(run_cli("generate", "--dim", 8, "--lanes", 4, "--prefix", "p" * 300, "-o", out),
                      "--prefix", "bytes", "at most")
    assert not out.exists()
    assert_user_error(run_cli("golden", "--dim", 8, "--lanes", 4, "--qk", "x.npz", "-o", tmp_path / ("r" * 300)),
                      "-o", "bytes")


def _as_other_user():
    """Command prefix that drops root (root writes anywhere), or [] when not root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot test an unwritable directory")
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    # A checkout below a private directory (mktemp -d is 0700) cannot be imported by that user.
    probe = subprocess.run([*prefix, sys.executable, "-c", "import latte_rtl.cli"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("uid 65534 cannot read this checkout or its virtualenv (a private parent directory): "
                    "cannot test an unwritable directory as another user here")
    return prefix


@pytest.mark.parametrize("command", ["run", "sim", "synth"])
def test_unwritable_design_directory(command, design, inputs):
    base = Path(tempfile.mkdtemp(prefix="latte-ro-"))
    try:
        os.chmod(base, 0o755)
        copy = base / "d"
        shutil.copytree(design, copy, ignore=shutil.ignore_patterns("sim_build", "*.lock"))
        qk = shutil.copy(inputs["small"], base / "in.npz")
        os.chmod(qk, 0o644)
        for p in copy.iterdir():
            os.chmod(p, 0o444)
        os.chmod(copy, 0o555)
        args = {"run": ["--qk", qk, "-o", base / "r.npz"], "sim": [], "synth": ["--json", base / "x.json"]}
        os.chmod(base, 0o777)  # the outputs beside the design can be written
        cmd = [*_as_other_user(), sys.executable, "-m", "latte_rtl.cli", command, str(copy), *map(str, args[command])]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HOME": str(base)})
        assert_user_error(proc, "cannot write", str(copy))
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory", "device", "input"])
def test_output_must_be_a_regular_file_and_not_an_input(kind, design, inputs, tmp_path):
    qk = shutil.copy(inputs["small"], tmp_path / "in.npz")
    before = Path(qk).read_bytes()
    out = {"fifo": tmp_path / "fifo", "symlink": tmp_path / "link.npz", "directory": tmp_path,
           "device": Path("/dev/null"), "input": Path(qk)}[kind]
    if kind == "fifo":
        os.mkfifo(out)
    if kind == "symlink":
        (tmp_path / "target.npz").write_bytes(b"precious")
        out.symlink_to(tmp_path / "target.npz")
    words = {"fifo": "not a regular file", "symlink": "symbolic link", "directory": "is a directory",
             "device": "not a regular file", "input": "also the input --qk"}[kind]
    for command in (["run", design], ["golden", design]):
        assert_user_error(run_cli(*command, "--qk", qk, "-o", out), "-o", str(out), words)
    assert_user_error(run_cli("calibrate", design, "--qk", qk, "--keep-ratio", 0.5, "-o", out), "-o", words)
    if kind == "fifo":
        assert stat.S_ISFIFO(os.lstat(out).st_mode)
    if kind == "symlink":
        assert out.is_symlink() and (tmp_path / "target.npz").read_bytes() == b"precious"
    if kind == "device":
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert Path(qk).read_bytes() == before


def test_generate_refuses_another_designs_files(tmp_path):
    common = ["--dim", 8, "--lanes", 4, "--heads", 2, "--max-keys", 16]
    out = tmp_path / "d"
    assert run_cli("generate", *common, "--interface", "axis", "-o", out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert_user_error(run_cli("generate", *common, "-o", out), "holds another design", "dense_score_engine_axis.v",
                      "6 files", "--force")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    proc = run_cli("generate", *common, "-o", out, "--force")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {"manifest.json", "latte_design.core", manifest["memory_module"]["file"]}
    for top in manifest["tops"].values():
        listed |= {top["file"], top["include"], top["package"]}
    assert {p.name for p in out.iterdir()} == listed and len(listed) == 9
    assert run_cli("generate", *common, "-o", out).returncode == 0  # the same design again: no --force needed


@pytest.mark.parametrize("args, words", [
    (["--plot", "c.txt"], ["--plot", ".png"]),
    (["--plot", "missing/c.png"], ["--plot", "missing", "does not exist"]),
    (["--json", "/nonexistent/x.json"], ["--json", "does not exist"]),
    (["--plot", "c.png", "--no-curve"], ["--plot", "--no-curve"]),
    (["--samples", "0"], ["--samples"]),
    (["--jobs", "0"], ["--jobs"]),
])
def test_evaluate_checks_its_outputs_before_any_work(args, words, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "latte_rtl.cli", "evaluate", "--workload", "lm", *args],
                          capture_output=True, text=True, cwd=tmp_path)
    assert_user_error(proc, *words)
    assert proc.stdout == ""  # nothing was evaluated (no table printed)


def test_sweep_announces_only_the_plots_it_wrote(tmp_path, monkeypatch, capsys):
    from latte_rtl.commands import main
    from latte_rtl.synth import sweep as sweep_module

    failed = {"point": 0, "status": "failed", "error": "lost", "cached": False, "lanes": 4, "msb_bits": 4, "dim": 64}
    assert sweep_module.write_outputs([{**failed, "params": {}}], tmp_path, 0.1) == []
    assert not list(tmp_path.glob("*.png"))
    monkeypatch.setattr(sweep_module, "sweep", lambda *a, **k: ([failed], []))
    assert main(["sweep", "-o", str(tmp_path / "s")]) == 1
    out = " ".join(capsys.readouterr().out.split())  # long paths wrap the 100-column line anywhere
    assert "PNG" not in out and "no plots" in out, out


def _subparsers(parser):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_every_option_of_every_command_has_help():
    from latte_rtl.commands import build_parser

    commands = _subparsers(build_parser())
    assert {"generate", "golden", "sim", "run", "synth", "sweep", "flow", "evaluate", "calibrate",
            "dump"} <= set(commands)
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}" for name, p in commands.items() for a in p._actions
               if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert missing == []


@pytest.mark.parametrize("command", ["golden", "calibrate", "dump", "run", "sim", "synth"])
def test_design_is_positional_everywhere_with_design_alias(command):
    from latte_rtl.commands import build_parser

    parser = _subparsers(build_parser())[command]
    positional = [a for a in parser._actions if not a.option_strings and a.dest == "design"]
    alias = [a for a in parser._actions if "--design" in a.option_strings]
    assert len(positional) == 1 and len(alias) == 1


def test_design_positional_and_alias_give_the_same_result(design, inputs, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run_cli("golden", design, "--qk", inputs["small"], "-o", a).returncode == 0
    assert run_cli("golden", "--design", design, "--qk", inputs["small"], "-o", b).returncode == 0
    assert np.array_equal(np.load(a)["kept"], np.load(b)["kept"])
    assert_user_error(run_cli("golden", design, "--design", tmp_path, "--qk", inputs["small"], "-o", a),
                      "two design directories")
    assert_user_error(run_cli("run", "--qk", inputs["small"], "-o", a), "run needs a design directory")


def test_sim_option_is_one_syntax(design, inputs, tmp_path):
    """A comma list everywhere; where one simulator runs, a list is refused in one line."""
    out = tmp_path / "r.npz"
    assert_user_error(run_cli("run", design, "--qk", inputs["small"], "-o", out, "--sim", "icarus,verilator"),
                      "--sim", "one simulator")
    assert_user_error(run_cli("flow", "--sim", "icarus,verilator", "-o", tmp_path / "f"), "--sim", "one simulator")
    assert_user_error(run_cli("sim", design, "--sim", "icarus,xsim"), "--sim", "'xsim'")
    assert_user_error(run_cli("sim", tmp_path / "nothing"), "manifest")
