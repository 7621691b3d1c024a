"""Clock gating in the ihp130 flow: which flip-flops each ICG gates, and how often its clock runs.

Yosys's `clockgate` (synth/ihp130.ys) gives each group of flip-flops sharing an enable one ICG
`icg_N`. OpenSTA 2.0.17 gives every clock pin full activity, gated or not, so the energy report
corrects its figure itself: a flip-flop behind an ICG whose enable is high in a fraction `duty` of
the cycles is clocked only in those cycles, and saves (1 − duty) of its clock energy (its
clock-pin internal energy with no data change, `clock_energy_pj`, measured by OpenSTA on the same
liberty). The duty is measured, not assumed: each ICG's enable is a small cone of gates in the
generic gated netlist (`gated.json`, written right after `clockgate`); its leaves are named
signals of the RTL (registers, ports, named wires), which the activity simulation samples at every
rising clock edge (synth/activity.py), and the cone is evaluated on those samples.
The ICG cells themselves are left at OpenSTA's full-activity figure (an upper bound).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ICG_CELL = "sg13g2_lgcp_1"
ICG_MIN_FLOPS = 4  # smallest group of flip-flops worth an ICG (27.2 µm², about half a flip-flop)
FLOP_PREFIXES = ("sg13g2_dfrbp", "sg13g2_sdf")

# Yosys's generic gates: output = f(inputs) on boolean arrays.
_GATES = {
    "$_BUF_": lambda p: p["A"], "$_NOT_": lambda p: ~p["A"],
    "$_AND_": lambda p: p["A"] & p["B"], "$_NAND_": lambda p: ~(p["A"] & p["B"]),
    "$_OR_": lambda p: p["A"] | p["B"], "$_NOR_": lambda p: ~(p["A"] | p["B"]),
    "$_XOR_": lambda p: p["A"] ^ p["B"], "$_XNOR_": lambda p: ~(p["A"] ^ p["B"]),
    "$_ANDNOT_": lambda p: p["A"] & ~p["B"], "$_ORNOT_": lambda p: p["A"] | ~p["B"],
    "$_MUX_": lambda p: np.where(p["S"], p["B"], p["A"]), "$_NMUX_": lambda p: ~np.where(p["S"], p["B"], p["A"]),
    "$_AOI3_": lambda p: ~((p["A"] & p["B"]) | p["C"]), "$_OAI3_": lambda p: ~((p["A"] | p["B"]) & p["C"]),
    "$_AOI4_": lambda p: ~((p["A"] & p["B"]) | (p["C"] & p["D"])),
    "$_OAI4_": lambda p: ~((p["A"] | p["B"]) & (p["C"] | p["D"])),
}


@dataclass
class Cone:
    """The logic of one ICG's enable: `steps` (gate type, {pin: bit}, output bit) in evaluation
    order over `leaves` {bit: (signal name, bit index)}; `gate` is the enable's bit (or "0"/"1")."""
    gate: object
    leaves: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)


class _Module:
    """One module of the gated netlist: its drivers and the named signals it can see."""

    def __init__(self, body: dict, visible: set[str]):
        self.drivers = {}
        for cell in body["cells"].values():
            if cell["type"] in _GATES:
                self.drivers[cell["connections"]["Y"][0]] = cell
        self.names = {}
        for name, net in sorted(body["netnames"].items(), key=lambda item: item[1].get("hide_name", 0)):
            if net.get("hide_name") or name not in visible:
                continue
            for k, b in enumerate(net["bits"]):
                self.names.setdefault(b, (name, k))

    def cone(self, gate_bit) -> Cone | None:
        """The enable's cone down to named signals, or None where it reaches an unnamed net that no
        gate drives (a submodule's or a memory's output)."""
        cone = Cone(gate_bit)
        done: set = set()

        def visit(bit) -> bool:
            if bit in ("0", "1") or bit in done:
                return True
            done.add(bit)
            if bit in self.names:
                cone.leaves[bit] = self.names[bit]
                return True
            cell = self.drivers.get(bit)
            if cell is None:
                return False
            pins = {p: c[0] for p, c in cell["connections"].items() if p != "Y"}
            if not all(visit(b) for b in pins.values()):
                return False
            cone.steps.append((cell["type"], pins, bit))
            return True

        return cone if visit(gate_bit) else None


def load_gated(gated_json: Path) -> dict:
    """The modules of the generic gated netlist (Yosys `write_json`)."""
    return json.loads(gated_json.read_text())["modules"]


def enable_cones(modules: dict, visible: dict[str, set[str]], paths: dict[str, list[str]]) -> dict[str, Cone | None]:
    """{"<instance path>/icg_N": its enable's cone (None: not measurable)} for every ICG of the
    gated netlist `modules` (load_gated). `visible`: the signal names the simulation shows per
    instance path; `paths`: the instance paths of each module."""
    cones = {}
    for name, body in modules.items():
        icgs = {c: cell for c, cell in body.get("cells", {}).items() if cell["type"] == ICG_CELL}
        for path in paths.get(name, []) if icgs else []:
            module = _Module(body, visible.get(path, set()))
            for icg, cell in icgs.items():
                cones[f"{path}/{icg}" if path else icg] = module.cone(cell["connections"]["GATE"][0])
    return cones


