"""External memory: K and V of a KV head in three planes (golden/decode.py's layout) read through a bus
master by the decode tops (tops/decode.py). Every external bus shares this; its own module adds the port."""

from __future__ import annotations

from types import MappingProxyType

from ..errors import UserError
from ..golden.decode import PLANES
from .base import COMMON_PROTOCOL, MemoryBus

DECODE_PROTOCOL = {
    **COMMON_PROTOCOL,
    "config": "decode tops: (reg, head, value) writes, ready while busy is low; reg codes in the config payload's reg "
              "field (BASE_MSB, STRIDE_MSB, BASE_LSB, STRIDE_LSB, BASE_V, STRIDE_V, N_KEYS with head 0: byte "
              "addresses and strides per memory_layout, N keys of the step; THRESHOLD, MULT, COMP with head = query "
              "row g: T_g (absolute mode: two's complement in its low bits; relative: unsigned), M_g, C_g); registers "
              "hold between steps",
    "query": "decode tops: one beat per query row g = row, data = the q vector packed as a memory row (element i at "
             "bits [i*bits, (i+1)*bits), two's complement); ready while busy is low",
    "start": "decode tops: one beat (payload ignored) begins a decode step with the registers and q rows given",
    "out": "decode tops: one beat per query row, row = 0..group-1 in order, data[i] = o_i of that row (signed)",
    "rows": "decode tops: one record per step: kept_count[g], overflow[g], bytes_read.k_msb/k_lsb/v (bytes of the R "
            "beats of this step per plane, shared by its group), cycles (start accepted to the record valid)",
}


class ExternalBus(MemoryBus):
    """K and V in external memory: the decode tops alone. A subclass gives the port:

    port            the tops' memory port name (a member of `signature(cfg)`; Verilog `<port>__<signal>`)
    port_protocol   the manifest's protocol phrase of that port
    max_burst       beats the master takes per request at most (the fetcher's packed requests)
    signature(cfg)  the port's `wiring.Signature`, seen from the tops (a manager)
    master(cfg)     the master component: `req` (In stream of hw/axi_read.request_layout: addr, beats),
                    `resp` (Out stream of response_layout: data, last), and the port as member `port`
    amaranth_model(), cocotb_model(dut, size), native_functions(widths): its simulation models
    """

    external = True
    implies = MappingProxyType({"attention": True, "threshold_mode": "absolute", "lanes": 16})
    model_cycles = False
    counts_keys = False
    port: str = ""
    port_protocol: str = ""
    max_burst: int = 0

    def signature(self, cfg):
        raise NotImplementedError

    def master(self, cfg):
        raise NotImplementedError

    def memory_summary(self, params: dict) -> str:
        """The bus in `generate`'s summary ("AXI4 256b reads, 32 bursts in flight")."""
        raise NotImplementedError

    def _needs(self, what: str):
        raise NotImplementedError(f"kv_memory {self.name}: {type(self).__name__} must give {what} (buses/external.py "
                                  "lists what an external bus owns; docs/architecture.md, How to add a memory bus)")

    def amaranth_model(self):
        """The amaranth.sim subordinate class of the port (drive / update each cycle)."""
        self._needs("amaranth_model()")

    def cocotb_model(self, dut, size: int):
        """The cocotb memory model bound to the `<port>_` signals of `dut`, `size` bytes."""
        self._needs("cocotb_model(dut, size)")

    def native_functions(self, widths: dict[str, int]) -> list[str]:
        """latte_ports.h's accessors of the port for the native harness's C++ model of this bus."""
        self._needs("native_functions(widths) and a C++ model in sim/native_harness.cpp")

    def check(self, cfg) -> None:
        where = f"kv_memory {self.name}"
        if not cfg.attention.attention:
            raise UserError(f"{where} generates the decode tops (score → softmax → P·V): it needs attention on "
                            "(--attention), not off")
        if cfg.attention.vmean:
            raise UserError(f"{where} reads V only for keys with p > 0: vmean (every V row) must be off, not on")
        if cfg.decode.kept_buffer > cfg.score.max_keys:
            raise UserError(f"kept_buffer must be at most max_keys = {cfg.score.max_keys}, not "
                            f"{cfg.decode.kept_buffer} (give --kept-buffer {cfg.score.max_keys} or less)")
        if cfg.score.row_thresholds:
            raise UserError(f"{where} takes a threshold per query row already (the config register T_g of each "
                            "of the G rows): row_thresholds must be off, not on")
        if cfg.score.completion_lanes:
            raise UserError(f"{where} has no separate completion array: completion_lanes must be 0, not "
                            f"{cfg.score.completion_lanes}")
        if cfg.attention.softmax_lanes != 1:
            raise UserError(f"{where} has a softmax of its own (a sum per query row): softmax_lanes must be 1, not "
                            f"{cfg.attention.softmax_lanes}")
        if cfg.attention.pv_lanes:
            raise UserError(f"{where} walks V a word a cycle on its own datapath: pv_lanes must be 0, not "
                            f"{cfg.attention.pv_lanes}")

    def generates(self, top, cfg) -> bool:
        return top.decode

    def derived(self, cfg) -> dict:
        spec = cfg.decode_spec()
        return {"decode": {"bus_bytes": spec.bus_bytes, "row_bytes": {p: spec.row_bytes(p) for p in PLANES},
                           "row_beats": {p: spec.row_beats(p) for p in PLANES},
                           "field_bits": {p: spec.field_bits(p) for p in PLANES}}}

    def protocol(self) -> dict:
        return {**DECODE_PROTOCOL, self.port: self.port_protocol}

    def memory_layout(self, cfg) -> dict:
        """The external memory layout of a KV head (golden.decode)."""
        spec = cfg.decode_spec()
        planes = {p: {"field_bits": spec.field_bits(p), "signed": p != "k_lsb", "row_bytes": spec.row_bytes(p),
                      "row_beats": spec.row_beats(p), "base_register": f"BASE_{r}", "stride_register": f"STRIDE_{r}"}
                  for p, r in (("k_msb", "MSB"), ("k_lsb", "LSB"), ("v", "V"))}
        return {"planes": planes, "alignment_bytes": spec.bus_bytes, "addr_width": spec.addr_width,
                "max_keys": spec.max_keys,
                "rules": "row j of a plane at base + j*stride; field i of a row in bits [i*w, (i+1)*w) of the row read "
                         "as a little-endian integer (k_msb: k >> lsb_bits, k_lsb: k & (2^lsb_bits - 1), v); base and "
                         "stride multiples of alignment_bytes; stride >= row_bytes; no byte of one plane inside "
                         "another; every byte below 2^addr_width; 1 <= N <= max_keys; a row is read as row_beats "
                         "whole beats"}

    def regression_cases(self, cfg, seed: int, *, rows: int, keys: int | None) -> dict[str, dict]:
        from ..sim.stimulus import decode_cases

        return decode_cases(cfg, seed)

    def register_widths(self, cfg) -> dict[str, int]:
        spec = cfg.decode_spec()
        return {"axi_addr_width": spec.addr_width, "mult_bits": spec.mult_bits,
                "C_g (max_keys << exp_bits)": (spec.max_keys << spec.softmax["exp_bits"]).bit_length()}

    def native_memory(self, cfg, memory: tuple) -> tuple:
        return memory[0], memory[1] or cfg.decode_spec().bus_bytes, *memory[2:]
