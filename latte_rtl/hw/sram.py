"""Simple dual-port RAM (one write port with lane enables, one registered read port).

The storage is the behavioural Verilog module ``latte_sram`` (emitted beside the design):
simulators run it as is, synthesis infers block RAM from it or treats it as an SRAM macro, and
generation time does not grow with depth (Amaranth would emit an initializer per word).
Inside `simulation_model()` the same component elaborates to an Amaranth memory instead, so
blocks that hold an SRAM can be unit-tested with `amaranth.sim` (no Verilog build).
"""

import contextlib

from amaranth import ClockSignal, Instance, Module, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

SRAM_MODULE = "latte_sram"

SRAM_VERILOG = """\
// latte_sram: simple dual-port RAM, WIDTH bits x DEPTH words, write enable per GRAN-bit lane,
// registered read (rdata holds its value while ren is low). Contents start undefined.
module latte_sram #(
    parameter integer WIDTH = 8,
    parameter integer DEPTH = 16,
    parameter integer ABITS = 4,
    parameter integer GRAN  = 8
) (
    input  wire                    clk,
    input  wire [ABITS-1:0]        waddr,
    input  wire [WIDTH-1:0]        wdata,
    input  wire [WIDTH/GRAN-1:0]   wen,
    input  wire [ABITS-1:0]        raddr,
    input  wire                    ren,
    output reg  [WIDTH-1:0]        rdata
);
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    integer lane;
    always @(posedge clk) begin
        for (lane = 0; lane < WIDTH / GRAN; lane = lane + 1)
            if (wen[lane])
                mem[waddr][lane*GRAN +: GRAN] <= wdata[lane*GRAN +: GRAN];
        if (ren)
            rdata <= mem[raddr];
    end
endmodule
"""


class SRAM(wiring.Component):
    """`depth` words of `width` bits; `granularity` bits per write-enable lane (default: whole word).

    Write: when ``wen[i]`` is high, lane i of ``wdata`` is stored at ``waddr``.
    Read:  when ``ren`` is high, ``rdata`` shows the word at ``raddr`` on the next cycle.
    """

    def __init__(self, *, width: int, depth: int, granularity: int | None = None):
        granularity = width if granularity is None else granularity
        if width < 1 or depth < 1:
            raise ValueError(f"SRAM width={width} and depth={depth} must be ≥ 1")
        if width % granularity:
            raise ValueError(f"SRAM granularity={granularity} must divide width={width}")
        self.width, self.depth, self.granularity = width, depth, granularity
        self.addr_width = max(1, (depth - 1).bit_length())
        super().__init__({
            "waddr": In(self.addr_width),
            "wdata": In(width),
            "wen": In(width // granularity),
            "raddr": In(self.addr_width),
            "ren": In(1),
            "rdata": Out(unsigned(width)),
        })

    def elaborate(self, platform):
        if _simulation_model:
            return self._model()
        return Instance(
            SRAM_MODULE,
            p_WIDTH=self.width, p_DEPTH=self.depth, p_ABITS=self.addr_width, p_GRAN=self.granularity,
            i_clk=ClockSignal(), i_waddr=self.waddr, i_wdata=self.wdata, i_wen=self.wen,
            i_raddr=self.raddr, i_ren=self.ren, o_rdata=self.rdata,
        )

    def _model(self):
        """The behaviour of latte_sram as an Amaranth memory (for amaranth.sim only)."""
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=unsigned(self.width), depth=self.depth, init=[])
        wp = mem.write_port(granularity=self.granularity)
        rp = mem.read_port()
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.wen),
                     rp.addr.eq(self.raddr), rp.en.eq(self.ren), self.rdata.eq(rp.data)]
        return m


_simulation_model = False


@contextlib.contextmanager
def simulation_model():
    """Elaborate SRAMs as Amaranth memories while this is active (create the Simulator inside)."""
    global _simulation_model
    saved, _simulation_model = _simulation_model, True
    try:
        yield
    finally:
        _simulation_model = saved