def instance_paths(modules: dict, top: str) -> dict[str, list[str]]:
    """{module: [its instance paths below `top`, dotted; "" = the top]} of the gated netlist."""
    paths: dict[str, list[str]] = {}

    def walk(module: str, path: str):
        paths.setdefault(module, []).append(path)
        for cell_name, cell in modules[module].get("cells", {}).items():
            if cell["type"] in modules:
                walk(cell["type"], f"{path}.{_plain(cell_name)}" if path else _plain(cell_name))

    walk(top, "")
    return paths


def _plain(name: str) -> str:
    return name.lstrip("\\")


def evaluate(cone: Cone, samples: dict[tuple[str, int], np.ndarray], cycles: int) -> np.ndarray:
    """The enable at every sampled cycle: `samples` {(signal, bit): bool array} of the cone's leaves."""
    values = {"0": np.zeros(cycles, bool), "1": np.ones(cycles, bool)}
    values.update({b: samples[leaf] for b, leaf in cone.leaves.items()})
    for kind, pins, out in cone.steps:
        values[out] = _GATES[kind]({p: values[b] for p, b in pins.items()})
    return values[cone.gate]


@dataclass
class Gating:
    """What `clockgate` did to a mapped hierarchical netlist, per instance path: flip-flops, ICGs
    and the flip-flops behind each ICG (by cell type)."""
    flops: dict = field(default_factory=dict)        # path -> {cell type: count}
    icgs: dict = field(default_factory=dict)         # "path/icg_N" -> {flop cell type: count}
    registers: dict = field(default_factory=dict)    # path -> [(flip-flop instance, RTL signal on its Q)]


_MODULE = re.compile(r"^module (\S+)\(.*?^endmodule", re.M | re.S)
_CELL = re.compile(r"^  (\S+) (\S+) \((.*?)\);", re.M | re.S)


def netlist_gating(netlist: str, top: str) -> Gating:
    """Flip-flops and ICGs of every instance of the mapped netlist (Yosys `write_verilog -noexpr`)."""
    modules = {_plain(m.group(1)): m.group(0) for m in _MODULE.finditer(netlist)}
    gating = Gating()

    def walk(module: str, path: str):
        cells = [(_plain(t), _plain(n), body) for t, n, body in _CELL.findall(modules[module])]
        gclk = {}
        for kind, name, body in cells:
            if kind == ICG_CELL:
                gclk[_pin(body, "GCLK")] = f"{path}/{name}" if path else name
                gating.icgs.setdefault(gclk[_pin(body, "GCLK")], {})
        flops = gating.flops.setdefault(path, {})
        registers = gating.registers.setdefault(path, [])
        for kind, name, body in cells:
            if kind.startswith(FLOP_PREFIXES):
                flops[kind] = flops.get(kind, 0) + 1
                signal = _signal(_pin(body, "Q"))
                if signal:
                    registers.append((name, signal))
                icg = gclk.get(_pin(body, "CLK"))
                if icg:
                    gating.icgs[icg][kind] = gating.icgs[icg].get(kind, 0) + 1
            elif kind in modules:
                walk(kind, f"{path}.{name}" if path else name)

    walk(_plain(top), "")
    return gating


def _signal(net: str | None) -> str | None:
    """The RTL signal of a named net (`\\acc_0_3 [5]`, `beat[1]` -> its name); None if unnamed."""
    if not net or net.startswith("_") and net.endswith("_"):
        return None
    return re.sub(r"\s*\[\d+\]$", "", net.lstrip("\\")).strip()


def _pin(body: str, pin: str) -> str | None:
    match = re.search(r"\." + pin + r"\(([^()]*)\)", body)
    return match.group(1).strip() if match else None


def clock_energy_pj(work: Path, cells: set[str], period_ns: float, run_sta) -> dict[str, float]:
    """Energy (pJ) a flip-flop of each cell type takes per clock edge with no data change: OpenSTA's
    power of 16 of them, clocked at `period_ns`, all data activity 0. `run_sta(commands, name,
    netlist)` runs OpenSTA in `work`."""
    energies = {}
    for cell in sorted(cells):
        flops = "".join(f"  {cell} f{i} (.CLK(clk), .D(d), .Q(q[{i}]), .RESET_B(1'b1));\n" for i in range(16))
        netlist = f"clock_energy_{cell}.v"
        (work / netlist).write_text(f"module clock_energy(clk, d, q);\n  input clk;\n  input d;\n  output [15:0] q;\n"
                                    f"{flops}endmodule\n")
        text = run_sta(f"create_clock -name clk -period {period_ns} [get_ports clk]\n"
                       "set_power_activity -global -activity 0 -duty 0.5\n"
                       "set_power_activity -input_ports d -activity 0 -duty 0\nreport_power -digits 9",
                       f"clock_energy_{cell}.tcl", netlist, "clock_energy")
        watts = float(re.search(r"^Sequential\s+\S+\s+\S+\s+\S+\s+(\S+)", text, re.M).group(1))
        energies[cell] = watts * period_ns * 1e3 / 16
    return energies
