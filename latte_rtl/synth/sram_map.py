"""Map each memory of a design (a `latte_sram` instance: words × bits, write lanes of `gran` bits)
onto IHP SG13G2 single-port SRAM macros, and write the Verilog that does it.

An arrangement is `depth` macros deep (address banks; only the addressed one is enabled) × `width`
macros wide (bit slices: a read reads every slice, a write writes only the slices its lane enables
reach, so a one-key write into a wide buffer word costs one macro write). The cheapest arrangement in
area wins. A memory stays in flip-flops when they take less area than its cheapest arrangement (e.g. the
4-word query buffers: a macro has at least 64 words).

`latte_sram` is a simple dual-port RAM (a write and a read port). The macros are single-port: the
wrapper gives the port to a write when there is one. The engines never write and read one memory in
the same cycle (keys and V load between rows; each buffer is written before its row reads it);
`synth/activity.py` counts such cycles in the simulation and the report shows that count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from latte_rtl.hw.sram import SRAM_VERILOG

from .pdk import FLIP_FLOP, Macro, cell_area, macros

# A flip-flop memory costs a flop and about a 2:1 mux per bit (write enable) plus a read mux tree
# of about one mux per bit; used only to choose between flip-flops and macros.
FF_BIT_CELLS = (FLIP_FLOP, "sg13g2_mux2_1", "sg13g2_mux2_1")
MASK_BUFFER, MASK_FANOUT = "sg13g2_buf_4", 8
WRITE_PROBE, WRITE_PROBE_CELL = "write_probe", "sg13g2_buf_1"
CONTROL_PINS = ("A_WEN", "A_REN", "A_MEN")


@dataclass(frozen=True)
class MemoryMap:
    """How one memory is built: `kind` "macro" (`macro` × depth × width) or "flip-flops"."""
    path: str
    words: int
    bits: int
    granularity: int
    kind: str
    macro: Macro | None = None
    depth: int = 0
    width: int = 0
    area_um2: float = 0.0  # macros only; flip-flop memories are counted in the logic area
    reason: str = ""

    @property
    def module(self) -> str:
        return f"latte_sram_{self.words}x{self.bits}g{self.granularity}"

    @property
    def count(self) -> int:
        return self.depth * self.width

    @property
    def capacity_bits(self) -> int:
        return self.count * self.macro.words * self.macro.bits if self.macro else self.words * self.bits

    def slice_lanes(self, col: int) -> range:
        """The write lanes (of `granularity` bits) that hold bits of macro column `col`."""
        lo, hi = col * self.macro.bits, min(self.bits, (col + 1) * self.macro.bits) - 1
        return range(lo // self.granularity, hi // self.granularity + 1)

    def slices_written(self, wen: int) -> int:
        """Macro columns a write with lane enables `wen` reaches (the only ones its A_WEN enables)."""
        return sum(any(wen >> lane & 1 for lane in self.slice_lanes(col)) for col in range(self.width))

    def describe(self) -> str:
        if self.kind == "macro":
            return f"{self.depth}×{self.width} {self.macro.name} ({self.area_um2:,.0f} µm²)"
        return f"flip-flops ({self.reason})"


def _usable(macro: Macro, granularity: int) -> bool:
    """Without a bit mask a macro writes whole words: each of its slices must sit inside one write lane."""
    return macro.bit_mask or granularity % macro.bits == 0


def map_memory(path: str, words: int, bits: int, granularity: int) -> MemoryMap:
    """The cheapest arrangement of macros for words × bits, or flip-flops where they are smaller."""
    options = []
    for macro in macros():
        if _usable(macro, granularity):
            depth, width = math.ceil(words / macro.words), math.ceil(bits / macro.bits)
            options.append((depth * width * macro.area_um2, depth * width, macro.name, macro, depth, width))
    area, _, _, macro, depth, width = min(options)
    ff_area = words * bits * sum(cell_area(c) for c in FF_BIT_CELLS)
    if ff_area < area:
        return MemoryMap(path, words, bits, granularity, "flip-flops",
                         reason=f"{words}×{bits} bits: about {ff_area:,.0f} µm² of flip-flops, less than the "
                                f"smallest macro arrangement ({area:,.0f} µm²)")
    return MemoryMap(path, words, bits, granularity, "macro", macro, depth, width, area)


def map_memories(memories: list[dict]) -> list[MemoryMap]:
    """map_memory for each memory of a manifest top (`path`, `words`, `bits`, `write_granularity`)."""
    return [map_memory(m["path"], m["words"], m["bits"], m["write_granularity"]) for m in memories]


def _ports(m: MemoryMap) -> str:
    abits = max(1, (m.words - 1).bit_length())
    return (f"    input  wire clk,\n    input  wire [{abits - 1}:0] waddr,\n    input  wire [{m.bits - 1}:0] wdata,\n"
            f"    input  wire [{m.bits // m.granularity - 1}:0] wen,\n    input  wire [{abits - 1}:0] raddr,\n"
            f"    input  wire ren,\n    output {'wire' if m.kind == 'macro' else 'reg '} [{m.bits - 1}:0] rdata")


def _flip_flop_module(m: MemoryMap) -> str:
    body = SRAM_VERILOG[SRAM_VERILOG.index("    reg [WIDTH-1:0] mem"):SRAM_VERILOG.index("endmodule")]
    body = body.replace("WIDTH / GRAN", str(m.bits // m.granularity))
    for name, value in (("WIDTH", m.bits), ("DEPTH", m.words), ("GRAN", m.granularity)):
        body = body.replace(name, str(value))
    return f"// {m.path}: {m.describe()}\nmodule {m.module} (\n{_ports(m)}\n);\n{body}endmodule\n"


def _macro_instance(m: MemoryMap, row: int, col: int) -> str:
    macro, lo = m.macro, col * m.macro.bits
    hi = min(m.bits, lo + macro.bits) - 1
    pad = macro.bits - (hi - lo + 1)
    pins = {"A_ADDR": f"addr[{macro.words.bit_length() - 2}:0]" if macro.words > 1 else "1'b0",
            "A_DIN": f"{{{pad}'b0, wdata[{hi}:{lo}]}}" if pad else f"wdata[{hi}:{lo}]",
            "A_BM": f"{{{pad}'b0, mask[{hi}:{lo}]}}" if pad else f"mask[{hi}:{lo}]",
            "A_MEN": f"bank == {row}" if m.depth > 1 else "1'b1", "A_WEN": _slice_write(m, col), "A_REN": "read",
            "A_DLY": "1'b1"}
    # the macro's control pins allow 0.48 ns of transition: each gets a buffer of its own
    buffers = []
    for pin in CONTROL_PINS:
        net = f"{pin.lower()}_{row}_{col}"
        buffers.append(f"    wire {net};\n    {MASK_BUFFER} {net}_buffer (.A({pins[pin]}), .X({net}));\n")
        pins[pin] = net
    conns = ["        .A_CLK(clk)", f"        .A_DOUT(dout_{row}_{col})"]
    for pin, width in macro.inputs:
        conns.append(f"        .{pin}({pins.get(pin, f'{width}' + chr(39) + 'b0')})")
    return "".join(buffers) + f"    {macro.name} m_{row}_{col} (\n" + ",\n".join(conns) + "\n    );\n"


def _slice_write(m: MemoryMap, col: int) -> str:
    """A_WEN of the macros of column `col`: a write that enables one of the lanes its bits hold."""
    lanes = m.slice_lanes(col)
    return "write" if len(lanes) == m.bits // m.granularity else f"|wen[{lanes[-1]}:{lanes[0]}]"


def _mask_buffers(m: MemoryMap) -> list[str]:
    """The bit mask: each write-lane enable through one buffer per MASK_FANOUT bits (synthesis does not
    buffer nets whose loads are all macro pins)."""
    lines, n = [f"    wire [{m.bits - 1}:0] mask;"], 0
    for lane in range(m.bits // m.granularity):
        for lo in range(lane * m.granularity, (lane + 1) * m.granularity, MASK_FANOUT):
            width = min(MASK_FANOUT, (lane + 1) * m.granularity - lo)
            lines += [f"    wire mask_{n};", f"    {MASK_BUFFER} mask_buffer_{n} (.A(wen[{lane}]), .X(mask_{n}));",
                      f"    assign mask[{lo + width - 1}:{lo}] = {{{width}{{mask_{n}}}}};"]
            n += 1
    return lines


def _macro_module(m: MemoryMap) -> str:
    macro = m.macro
    abits, mbits = max(1, (m.words - 1).bit_length()), macro.words.bit_length() - 1
    lines = [f"// {m.path}: {m.describe()}", f"module {m.module} (", _ports(m), ");",
             "    wire write = |wen;", "    wire read = ren & ~write;",
             # the energy run counts write cycles on this buffer's output (synth/gatelevel.py probes)
             f"    (* keep *) wire {WRITE_PROBE}_net;",
             f"    (* keep *) {WRITE_PROBE_CELL} {WRITE_PROBE} (.A(write), .X({WRITE_PROBE}_net));",
             f"    wire [{max(abits, mbits) - 1}:0] addr = write ? waddr : raddr;",
             *_mask_buffers(m)]
    if m.depth > 1:
        bank_bits = max(1, (m.depth - 1).bit_length())
        lines += [f"    wire [{bank_bits - 1}:0] bank = addr[{abits - 1}:{mbits}];",
                  f"    reg [{bank_bits - 1}:0] read_bank;", "    always @(posedge clk) if (read) read_bank <= bank;"]
    for row in range(m.depth):
        for col in range(m.width):
            lines.append(f"    wire [{macro.bits - 1}:0] dout_{row}_{col};")
    words = [("{" + ", ".join(f"dout_{row}_{col}" for col in reversed(range(m.width))) + "}") for row in range(m.depth)]
    select = words[0]
    for row in range(1, m.depth):
        select = f"read_bank == {row} ? {words[row]} : {select}"
    lines.append(f"    assign rdata = {select};")
    body = "\n".join(lines) + "\n"
    return body + "".join(_macro_instance(m, r, c) for r in range(m.depth) for c in range(m.width)) + "endmodule\n"


def wrapper_verilog(mapped: list[MemoryMap]) -> str:
    """One module per distinct memory shape: macros with their glue, or the behavioural flip-flops."""
    seen, text = set(), []
    for m in mapped:
        if m.module not in seen:
            seen.add(m.module)
            text.append(_macro_module(m) if m.kind == "macro" else _flip_flop_module(m))
    return "\n".join(text)


_INSTANCE = re.compile(r"\b\w*latte_sram #\(\s*\.ABITS\(32'd(\d+)\),\s*\.DEPTH\(32'd(\d+)\),\s*\.GRAN\(32'd(\d+)\),"
                       r"\s*\.WIDTH\(32'd(\d+)\)\s*\)")


def bind_memories(verilog: str, memory_module: str) -> str:
    """The design's Verilog with each parameterised instance of `memory_module` (`latte_sram`, with the
    design's prefix) bound to its shape's module."""
    def shape(match):
        _, depth, gran, width = (int(g) for g in match.groups())
        return f"latte_sram_{depth}x{width}g{gran}"
    bound, count = _INSTANCE.subn(shape, verilog)
    if count != verilog.count(f"{memory_module} #("):
        raise ValueError("unexpected latte_sram instance syntax in the generated Verilog")
    return bound
