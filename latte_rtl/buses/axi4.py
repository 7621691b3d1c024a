"""AXI4 read manager: the decode tops read K and V through hw/axi_read.py's `AxiReadMaster` (one ID, INCR
bursts, responses in order). Its models: cocotbext-axi's AxiRamRead under cocotb (sim/decode_scoreboard.py
`CocotbMemory`), the native harness's `AxiMemory` (native_harness.cpp, compiled in by `native_define` through
sim/native_build.py's `axi_functions`), sim/amaranth_axi.py's `ReactiveMemory` in amaranth.sim."""

from __future__ import annotations

from .external import ExternalBus


class Axi4ReadBus(ExternalBus):
    """AXI4 AR/R channels of `id_width`-bit IDs (ARID 0), axi_data_width / axi_addr_width bits, up to
    axi_outstanding bursts of at most `max_burst` beats in flight."""

    name = "axi"
    help = "the decode tops, K and V read from external memory through an AXI4 read master"
    port = "axi"
    port_protocol = ("decode tops: AXI4 read manager axi_ar*/axi_r* (ARID 0, INCR bursts of up to 16 beats never "
                     "crossing 4 KiB, ARSIZE = data width, up to axi_outstanding bursts outstanding, responses in "
                     "order)")
    max_burst = 16
    id_width = 1
    native_define = "LATTE_AXI"      # native_harness.cpp's #ifdef of its AxiMemory

    def signature(self, cfg):
        from ..hw.axi_read import axi_read_signature

        return axi_read_signature(cfg.decode.axi_addr_width, cfg.decode.axi_data_width, self.id_width)

    def master(self, cfg):
        from ..hw.axi_read import AxiReadMaster

        return AxiReadMaster(addr_width=cfg.decode.axi_addr_width, data_width=cfg.decode.axi_data_width, len_width=8,
                             max_burst=self.max_burst, max_outstanding=cfg.decode.axi_outstanding,
                             id_width=self.id_width)

    def memory_summary(self, params: dict) -> str:
        return f"AXI4 {params['axi_data_width']}b reads, {params['axi_outstanding']} bursts in flight"

    def memory_model(self, tb, cfg):
        """The native harness's AxiMemory (a NativeTB), or under cocotb one `cocotb_model` per testbench, made
        before reset (it drives arready and R from then on)."""
        from ..sim.decode_scoreboard import memory_bytes

        size = memory_bytes(cfg.decode_spec())
        if hasattr(tb, "axi_memory"):
            return tb.axi_memory(size)
        if getattr(tb, "decode_memory", None) is None:
            tb.decode_memory = self.cocotb_model(tb.dut, size)
        return tb.decode_memory

    def cocotb_model(self, dut, size: int):
        """cocotbext-axi's AxiRamRead on the `<port>_` signals, seeded AR/R pauses."""
        from ..sim.decode_scoreboard import CocotbMemory

        return CocotbMemory(dut, size, prefix=f"{self.port}_")

    def amaranth_model(self):
        """The amaranth.sim subordinate class (ReactiveMemory: drive / update each cycle)."""
        from ..sim.amaranth_axi import ReactiveMemory

        return ReactiveMemory

    def native_functions(self, widths: dict[str, int]) -> list[str]:
        """latte_ports.h's accessors of the port for the harness's AxiMemory (defines `native_define`)."""
        from ..sim.native_build import axi_functions

        return axi_functions(widths, self.native_define)
