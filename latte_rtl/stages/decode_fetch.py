"""The memory side of a decode step (docs/spec.md §9): plane rows of one KV head fetched through the
design's bus master (`LatteConfig.bus`: buses/, the AXI4 read master for kv_memory axi), in the layout of
`latte_rtl/golden/decode.py`.

`start` begins a pass over the MSB plane (row j of N at base_msb + j stride_msb, j ascending); when the
plane is packed (stride_msb = its row's beats times the bus width in bytes) one request asks for up to
`msb_chunk` consecutive rows (at most max_burst beats), so bursts are long and the master's outstanding
bursts hide the memory latency; otherwise it asks row by row;
`fetch` asks for one row of the LSB or V plane by key index (these go before the MSB pass's next row).
With `stream_v` (the dense twin) a V fetch on a packed V plane asks for up to `v_chunk` consecutive rows;
the fetches of rows already asked for are then taken without a request (the walk asks 0, 1, …, N-1).
With `stream_k` (the dense twin, which needs every key's LSB row) each MSB request is followed by one for
the LSB rows of the same keys, so the LSB plane streams in bursts as the MSB plane does, with no `fetch`:
an LSB row then always comes after its MSB row, and the consumer's MSB credit (`msb_room`) covers both.
An indexed fetch's address (base + index × stride) is computed in register stages before its request,
and the MSB pass's next request size is a register (computed from the cycle before; only this block's own
requests lower the credit), so neither a multiplier nor the credit arithmetic shares a cycle with the bus.
Every row comes back whole on `rows` (plane, index, data: the row's beats, beat 0 in the low bits),
in request order. `bytes_read` counts the bytes of every R beat taken since the last `start`, per plane
(the `bytes_read_<plane>` of a run). The layout registers must hold still while a pass or a fetch is in flight.
"""

from __future__ import annotations

import enum

from amaranth import C, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..config import LatteConfig
from ..hw.streams import PipeRegister, SkidRegister

BYTES_COUNTER_BITS = 48


class PlaneKind(enum.IntEnum):
    K_MSB = 0
    K_LSB = 1
    V = 2


_LAYOUT_NAME = {PlaneKind.K_MSB: "msb", PlaneKind.K_LSB: "lsb", PlaneKind.V: "v"}   # the layout's field suffix


def layout_registers(addr_width: int, count_width: int) -> data.StructLayout:
    fields = {f"{what}_{plane}": addr_width for plane in _LAYOUT_NAME.values() for what in ("base", "stride")}
    return data.StructLayout({**fields, "n_keys": count_width})


