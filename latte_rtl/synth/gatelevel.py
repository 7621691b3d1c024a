"""Gate-level simulation of the ihp130 netlist: the mapped cells run as they are, with their
functions read from the liberty, on the native engine, checked bit-exact against golden, and every
net's toggles counted by the simulator.

* Cell models: Yosys `read_liberty` (without `-lib`) turns each cell's `function` / `ff` group
  into Verilog; the two clock-gating cells (a `statetable`, which it skips) get the latch they
  describe, written here (`ICG_MODELS`). Flip-flops behind an ICG are simulated as enable
  flip-flops (`gated_flops`).
* SRAM macros: a behavioural model from each macro's liberty pins (`macro_model`): a registered
  read that holds, a bit-masked write, A_MEN selecting the macro.
* The netlist's ports are split into bits (for OpenSTA); a wrapper with the RTL top's name and
  ports puts them back together, so the native harness drives it as it drives the RTL, and exposes
  the counted nets as two more ports (`probes`).
* Counting (sim/native_harness.cpp `NetCounter`): each net's toggles between whole cycles (zero
  delay) and each level probe's high cycles (gated clocks, SRAM enables), with the cycles when a
  K/V beat is pending counted apart; `simulate_gates` reads them into a `GateRun`. No waveform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .clock_tree import ICG_CELLS
from .clock_tree import NETLIST_CELL as _CELL
from .clock_tree import NETLIST_MODULE as _MODULE
from .clock_tree import NETLIST_PIN as _PIN
from .pdk import STDCELL, Macro, stdcell_liberty
from .sram_map import WRITE_PROBE

# Latch-based clock gates (liberty `statetable`: int_GATE follows GATE while CLK is low).
ICG_MODELS = """
module sg13g2_lgcp_1(CLK, GATE, GCLK);
  input CLK, GATE;
  output GCLK;
  reg int_GATE;
  always @(CLK or GATE) if (!CLK) int_GATE = GATE;
  assign GCLK = CLK & int_GATE;
endmodule

module sg13g2_slgcp_1(CLK, GATE, SCE, GCLK);
  input CLK, GATE, SCE;
  output GCLK;
  reg int_GATE;
  always @(CLK or GATE or SCE) if (!CLK) int_GATE = GATE | SCE;
  assign GCLK = CLK & int_GATE;
