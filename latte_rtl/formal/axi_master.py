"""The AXI4 read master's rules proven of the master block alone, unbounded (a block task of blocks.py with
these lines added inside the master's module): AR held with ARADDR and ARLEN stable until ARREADY, at most
max_burst beats a burst, never across 4 KiB, at most `axi_outstanding` bursts outstanding. The slave's side
is assumed: R beats only while a burst is outstanding. Strengthening invariants (on hw/axi_read.py's own
registers, where the Verilog has them): its `outstanding` count equals the bursts the slave accepted plus
the one in AR, and its next burst's address `addr` is aligned while beats are `remaining`. Assumed too:
requests at aligned addresses (the fetcher's obligation, checked as ARADDR's alignment in context by the
decode protocol proof, liveness.py, with INCR and the beat size: bounded)."""

from __future__ import annotations

from .liveness import AR_HELD
from .verilog import Port, has_regs

AR_PORTS = ("req__valid", "req__payload", "axi__arvalid", "axi__arready", "axi__araddr", "axi__arlen",
            "resp__valid", "axi__rready", "axi__rlast")


def is_master(ports: dict[str, Port]) -> bool:
    return all(p in ports for p in AR_PORTS)


def lines(ports: dict[str, Port], body: str, *, bus_bytes: int, max_burst: int, outstanding: int) -> list[str]:
    """Verilog lines for the master's module (`body`: its text), after protocol_lines (latte_f_live)."""
    size, cw = (bus_bytes - 1).bit_length(), max(1, outstanding.bit_length()) + 1
    out = ["  // latte-rtl prove: AXI4 read master rules",
           f"  reg [{cw - 1}:0] latte_f_bursts = 0;  // accepted by the slave, last R beat not yet taken",
           "  wire latte_f_r_end = resp__valid && axi__rready && axi__rlast;",
           "  always @(posedge clk) latte_f_bursts <= rst ? 0 : latte_f_bursts + (axi__arvalid && axi__arready) "
           "- latte_f_r_end;",
           "  always @* if (!rst && latte_f_bursts == 0) assume (!resp__valid);",
           # hw/axi_read.request_layout: addr in the low bits; aligned requests are the fetcher's part
           *([f"  always @* if (!rst && req__valid) assume (req__payload[{size - 1}:0] == 0);"] if size else []),
           "  always @(posedge clk) if (latte_f_live && !rst) begin",
           *AR_HELD,
           "    if (axi__arvalid) begin",
           f"      axi__burst_at_most_max: assert (axi__arlen < {max_burst});",
           f"      axi__no_4k_crossing: assert ({{1'b0, axi__araddr[11:0]}} + ((axi__arlen + 13'd1) << {size}) "
           "<= 4096);",
           "    end",
           f"    axi__outstanding_at_most_max: assert (latte_f_bursts <= {outstanding});"]
    if has_regs(body, "outstanding"):
        out.append("    axi__outstanding_counts_bursts: assert (outstanding == latte_f_bursts + axi__arvalid);")
    if has_regs(body, "addr", "remaining") and size:
        out.append(f"    axi__next_address_aligned: assert (remaining == 0 || addr[{size - 1}:0] == 0);")
    return out + ["  end"]