class PlaneFetcher(wiring.Component):
    """Plane rows of one KV head of design `cfg` (its dim, bits, msb_bits, max_keys; its bus's width, address
    width, outstanding bursts and master). `max_room`: the most MSB rows the consumer offers (None: any)."""

    def __init__(self, cfg: LatteConfig, *, stream_v: bool = False, stream_k: bool = False,
                 max_room: int | None = None):
        spec, self.cfg, self.bus = cfg.decode_spec(), cfg, cfg.bus
        data_width, index_width = 8 * spec.bus_bytes, spec.index_width
        self.beats = {kind: spec.row_beats(kind.name.lower()) for kind in PlaneKind}   # golden.decode.row_beats
        self.data_width, self.addr_width, self.index_width = data_width, spec.addr_width, index_width
        self.max_outstanding, self.max_burst = cfg.decode.axi_outstanding, self.bus.max_burst
        # the most MSB rows the consumer ever offers on msb_room (its FIFO depth; may exceed max_keys)
        self.max_room = (1 << (index_width + 1)) - 1 if max_room is None else max_room
        self.row_width = max(self.beats.values()) * data_width
        k_beats = max(self.beats[PlaneKind.K_MSB], self.beats[PlaneKind.K_LSB]) if stream_k else \
            self.beats[PlaneKind.K_MSB]
        # rows per packed request: a burst's worth, at most the credit the consumer can ever give
        self.msb_chunk = max(1, min(min(self.max_burst, 255) // k_beats, self.max_room))
        self.stream_k = stream_k
        # stream_v (the dense twin, whose V fetches are 0, 1, …, N-1): a V fetch asks for up to v_chunk
        # consecutive rows when the V plane is packed; the fetches of rows already asked for are absorbed
        self.stream_v = stream_v
        self.v_chunk = max(1, min(self.max_burst, 255) // self.beats[PlaneKind.V]) if stream_v else 1
        index = data.StructLayout({"plane": PlaneKind, "index": index_width})
        super().__init__({
            "layout": In(layout_registers(self.addr_width, index_width + 1)),
            "start": In(stream.Signature(1)),          # payload ignored
            "fetch": In(stream.Signature(index)),
            "rows": Out(stream.Signature(data.StructLayout({"plane": PlaneKind, "index": index_width,
                                                             "data": self.row_width}))),
            self.bus.port: Out(self.bus.signature(cfg)),
            "bytes_read": Out(data.StructLayout({p.name.lower(): BYTES_COUNTER_BITS for p in PlaneKind})),
            "busy": Out(1),
            # MSB rows the consumer can still take without stalling (a credit: an MSB row is asked
            # for only while fewer are in flight, so an in-order LSB row never waits behind one)
            "msb_room": In(range(self.max_room + 1), init=self.max_room),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.master = master = self.bus.master(self.cfg)
        port = self.bus.port
        wiring.connect(m, wiring.flipped(getattr(self, port)), getattr(master, port))
        tag_layout = data.StructLayout({"plane": PlaneKind, "index": self.index_width,
                                        "rows": range(max(self.msb_chunk, self.v_chunk) + 1)})
        m.submodules.tags = tags = SyncFIFO(width=tag_layout.size, depth=self.max_outstanding + 2)
        self._requests(m, master, tags, tag_layout)
        self._responses(m, master, tags, tag_layout)
        return m

    def _requests(self, m, master, tags, tag_layout):
        """MSB pass (running address) and indexed LSB / V fetches (base + index stride) onto `master.req`."""
        lay = self.layout
        msb_next = Signal(self.index_width + 1)          # next MSB row; == n_keys when the pass is done
        v_end = Signal(self.index_width + 1)             # stream_v: V rows below this are asked for already
        msb_addr = Signal(self.addr_width, reset_less=True)
        passing = Signal()
        # stream_k: the LSB request owed for the MSB request just sent (rows, first index, address)
        lsb_due = Signal(range(self.msb_chunk + 1)) if self.stream_k else C(0, 1)
        if self.stream_k:
            lsb_index, lsb_addr = Signal(self.index_width), Signal(self.addr_width, reset_less=True)
        m.d.comb += self.start.ready.eq(~passing & (lsb_due == 0))
        with m.If(self.start.valid & self.start.ready):
            m.d.sync += [passing.eq(1), msb_next.eq(0), msb_addr.eq(lay.base_msb), v_end.eq(0)]
            if self.stream_k:
                m.d.sync += lsb_addr.eq(lay.base_lsb)
            m.d.sync += [self.bytes_read[p.name.lower()].eq(0) for p in PlaneKind]   # per pass
        fetch, addressing = self._fetch_addresses(m)
        tag = Signal(tag_layout)
        send = Signal()
        m.d.comb += [master.req.valid.eq(0), tags.w_data.eq(tag), tags.w_en.eq(send),
                     send.eq(master.req.valid & master.req.ready)]
        msb_inflight = Signal(self.index_width + 1)
        msb_out = Signal()
        m.d.comb += msb_out.eq(self.rows.valid & self.rows.ready & (self.rows.payload.plane == PlaneKind.K_MSB))
        msb_sent = Signal()
        # the next MSB request's rows, registered: computed from the state of the cycle before (only this
        # block's own requests lower the credit, so it is stale only after one, `fresh` low)
        chunk, fresh = Signal(range(self.msb_chunk + 1), name="msb_chunk"), Signal(name="msb_chunk_fresh")
        m.d.sync += [chunk.eq(self._msb_chunk(m, msb_next, msb_inflight)),
                     fresh.eq(~msb_sent & ~(self.start.valid & self.start.ready))]
        with m.If(msb_sent):         # msb_sent comes late (the master's ready): it only picks the result
            m.d.sync += msb_inflight.eq(msb_inflight + chunk - msb_out)
        with m.Else():
            m.d.sync += msb_inflight.eq(msb_inflight - msb_out)
        fetch_go, msb_go, lsb_go, absorb = Signal(), Signal(), Signal(), Signal()
        v_rows = self._v_rows(m, v_end, fetch.payload.index)
        # msb_sent is a plain expression (not set inside an If): an event-driven simulator then has it
        # defined from time 0, and the counter it feeds never picks up an X
        if self.stream_v:
            m.d.comb += absorb.eq(fetch.valid & (fetch.payload.plane == PlaneKind.V) & (fetch.payload.index < v_end))
        with m.If(absorb):
            m.d.comb += fetch.ready.eq(1)
        m.d.comb += [fetch_go.eq(fetch.valid & ~absorb & tags.w_rdy),
                     lsb_go.eq((lsb_due != 0) & tags.w_rdy),
                     msb_go.eq(passing & fresh & (chunk != 0) & (lsb_due == 0) & tags.w_rdy),
                     msb_sent.eq(~fetch_go & msb_go & master.req.ready)]
        with m.If(fetch_go):
            plane, index = fetch.payload.plane, fetch.payload.index
            m.d.comb += [master.req.valid.eq(1), tag.plane.eq(plane), tag.index.eq(index), tag.rows.eq(1),
                         master.req.payload.addr.eq(fetch.payload.addr), fetch.ready.eq(master.req.ready)]
            with m.If(plane == PlaneKind.V):
                m.d.comb += [tag.rows.eq(v_rows), master.req.payload.beats.eq(v_rows * self.beats[PlaneKind.V])]
                with m.If(master.req.ready):
                    m.d.sync += v_end.eq(index + v_rows)
            with m.Else():
                m.d.comb += master.req.payload.beats.eq(self.beats[PlaneKind.K_LSB])
        if self.stream_k:
            with m.Elif(lsb_go):
                m.d.comb += [master.req.valid.eq(1), tag.plane.eq(PlaneKind.K_LSB), tag.index.eq(lsb_index),
                             tag.rows.eq(lsb_due), master.req.payload.addr.eq(lsb_addr),
                             master.req.payload.beats.eq(lsb_due * self.beats[PlaneKind.K_LSB])]
                with m.If(master.req.ready):
                    m.d.sync += [lsb_due.eq(0), lsb_addr.eq(lsb_addr + self._advance(lsb_due, PlaneKind.K_LSB))]
        with m.Elif(msb_go):
            m.d.comb += [master.req.valid.eq(1), tag.plane.eq(PlaneKind.K_MSB), tag.index.eq(msb_next),
                         tag.rows.eq(chunk), master.req.payload.addr.eq(msb_addr),
                         master.req.payload.beats.eq(chunk * self.beats[PlaneKind.K_MSB])]
            with m.If(master.req.ready):
                m.d.sync += [msb_next.eq(msb_next + chunk),
                             msb_addr.eq(msb_addr + self._advance(chunk, PlaneKind.K_MSB))]
                if self.stream_k:
                    m.d.sync += [lsb_due.eq(chunk), lsb_index.eq(msb_next)]
        with m.If(passing & (msb_next >= lay.n_keys)):
            m.d.sync += passing.eq(0)
        m.d.comb += self.busy.eq(passing | (lsb_due != 0) | tags.r_rdy | addressing[0] | addressing[1] | addressing[2])

    def _packed(self, plane: PlaneKind):
        """Whether `plane`'s rows are back to back (stride = its row's beats times the bus width in bytes)."""
        return self._stride(plane) == self.beats[plane] * (self.data_width // 8)

    def _stride(self, plane: PlaneKind):
        return getattr(self.layout, f"stride_{_LAYOUT_NAME[plane]}")

    def _advance(self, rows, plane: PlaneKind):
        """The address step past a request of `rows` consecutive rows of `plane`: rows times the packed row
        size (a constant) when packed, else its stride (a request is then one row)."""
        return Mux(self._packed(plane), rows * (self.beats[plane] * (self.data_width // 8)), self._stride(plane))

    def _fetch_addresses(self, m):
        """`fetch` through three register stages, the request as asked (a skid buffer: `fetch.ready` does not
        wait on the master's), index × stride, then + base, so neither the multiplier nor the adder shares a
        cycle with the request logic or the asker's FIFO.
        Returns the last stage's output (plane, index, addr)."""
        lay, addr = self.layout, self.addr_width
        head = {"plane": PlaneKind, "index": self.index_width}
        m.submodules.fetch_asked = asked = SkidRegister(data.StructLayout(head))     # `fetch.ready`: a flip-flop
        m.submodules.fetch_offset = offset = PipeRegister(data.StructLayout({**head, "offset": addr}))
        m.submodules.fetch_address = address = PipeRegister(data.StructLayout({**head, "addr": addr}))
        wiring.connect(m, wiring.flipped(self.fetch), asked.i)
        a, o = asked.o.payload, offset.o.payload
        m.d.comb += [offset.i.valid.eq(asked.o.valid), asked.o.ready.eq(offset.i.ready),
                     offset.i.payload.plane.eq(a.plane), offset.i.payload.index.eq(a.index),
                     offset.i.payload.offset.eq(a.index * Mux(a.plane == PlaneKind.V, lay.stride_v, lay.stride_lsb)),
                     address.i.valid.eq(offset.o.valid), offset.o.ready.eq(address.i.ready),
                     address.i.payload.plane.eq(o.plane), address.i.payload.index.eq(o.index),
                     address.i.payload.addr.eq(Mux(o.plane == PlaneKind.V, lay.base_v, lay.base_lsb) + o.offset)]
        return address.o, [asked.o.valid, offset.o.valid, address.o.valid]

    def _v_rows(self, m, v_end, index):
        """Rows a V request at key `index` asks for: min(v_chunk if packed else 1, n_keys - index), at least 1."""
        lay = self.layout
        rows = Signal(range(self.v_chunk + 1))
        if not self.stream_v:
            m.d.comb += rows.eq(1)
            return rows
        left = Signal(self.index_width + 1)
        packed = self._packed(PlaneKind.V)
        m.d.comb += left.eq(Mux(index < lay.n_keys, lay.n_keys - index, 1))
        m.d.comb += rows.eq(Mux(packed & (left > 1), Mux(left < self.v_chunk, left, self.v_chunk), 1))
        return rows

    def _msb_chunk(self, m, msb_next, msb_inflight):
        """MSB rows the next MSB request asks for: min(rows left, msb_chunk if packed else 1; with stream_k
        packed means both K planes) and the credit left, once that credit covers half of it (else 0)."""
        lay = self.layout
        packed = self._packed(PlaneKind.K_MSB)
        if self.stream_k:            # the LSB request of the same rows must be one burst too
            packed &= self._packed(PlaneKind.K_LSB)
        left = Signal(self.index_width + 1)
        credit = Signal(range(self.max_room + 1))
        cap = Signal(range(self.msb_chunk + 1))
        m.d.comb += [left.eq(Mux(msb_next < lay.n_keys, lay.n_keys - msb_next, 0)),
                     credit.eq(Mux(msb_inflight < self.msb_room, self.msb_room - msb_inflight, 0)),
                     cap.eq(Mux(packed, self.msb_chunk, 1))]
        want, least = Signal(range(self.msb_chunk + 1)), Signal(range(self.msb_chunk + 1))
        chunk = Signal(range(self.msb_chunk + 1))
        # at least half a request: asking as credit trickles back would cut the pass into one-row bursts,
        # each paying the latency, exactly when the credit is what limits it
        half = (self.msb_chunk + 1) // 2
        m.d.comb += [want.eq(Mux(left < cap, left, cap)), least.eq(Mux(want < half, want, half)),
                     chunk.eq(Mux(credit >= least, Mux(credit < want, credit, want), 0))]
        return chunk

    def _responses(self, m, master, tags, tag_layout):
        """Beats into a row register; the whole row out on `rows` with its tag; bytes counted per plane."""
        row = Signal(self.row_width, reset_less=True)
        beat = Signal(range(max(self.beats.values()) + 1))
        head = Signal(tag_layout)
        full = Signal()
        take = Signal()
        row_end = Signal()
        done = Signal(range(max(self.msb_chunk, self.v_chunk) + 1))       # rows of the head request already out
        m.d.comb += row_end.eq(beat == Mux(head.plane == PlaneKind.K_MSB, self.beats[PlaneKind.K_MSB] - 1,
                                           Mux(head.plane == PlaneKind.V, self.beats[PlaneKind.V] - 1,
                                               self.beats[PlaneKind.K_LSB] - 1)))
        m.d.comb += [head.eq(tags.r_data), master.resp.ready.eq(~full | self.rows.ready),
                     take.eq(master.resp.valid & master.resp.ready),
                     self.rows.valid.eq(full), self.rows.payload.data.eq(row)]
        out_tag = Signal(tag_layout)          # reset: the plane decides `ready` before the first row
        m.d.comb += [self.rows.payload.plane.eq(out_tag.plane), self.rows.payload.index.eq(out_tag.index)]
        with m.If(self.rows.valid & self.rows.ready):      # valid first: the tag is unknown until a row came
            m.d.sync += full.eq(0)
        with m.If(take):
            m.d.sync += beat.eq(beat + 1)
            for i in range(self.row_width // self.data_width):     # an If per beat: no partial case for lint
                with m.If(beat == i):
                    m.d.sync += row[i * self.data_width:(i + 1) * self.data_width].eq(master.resp.payload.data)
            for plane in PlaneKind:
                with m.If(head.plane == plane):
                    counter = self.bytes_read[plane.name.lower()]
                    m.d.sync += counter.eq(counter + self.data_width // 8)
            with m.If(row_end):
                m.d.sync += [beat.eq(0), full.eq(1), out_tag.plane.eq(head.plane),
                             out_tag.index.eq(head.index + done), done.eq(done + 1)]
            with m.If(master.resp.payload.last):
                m.d.sync += done.eq(0)
                m.d.comb += tags.r_en.eq(1)