endmodule
"""
GATED = "latte_gated_"  # prefix of a flip-flop model clocked by CLK with enable EN (gated_flops)


def cell_models(work: Path) -> str:
    """Verilog of every standard cell from its liberty function (Yosys), and the ICG latches."""
    from .flows import _yosys

    if not (work / STDCELL).exists():
        (work / STDCELL).write_text(stdcell_liberty())
    _yosys(work, f"read_liberty -ignore_miss_func {STDCELL}\nwrite_verilog -noattr gl_stdcells.v\n", "gl_cells.ys")
    return (work / "gl_stdcells.v").read_text() + ICG_MODELS


def gated_flop_models(models: str, cells: set[str]) -> str:
    """For each flip-flop cell in `cells`, `latte_gated_<cell>`: the cell clocked by CLK, holding
    its state while EN is low (what an ICG in front of it does; see gated_flops)."""
    out = []
    for cell in sorted(cells):
        header = re.search(rf"^module {cell}\((.*?)\);(.*?)^endmodule", models, re.M | re.S)
        pins = [p.strip() for p in header.group(1).split(",")]
        outputs = set(re.findall(r"^\s*output (\w+);", header.group(2), re.M))
        conns = ", ".join(f".{p}({'EN ? D : Q' if p == 'D' else p})" for p in pins)
        q = "" if "Q" in outputs else "  wire Q;\n"
        out.append(f"module {GATED}{cell}({', '.join(pins)}, EN);\n" +
                   "".join(f"  {'output' if p in outputs else 'input'} {p};\n" for p in pins) +
                   f"  input EN;\n{q}  {cell} flop ({conns});\nendmodule\n")
    return "\n".join(out)


def gated_flops(netlist: str) -> tuple[str, set[str]]:
    """The netlist for simulation: each flip-flop clocked by an ICG's GCLK becomes `latte_gated_<cell>`
    on the ICG's CLK with its GATE as enable. The same function (the latch holds GATE as it was
    before the rising edge), without a derived clock: Verilator orders a flip-flop on a gated
    clock after the flip-flops of the clock it derives from, which would race. Returns the cells
    so replaced."""
    replaced: set[str] = set()

    def module(match: re.Match) -> str:
        text = match.group(0)
        icgs = {}
        for kind, _, conns in _CELL.findall(text):
            if kind in ICG_CELLS:
                pins = dict(_PIN.findall(conns))
                icgs[pins["GCLK"].strip()] = (pins["CLK"], pins["GATE"])

        def cell(m: re.Match) -> str:
            pins = dict(_PIN.findall(m.group(3)))
            gclk = pins.get("CLK", "").strip()
            if m.group(1) in ICG_CELLS or gclk not in icgs:
                return m.group(0)
            replaced.add(m.group(1))
            clk, gate = icgs[gclk]
            body = m.group(3).replace(f".CLK({pins['CLK']})", f".CLK({clk}),\n    .EN({gate})")
            return f"  {GATED}{m.group(1)} {m.group(2)} (\n{body}\n  );\n"

        return _CELL.sub(cell, text) if icgs else text

    return _MODULE.sub(module, netlist), replaced


def macro_model(macro: Macro) -> str:
    """A behavioural model of an SRAM macro on its liberty pins: on A_CLK's rising edge with A_MEN,
    A_WEN writes A_DIN where A_BM is set and A_REN reads A_ADDR into A_DOUT (held otherwise)."""
    abits = macro.words.bit_length() - 1
    ports = [f"  input [{w - 1}:0] {p};" if w > 1 else f"  input {p};" for p, w in macro.inputs]
    mask = "A_BM" if macro.bit_mask else f"{{{macro.bits}{{1'b1}}}}"
    return (f"module {macro.name}(A_CLK, A_DOUT, {', '.join(p for p, _ in macro.inputs)});\n"
            f"  input A_CLK;\n  output reg [{macro.bits - 1}:0] A_DOUT;\n" + "\n".join(ports) + "\n"
            f"  reg [{macro.bits - 1}:0] mem [0:{macro.words - 1}];\n"
            "  always @(posedge A_CLK) if (A_MEN) begin\n"
            f"    if (A_WEN) mem[A_ADDR[{abits - 1}:0]] <= (mem[A_ADDR[{abits - 1}:0]] & ~{mask}) | (A_DIN & {mask});\n"
            f"    if (A_REN) A_DOUT <= mem[A_ADDR[{abits - 1}:0]];\n"
            "  end\nendmodule\n")


def wrapped_netlist(netlist: str, module: str, ports: list[dict], probe: tuple[str, str, str] = ("", "", "")) -> str:
    """The mapped netlist with its top renamed `<module>__gates`, under a wrapper named `module`
    with the RTL top's ports (`ports`: the manifest's), joining the split port bits; `probe`
    (probe_ports) adds the counted nets as output ports."""
    inner = f"{module}__gates"
    renamed, n = re.subn(rf"^module {re.escape(module)}\(", f"module {inner}(", netlist, count=1, flags=re.M)
    if n != 1:
        raise ValueError(f"the netlist has no module {module}")
    decls, conns = [], []
    for p in ports:
        width, name = p["width"], p["name"]
        decls.append(f"  {p['direction']} {f'[{width - 1}:0] ' if width > 1 else ''}{name};")
        conns += ([f"    .{name}({name})"] if width == 1 else
                  [f"    .\\{name}[{i}] ({name}[{i}])" for i in range(width)])
    names = ", ".join(p["name"] for p in ports)
    extra_ports, extra_decls, assigns = probe
    return (renamed + f"\nmodule {module}({names}{extra_ports});\n" + "\n".join(decls)
            + f"\n{extra_decls}  {inner} gates (\n" + ",\n".join(conns) + f"\n  );\n{assigns}endmodule\n")


_NET = re.compile(r"\\\S+ |[A-Za-z_][\w$]*")


@dataclass
class Netlist:
    """A hierarchical mapped netlist: per module its cells' pins [(cell, pin, net)] (library cells and
    macros) and its submodule instances {name: module}; instance paths from the top, dotted."""
    top: str
    pins: dict = field(default_factory=dict)
    children: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, top: str) -> Netlist:
        bodies = {_plain(m.group(1)): m.group(0) for m in _MODULE.finditer(text)}
        netlist = cls(top)
        for name, body in bodies.items():
            pins, children = netlist.pins.setdefault(name, []), netlist.children.setdefault(name, {})
            for kind, cell, conns in _CELL.findall(body):
                if _plain(kind) in bodies:
                    children[_plain(cell)] = _plain(kind)
                    continue
                for pin, net in _PIN.findall(conns):
                    if _NET.fullmatch(net.strip() + (" " if net.startswith("\\") else "")):
                        pins.append((_plain(cell), pin, net.strip()))
        return netlist

    def instances(self) -> list[tuple[str, str]]:
        """(instance path, module) of every module instance, the top ("") first."""
        out = []

        def walk(module: str, path: str):
            out.append((path, module))
            for name, child in self.children[module].items():
                walk(child, f"{path}.{name}" if path else name)

        walk(self.top, "")
        return out


def _plain(name: str) -> str:
    return name.lstrip("\\")


ICG_OUTPUT = "GCLK"
# sram_map's names: reads on the first macro's A_REN, write cycles on the write probe's output, macro writes
# on every first-row macro's A_WEN (a write enables the slices its lanes reach)
FIRST_MACRO, FIRST_ROW = "m_0_0", "m_0_"
MEMORY_PROBES = ("read", "write", "slice_write")


def _memory_probe(cell: str, pin: str) -> str | None:
    """Which SRAM access a memory wrapper's (cell, pin) counts, if any."""
    if cell == FIRST_MACRO and pin == "A_REN":
        return "read"
    if cell == WRITE_PROBE and pin == "X":
        return "write"
    return "slice_write" if cell.startswith(FIRST_ROW) and pin == "A_WEN" else None


