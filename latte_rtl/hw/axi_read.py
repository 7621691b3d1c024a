"""AXI4 read master (AR and R channels, INCR bursts) behind a latency-tolerant request/response stream
(docs/spec.md §9).

A request (`addr`, `beats`) asks for `beats` consecutive data words from `addr` (bytes, a multiple of
the data width in bytes). The master cuts it into INCR bursts of at most `max_burst` beats that never
cross a 4 KiB boundary, keeps up to `max_outstanding` bursts in flight (one ID, so responses return in
order) and hands every R beat on `resp` (data, `last` on the request's final beat). `rready` follows
`resp.ready`: a slow consumer back-pressures R. A request of 0 beats is taken and yields nothing. An R
beat with RRESP other than OKAY sets the sticky `error` flag (cleared by reset only).
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

BOUNDARY = 4096            # AXI4: no burst crosses a 4 KiB address boundary
BURST_INCR = 0b01
DATA_WIDTHS = (64, 128, 256, 512)


def axi_read_signature(addr_width: int, data_width: int, id_width: int = 1) -> wiring.Signature:
    """The AR and R channel signals of an AXI4 manager (ARID is 0, RID is ignored: responses in order)."""
    return wiring.Signature({
        "arid": Out(id_width), "rid": In(id_width), "araddr": Out(addr_width), "arlen": Out(8), "arsize": Out(3),
        "arburst": Out(2), "arcache": Out(4), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
        "rdata": In(data_width), "rresp": In(2), "rlast": In(1), "rvalid": In(1), "rready": Out(1),
    })


def request_layout(addr_width: int, len_width: int) -> data.StructLayout:
    return data.StructLayout({"addr": addr_width, "beats": len_width})


def response_layout(data_width: int) -> data.StructLayout:
    return data.StructLayout({"data": data_width, "last": 1})


class AxiReadMaster(wiring.Component):
    """Requests in on `req` (addr bytes, beats), data beats out on `resp`, AXI4 AR/R on `axi`.

    data_width bits per beat (64..512), len_width bits of request length, max_burst beats per burst
    (1..256), max_outstanding bursts in flight (1..256), id_width bits of ARID / RID (ARID is 0).
    """

    def __init__(self, *, addr_width: int = 32, data_width: int = 64, len_width: int = 16,
                 max_burst: int = 16, max_outstanding: int = 4, id_width: int = 1):
        if data_width not in DATA_WIDTHS:
            raise ValueError(f"data_width must be one of {DATA_WIDTHS}, not {data_width!r}")
        if not 1 <= max_burst <= 256:
            raise ValueError(f"max_burst must be in 1..256, not {max_burst!r}")
        if not 1 <= max_outstanding <= 256:
            raise ValueError(f"max_outstanding must be in 1..256, not {max_outstanding!r}")
        if not 13 <= addr_width <= 64:
            raise ValueError(f"addr_width must be in 13..64, not {addr_width!r}")
        if not 1 <= id_width <= 16:
            raise ValueError(f"id_width must be in 1..16, not {id_width!r}")
        self.addr_width, self.data_width, self.len_width = addr_width, data_width, len_width
        self.max_burst, self.max_outstanding = max_burst, max_outstanding
        self.bytes = data_width // 8
        super().__init__({
            "req": In(stream.Signature(request_layout(addr_width, len_width))),
            "resp": Out(stream.Signature(response_layout(data_width))),
            "axi": Out(axi_read_signature(addr_width, data_width, id_width)),
            "error": Out(1),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.ends = ends = SyncFIFO(width=1, depth=self.max_outstanding)
        size = self.bytes.bit_length() - 1
        addr = Signal(self.addr_width, reset_less=True)          # next burst's address
        remaining = Signal(self.len_width)                       # beats still to ask for
        outstanding = Signal(range(self.max_outstanding + 1))    # bursts issued, last beat not yet seen
        burst = Signal(range(self.max_burst + 1))
        araddr, arlen = Signal(self.addr_width, reset_less=True), Signal(8, reset_less=True)
        to_boundary = Signal(range(BOUNDARY // self.bytes + 1))
        m.d.comb += to_boundary.eq((BOUNDARY - addr[:12]) >> size)
        # burst = min(remaining, max_burst, beats to the next 4 KiB boundary)
        capped = Signal(range(self.max_burst + 1))
        m.d.comb += capped.eq(Mux(remaining < self.max_burst, remaining, self.max_burst))
        m.d.comb += burst.eq(Mux(to_boundary < capped, to_boundary, capped))
        ar = r = self.axi
        take = Signal()
        issue = Signal()
        finish = Signal()
        m.d.comb += [
            ar.arid.eq(0), ar.arsize.eq(size), ar.arburst.eq(BURST_INCR), ar.arcache.eq(0b0011), ar.arprot.eq(0),
            ar.araddr.eq(araddr), ar.arlen.eq(arlen),
            issue.eq((remaining != 0) & (~ar.arvalid | ar.arready) & (outstanding < self.max_outstanding)
                     & ends.w_rdy),
            ends.w_en.eq(issue), ends.w_data.eq(remaining == burst),
            self.resp.valid.eq(r.rvalid), r.rready.eq(self.resp.ready),
            self.resp.payload.data.eq(r.rdata), self.resp.payload.last.eq(r.rlast & ends.r_data),
            finish.eq(r.rvalid & r.rready & r.rlast), ends.r_en.eq(finish),
            self.idle.eq((remaining == 0) & (outstanding == 0)),
        ]
        with m.If(issue):
            m.d.sync += [araddr.eq(addr), arlen.eq(burst - 1), addr.eq(addr + (burst << size)),
                         remaining.eq(remaining - burst), ar.arvalid.eq(1)]
        with m.Elif(ar.arready):
            m.d.sync += ar.arvalid.eq(0)
        # a request is taken in the cycle the last burst of the one before issues: one-burst requests
        # (a plane row) go out at one per cycle
        m.d.comb += [self.req.ready.eq((remaining == 0) | (issue & (remaining == burst))),
                     take.eq(self.req.valid & self.req.ready)]
        with m.If(take):           # after the issue's update: the new request's address and length win
            m.d.sync += [addr.eq(self.req.payload.addr), remaining.eq(self.req.payload.beats)]
        m.d.sync += outstanding.eq(outstanding + issue - finish)
        with m.If(r.rvalid & r.rready & (r.rresp != 0)):
            m.d.sync += self.error.eq(1)
        return m

