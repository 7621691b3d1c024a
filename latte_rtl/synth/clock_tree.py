"""Gated clocks inside the library's range: ICG cloning on a mapped netlist.

Yosys's `clockgate` gives every group of flip-flops sharing an enable one `sg13g2_lgcp_1`, however
large the group: 256 accumulator flip-flops on one GCLK load it with 0.71 pF (the cell's
max_capacitance is 0.3 pF) for a transition near 3 ns (max_transition 2.5 ns). A clock-tree
tool clones such a gate; so does this pass: an ICG with more than `MAX_GCLK_LOADS` loads gets
clones on the same CLK and GATE (`icg_N__1`, `icg_N__2`, …), each driving at most that many.
At 32 loads (≈ 0.09 pF of flip-flop clock pins) the GCLK transition is ≈ 0.4 ns.
"""

from __future__ import annotations

import re

ICG_CELLS = ("sg13g2_lgcp_1", "sg13g2_slgcp_1")
MAX_GCLK_LOADS = 32
# A mapped netlist as Yosys writes it (`write_verilog -noattr -noexpr`): a module, a cell instance
# (type, name, pin lines), a pin line (pin, connection). Shared by gatelevel.py and electrical.py.
NETLIST_MODULE = re.compile(r"^module (\S+)\(.*?^endmodule", re.M | re.S)
NETLIST_CELL = re.compile(r"^  (\S+) (\S+) +\(\n(.*?)\n  \);\n", re.M | re.S)
NETLIST_PIN = re.compile(r"^    \.(\w+)\((.*)\),?$", re.M)


ICG_NAME = re.compile(r"icg_\d+(?:__\d+)?")  # an ICG instance: synth/ihp130.ys's `icg_N`, a clone's `icg_N__K`


def clone_base(name: str) -> str:
    """The ICG a clone was made from (`a.b/icg_3__1` -> `a.b/icg_3`); an ICG's own name otherwise."""
    return re.sub(r"__\d+$", "", name)


def _clone_name(name: str, k: int) -> str:
    """`icg_3` -> `icg_3__1`; an escaped name keeps its form (`\\a.icg_3 ` -> `\\a.icg_3__1 `)."""
    return f"{name.rstrip()}__{k}" + (" " if name.startswith("\\") else "")


def _split_module(text: str) -> tuple[str, int]:
    cells = list(NETLIST_CELL.finditer(text))
    gclk = {dict(NETLIST_PIN.findall(c.group(3)))["GCLK"].strip(): c for c in cells if c.group(1) in ICG_CELLS}
    loads: dict[str, list] = {g: [] for g in gclk}
    for c in cells:
        for pin, net in NETLIST_PIN.findall(c.group(3)):
            if pin != "GCLK" and net.strip() in loads:
                loads[net.strip()].append((c, pin))
    edits: dict[int, str] = {}  # cell start -> its new text
    wires, added = [], 0
    for net, cell_pins in loads.items():
        if len(cell_pins) <= MAX_GCLK_LOADS:
            continue
        icg = gclk[net]
        clones = []
        for k in range(1, -(-len(cell_pins) // MAX_GCLK_LOADS)):
            new_net = f"_gclk_{icg.group(2).strip().lstrip(chr(92)).replace('.', '_')}__{k}_"
            wires.append(f"  wire {new_net};\n")
            clones.append(icg.group(0).replace(f" {icg.group(2)} ", f" {_clone_name(icg.group(2), k)} ", 1)
                          .replace(f".GCLK({net}", f".GCLK({new_net}", 1))
            for c, pin in cell_pins[k * MAX_GCLK_LOADS:(k + 1) * MAX_GCLK_LOADS]:
                body = edits.get(c.start(), c.group(0))
                edits[c.start()] = re.sub(rf"(\.{pin}\(){re.escape(net)}( ?\))", rf"\g<1>{new_net}\g<2>", body)
        edits[icg.start()] = edits.get(icg.start(), icg.group(0)) + "".join(clones)
        added += len(clones)
    if not added:
        return text, 0
    out, last = [], 0
    for c in cells:
        if c.start() in edits:
            out += [text[last:c.start()], edits[c.start()]]
            last = c.end()
    out.append(text[last:])
    body = "".join(out)
    first = cells[0].start()
    return body[:first] + "".join(wires) + body[first:], added


def split_icgs(netlist: str) -> tuple[str, int]:
    """The netlist with every ICG driving more than MAX_GCLK_LOADS pins cloned, and the clones added."""
    total = 0

    def module(match: re.Match) -> str:
        nonlocal total
        text, added = _split_module(match.group(0))
        total += added
        return text

    return NETLIST_MODULE.sub(module, netlist), total