def _ref(path: str, net: str) -> str:
    """A hierarchical reference to `net` of the instance at `path` below the wrapper's `gates`."""
    parts = ["gates", *(p for p in path.split(".") if p)]
    return ".".join(p if re.fullmatch(r"[A-Za-z_]\w*", p) else f"\\{p} " for p in parts) + "." + \
        (f"{net} " if net.startswith("\\") else net)


def probes(netlist: Netlist) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """What the harness counts: (instance path, net) of every net on a cell pin, once, for its toggles;
    and (instance path, name, net) of the nets whose high cycles are counted: each ICG's GCLK (name:
    the ICG) and the accesses of each SRAM macro arrangement (name: _memory_probe's "read", "write",
    "slice_write")."""
    nets, levels, seen = [], [], set()
    for path, module in netlist.instances():
        for cell, pin, net in netlist.pins[module]:
            if (path, net) not in seen:
                seen.add((path, net))
                nets.append((path, net))
            if pin == ICG_OUTPUT:
                levels.append((path, cell, net))
            elif kind := _memory_probe(cell, pin):
                levels.append((path, kind, net))
    return nets, levels


def probe_ports(nets: list, levels: list) -> tuple[str, str, str]:
    """(port list, declarations, assignments) the wrapper adds: `latte_nets` and `latte_levels`."""
    ports, decls, assigns = "", "", ""
    for name, group in (("latte_nets", nets), ("latte_levels", [(p, n) for p, _, n in levels])):
        if group:
            ports += f", {name}"
            decls += f"  output [{len(group) - 1}:0] {name};\n"
            refs = ",\n    ".join(_ref(p, n) for p, n in reversed(group))
            assigns += f"  assign {name} = {{\n    {refs}\n  }};\n"
    return ports, decls, assigns


def probe_header(bits: int, levels: int) -> tuple[str, ...]:
    """latte_ports.h lines for the harness's NetCounter: the probe widths and their 32-bit words."""
    def word(port: str, width: int) -> str:
        if not width:
            return "(void)m, (void)i; return 0;"
        return f"return m->{port}[i];" if width > 64 else f"return uint32_t(uint64_t(m->{port}) >> (32 * i));"

    return (f"#define LATTE_NET_BITS {bits}", f"#define LATTE_LEVEL_BITS {levels}",
            f"constexpr size_t NET_WORDS = {(bits + 31) // 32};",
            f"inline uint32_t net_word(Model* m, size_t i) {{ {word('latte_nets', bits)} }}",
            f"inline uint32_t level_word(Model* m, size_t i) {{ {word('latte_levels', levels)} }}")


