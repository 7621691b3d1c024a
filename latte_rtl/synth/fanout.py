"""Fanout repair of a flat mapped netlist before static timing.

ABC buffers the nets inside the logic it maps, but not nets driven by flip-flops, SRAM macros or
inputs (they are boundaries of its netlist): a beat counter's flip-flop driving 260 mux inputs
shows a 9.7 ns clock-to-output. A layout flow repairs such nets (OpenROAD's `repair_design`);
this pass does the same much more simply: every net with more than `max_fanout` loads gets a
tree of buffers, `max_fanout` loads per buffer. The clock and the gated clocks (ideal in timing)
and tie-cell nets are left alone.
"""

from __future__ import annotations

import re
from collections import defaultdict

from .pdk import TIE_HI, TIE_LO

BUFFER = ("sg13g2_buf_8", "A", "X")
MAX_FANOUT = 16
OUTPUT_PINS = {"Y", "X", "Q", "Q_N", "L_HI", "L_LO", "A_DOUT", "GCLK", "Z"}
# An escaped instance name (`\pv.v_store.m_0_0`) ends at a space: Yosys writes two before the `(`.
_INSTANCE = re.compile(r"^  (\w+) (\S+) +\(\n(.*?)\n  \);\n", re.M | re.S)
_PIN = re.compile(r"^    \.(\w+)\((.*)\),?$", re.M)
_TOKEN = re.compile(r"\\\S+ |\d+'[bhd][0-9a-fA-FxzXZ_]+|[A-Za-z_][\w$]*(?:\[\d+\])?")


def _tree(net: str, slots: list, new_net) -> list[dict]:
    """Buffers between `net` and the setters of its load `slots`, MAX_FANOUT loads each."""
    buffers = []
    while len(slots) > MAX_FANOUT:
        upper = []
        for k in range(0, len(slots), MAX_FANOUT):
            buf = {"in": net, "out": new_net()}
            for set_net in slots[k:k + MAX_FANOUT]:
                set_net(buf["out"])
            buffers.append(buf)
            upper.append(lambda n, b=buf: b.__setitem__("in", n))
        slots = upper
    return buffers


def repair_fanout(netlist: str, clock: str = "clk") -> tuple[str, int]:
    """The netlist with buffer trees on high-fanout nets, and the number of buffers added."""
    cells = list(_INSTANCE.finditer(netlist))
    pins = [[[p, _TOKEN.findall(c), c.lstrip().startswith("{")] for p, c in _PIN.findall(m.group(3))] for m in cells]
    loads, ties, clocks = defaultdict(list), set(), {clock}
    for cell, cell_pins in zip(cells, pins, strict=True):
        for pin in cell_pins:
            for k, token in enumerate(pin[1]):
                if "'" in token:
                    continue
                if pin[0] in OUTPUT_PINS:
                    if cell.group(1) in (TIE_HI[0], TIE_LO[0]):
                        ties.add(token)
                    elif pin[0] == "GCLK":
                        clocks.add(token.strip())
                else:
                    loads[token].append(lambda n, tokens=pin[1], k=k: tokens.__setitem__(k, n))
    names = iter(range(1 << 30))
    buffers = []
    for net, slots in loads.items():
        if len(slots) > MAX_FANOUT and net.strip() not in clocks and net not in ties:
            buffers += _tree(net, slots, lambda: f"_fanout_{next(names)}_")
    if not buffers:
        return netlist, 0
    out, last = [], 0
    for n, (cell, cell_pins) in enumerate(zip(cells, pins, strict=True)):
        out.append(netlist[last:cell.start()])
        if n == 0:  # declare the buffers' nets before any instance uses them
            out.append("".join(f"  wire {b['out']};\n" for b in buffers))
        conns = [f"    .{p}({'{ ' + ' , '.join(t) + ' }' if concat else t[0] if t else ''})"
                 for p, t, concat in cell_pins]
        out.append(f"  {cell.group(1)} {cell.group(2)} (\n" + ",\n".join(conns) + "\n  );\n")
        last = cell.end()
    tail = netlist[last:]
    cell, a, x = BUFFER
    added = "".join(f"  {cell} _fanout_buffer_{n}_ (\n    .{a}({b['in']}),\n    .{x}({b['out']})\n  );\n"
                     for n, b in enumerate(buffers))
    end = tail.rindex("endmodule")
    return "".join(out) + tail[:end] + added + tail[end:], len(buffers)