@dataclass
class GateRun:
    """Counts of a gate-level run in two phases, "load" (K/V streams delivering) and "rows": per phase its
    cycles, each net's toggles per cycle {(instance path, net)} and each ICG's clocked fraction
    {"path/icg"} (path dotted, as synth/gating.py names them); SRAM accesses over the whole run
    {memory path: {"read": cycles, "write": cycles, "slice_write": macro writes of one bank row}}; the parsed
    `netlist` it ran."""
    cycles: dict
    rates: dict
    duties: dict
    accesses: dict
    netlist: Netlist
    seconds: float = 0.0

    def pin_rates(self, phase: str) -> dict[str, float]:
        """{OpenSTA pin path ("a/b/cell/PIN"): toggles per cycle} of every cell pin in `phase`."""
        rates = self.rates[phase]
        out = {}
        for path, module in self.netlist.instances():
            prefix = path.replace(".", "/") + "/" if path else ""
            for cell, pin, net in self.netlist.pins[module]:
                out[f"{prefix}{cell}/{pin}"] = rates[(path, net)]
        return out


# A netlist is tens of thousands of cells: no DFG pass (15 % of the Verilation), no C++ optimization.
MODEL_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-fno-dfg", "-CFLAGS", "-O0")
LOAD_STREAMS = "keys,values"  # their cycles are the K/V load, counted apart


def simulate_gates(design_dir: Path, top: str, work: Path, netlist_file: Path, mapped: list, source: Path) -> GateRun:
    """Run the netlist of `top` (mapped in `work`) on the native engine on input `source`, bit-exact
    with golden (an AssertionError says where not), counting every net."""
    import numpy as np

    from latte_rtl.design import load_design
    from latte_rtl.sim.native import simulate_native
    from latte_rtl.sim.native_build import build_harness

    manifest = load_design(design_dir)[1]
    entry = manifest["tops"][top]
    text = netlist_file.read_text()
    netlist = Netlist.parse(text, entry["module"])
    nets, levels = probes(netlist)
    sim_text, flops = gated_flops(text)
    models = cell_models(work)
    macros_used = {m.macro.name: m.macro for m in mapped if m.kind == "macro"}
    (work / "gates_models.v").write_text(models + gated_flop_models(models, flops) +
                                         "".join(macro_model(m) for m in macros_used.values()))
    (work / "gates_top.v").write_text(wrapped_netlist(sim_text, entry["module"], entry["ports"],
                                                      probe_ports(nets, levels)))
    harness = build_harness(design_dir, top, manifest, sources=[work / "gates_top.v", work / "gates_models.v"],
                            args=MODEL_ARGS, header=probe_header(len(nets), len(levels)), variant="gates")
    counts = work / "toggles.bin"
    stats = simulate_native(design_dir, [source], [work / "gates_result.npz"], top=top, harness=harness,
                            env={"LATTE_TOGGLES": str(counts), "LATTE_TOGGLES_LOAD": LOAD_STREAMS})
    raw = np.fromfile(counts, "<u8")
    n, g = len(nets), len(levels)
    toggles, highs = raw[2:2 + 2 * n].reshape(2, n), raw[2 + 2 * n:].reshape(2, g)
    phases = {name: (int(raw[k]), toggles[k], highs[k]) for k, name in enumerate(("load", "rows"))}
    icgs = [(k, f"{p}/{c}" if p else c) for k, (p, c, _) in enumerate(levels) if c not in MEMORY_PROBES]
    accesses: dict = {}
    for k, (path, kind, _) in enumerate(levels):
        if kind in MEMORY_PROBES:  # slice writes: summed over the columns
            count = accesses.setdefault(path, {})
            count[kind] = count.get(kind, 0) + int(highs[0][k] + highs[1][k])
    return GateRun(
        cycles={k: c for k, (c, _, _) in phases.items()},
        rates={k: dict(zip(nets, (t / max(1, c)).tolist())) for k, (c, t, _) in phases.items()},
        duties={k: {icg: h[i] / max(1, c) for i, icg in icgs} for k, (c, _, h) in phases.items()},
        accesses=accesses, netlist=netlist, seconds=stats["seconds"])
