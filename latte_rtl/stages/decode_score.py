"""The score half of a LATTE decode step from external memory (docs/spec.md §9, absolute thresholds):
the G query rows of one KV head against N keys read through `PlaneFetcher`.

Each MSB row gives every query row g its HH_g = q_H·k_H (and LH_g = q_L·k_H, kept so the MSB row need
not be read again) and its estimate E_g (HH_g, or the centred 2^(l+1)·HH_g + (2^l − 1)·(Q_g + S), Q_g = Σ q_H
of row g summed as q is written, S = Σ k_H of the MSB row); g keeps the key iff E_g >= T_g (or the key is
a sink, j < sink_keys, or in the window, j >= N − window_keys) and fewer than `kept_buffer` keys are kept yet
(the overflow rule of `golden.decode`). A key some g keeps has its LSB row fetched once for the group; then
HL_g, LL_g and the exact score (HH << 2l) + ((HL + LH) << l) + LL go out on `scores` (index, the kept
mask, G scores), index ascending. After the last key, `record` gives kept_count and overflow per row and
the bytes read per plane. One row per cycle: the dot products are `dim` lanes wide, unpipelined here.

`probe` high for a whole pass keeps nothing and only takes `hh_max` (max E_g over every key, valid from
the record on): the first of the two MSB passes of relative thresholds. `v_fetch` (key index) asks the
same fetcher for a V row once the score half is done (the decode top's P·V walk); the row comes back on
`v_rows` and its bytes count in the fetcher's `bytes_read`.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..config import LatteConfig, derive_score
from ..hw.dot import adder_tree, centred_estimate
from .decode_fetch import BYTES_COUNTER_BITS, PlaneFetcher, PlaneKind, layout_registers


class DecodeScoreStage(wiring.Component):
    """The G query rows (`group`) of design `cfg` against N < 2^index_width keys of dim elements of `bits`
    (m = msb_bits) through its bus; `pending` MSB rows in flight at most. `dense` (the dense twin): every key
    kept (no buffer limit), V rows asked for in runs."""

    def __init__(self, cfg: LatteConfig, *, pending: int, dense: bool = False):
        spec = cfg.decode_spec()
        dim, group, bits, index_width, bus = spec.dim, cfg.decode.group, spec.bits, spec.index_width, cfg.bus
        self.dim, self.group, self.bits, self.m, self.l = dim, group, bits, spec.msb_bits, spec.lsb_bits
        self.kept_buffer = spec.max_keys if dense else spec.kept_buffer
        self.pending, self.index_width, self.bus_port = pending, index_width, bus.port
        # HH >= T_g in absolute form whatever the mode (the top turns relative thresholds into absolute ones)
        self.widths = derive_score(bits, spec.msb_bits, dim, dim, 1, 1 << index_width, "absolute",
                                   estimate=spec.estimate)
        self.spec = spec
        estimate_width = self.widths.estimate_width if spec.estimate == "centred" else self.widths.hh_width
        self.dense = dense
        self.fetcher = PlaneFetcher(cfg, stream_v=dense, stream_k=dense, max_room=pending)
        count = index_width + 1
        score = signed(self.widths.score_width)
        super().__init__({
            "layout": In(layout_registers(spec.addr_width, count)),
            "thresholds": In(data.ArrayLayout(signed(self.widths.threshold_width), group)),
            "q": In(stream.Signature(data.StructLayout({"row": range(group), "data": dim * bits}))),
            "start": In(stream.Signature(1)),          # payload ignored
            "scores": Out(stream.Signature(data.StructLayout({
                "index": index_width, "kept": group, "score": data.ArrayLayout(score, group)}))),
            "record": Out(stream.Signature(data.StructLayout({
                "kept_count": data.ArrayLayout(count, group), "overflow": data.ArrayLayout(count, group),
                "bytes_read": data.StructLayout({p.name.lower(): BYTES_COUNTER_BITS for p in PlaneKind})}))),
            bus.port: Out(bus.signature(cfg)),
            "probe": In(1),
            "hh_max": Out(data.ArrayLayout(signed(estimate_width), group)),  # the max estimate E_g
            "v_fetch": In(stream.Signature(index_width)),
            "v_rows": Out(stream.Signature(self.fetcher.row_width)),
        })

    def _fields(self, word, width, is_signed):
        return [(word[i * width:(i + 1) * width].as_signed() if is_signed else word[i * width:(i + 1) * width])
                for i in range(self.dim)]

    def _dot(self, a, b):
        return adder_tree(x * y for x, y in zip(a, b))

    def elaborate(self, platform):
        m = Module()
        m.submodules.fetcher = fetch = self.fetcher
        wiring.connect(m, wiring.flipped(getattr(self, self.bus_port)), getattr(fetch, self.bus_port))
        m.d.comb += fetch.layout.eq(self.layout)
        qs = [Signal(self.dim * self.bits, name=f"q_{g}", reset_less=True) for g in range(self.group)]
        with m.If(self.q.valid):
            for g in range(self.group):
                with m.If(self.q.payload.row == g):
                    m.d.sync += qs[g].eq(self.q.payload.data)
        m.d.comb += self.q.ready.eq(1)
        q_full = [self._fields(q, self.bits, True) for q in qs]
        q_h = [[x >> self.l for x in q] for q in q_full]
        q_l = [[x[:self.l] for x in q] for q in q_full]
        row = fetch.rows.payload
        k_h = self._fields(row.data, self.m, True)
        k_l = self._fields(row.data, self.l, False)
        entry = data.StructLayout({"index": self.index_width, "kept": self.group,
                                   "hh": data.ArrayLayout(signed(self.widths.hh_width), self.group),
                                   "lh": data.ArrayLayout(signed(self.widths.lh_width), self.group)})
        m.submodules.waiting = waiting = SyncFIFO(width=entry.size, depth=self.pending)
        m.d.comb += fetch.msb_room.eq(self.pending - waiting.level)
        asks = self._lsb_asks(m, fetch)
        counts = [Signal(self.index_width + 1, name=f"kept_{g}") for g in range(self.group)]
        overflow = [Signal(self.index_width + 1, name=f"overflow_{g}") for g in range(self.group)]
        new = Signal(entry)
        is_msb = row.plane == PlaneKind.K_MSB
        estimates = self._estimates(m, q_h, k_h)
        always = self._always_kept(row.index)
        for g in range(self.group):
            passes, keep = Signal(name=f"passes_{g}"), Signal(name=f"keep_{g}")
            hh = Signal(signed(self.widths.hh_width), name=f"hh_{g}")
            est = estimates(g, hh)
            above = est >= self.thresholds[g]
            m.d.comb += [hh.eq(self._dot(q_h[g], k_h)), new.hh[g].eq(hh), new.lh[g].eq(self._dot(q_l[g], k_h)),
                         passes.eq((above if always is None else above | always) & ~self.probe),
                         keep.eq(passes & (counts[g] < self.kept_buffer)),
                         new.kept[g].eq(keep)]
            with m.If(fetch.rows.valid & is_msb & fetch.rows.ready):
                m.d.sync += [counts[g].eq(counts[g] + keep), overflow[g].eq(overflow[g] + (passes & ~keep))]
                with m.If(est > self.hh_max[g]):
                    m.d.sync += self.hh_max[g].eq(est)
        m.d.comb += [new.index.eq(row.index), waiting.w_data.eq(new)]
        head = Signal(entry)
        m.d.comb += head.eq(waiting.r_data)
        is_v = row.plane == PlaneKind.V
        msb_row = fetch.rows.valid & is_msb                  # plane is unknown until valid
        lsb_row = fetch.rows.valid & ~is_msb & ~is_v
        room = waiting.w_rdy if asks is None else waiting.w_rdy & asks.w_rdy
        if asks is not None:
            m.d.comb += [asks.w_en.eq(waiting.w_en), asks.w_data.eq(row.index)]
        m.d.comb += [fetch.rows.ready.eq(Mux(is_msb, room, Mux(is_v, self.v_rows.ready, self.scores.ready))),
                     self.v_rows.valid.eq(fetch.rows.valid & is_v), self.v_rows.payload.eq(row.data),
                     waiting.w_en.eq(msb_row & fetch.rows.ready & new.kept.any()),
                     self.scores.valid.eq(lsb_row), waiting.r_en.eq(lsb_row & self.scores.ready)]
        m.d.comb += [self.scores.payload.index.eq(head.index), self.scores.payload.kept.eq(head.kept)]
        for g in range(self.group):
            hl, ll = self._dot(q_h[g], k_l), self._dot(q_l[g], k_l)
            m.d.comb += self.scores.payload.score[g].eq(
                (head.hh[g] << 2 * self.l) + ((hl + head.lh[g]) << self.l) + ll)
        self._control(m, fetch, waiting, counts, overflow, is_msb)
        return m

    def _lsb_asks(self, m, fetch):
        """The fetcher's `fetch` port: LSB rows of kept keys (a FIFO of their indices, returned; LATTE) before
        the V rows the walk asks for. The dense twin's fetcher streams the LSB plane itself (`stream_k`): None."""
        if self.dense:
            m.d.comb += [fetch.fetch.valid.eq(self.v_fetch.valid), fetch.fetch.payload.plane.eq(PlaneKind.V),
                         fetch.fetch.payload.index.eq(self.v_fetch.payload), self.v_fetch.ready.eq(fetch.fetch.ready)]
            return None
        m.submodules.asks = asks = SyncFIFO(width=self.index_width, depth=self.pending)
        m.d.comb += [fetch.fetch.valid.eq(asks.r_rdy | self.v_fetch.valid),
                     fetch.fetch.payload.plane.eq(Mux(asks.r_rdy, PlaneKind.K_LSB, PlaneKind.V)),
                     fetch.fetch.payload.index.eq(Mux(asks.r_rdy, asks.r_data, self.v_fetch.payload)),
                     asks.r_en.eq(fetch.fetch.ready), self.v_fetch.ready.eq(~asks.r_rdy & fetch.fetch.ready)]
        return asks

    def _estimates(self, m, q_h, k_h):
        """`estimate(g, hh)`: E_g of the MSB row now fetched: HH_g itself, or the centred E_g (Q_g, Σ q_H of
        row g, is summed into a register as q is written; S = Σ k_H of the row, one adder tree for the group)."""
        if self.spec.estimate != "centred":
            return lambda g, hh: hh
        width = self.widths.operand_sum_width
        q_sums = [Signal(signed(width), name=f"q_sum_{g}", reset_less=True) for g in range(self.group)]
        q_in = [x >> self.l for x in self._fields(self.q.payload.data, self.bits, True)]
        with m.If(self.q.valid):
            for g in range(self.group):
                with m.If(self.q.payload.row == g):
                    m.d.sync += q_sums[g].eq(adder_tree(q_in))
        k_sum = Signal(signed(width))
        m.d.comb += k_sum.eq(adder_tree(k_h))

        def estimate(g, hh):
            e = Signal(signed(self.widths.estimate_width), name=f"estimate_{g}")
            m.d.comb += e.eq(centred_estimate(hh, q_sums[g] + k_sum, self.l))
            return e
        return estimate

    def _always_kept(self, index):
        """Whether key `index` is kept whatever its estimate: a sink (j < sink_keys) or in the window
        (j >= N − window_keys); None without either (no logic)."""
        rules = ([index < self.spec.sink_keys] if self.spec.sink_keys else []) + \
            ([index + self.spec.window_keys >= self.layout.n_keys] if self.spec.window_keys else [])
        return None if not rules else rules[0] if len(rules) == 1 else rules[0] | rules[1]

    def _control(self, m, fetch, waiting, counts, overflow, is_msb):
        """start -> MSB pass; record once every MSB row is in and no LSB row waits."""
        running, seen = Signal(), Signal(self.index_width + 1)
        m.d.comb += [fetch.start.valid.eq(self.start.valid & ~running),
                     self.start.ready.eq(fetch.start.ready & ~running)]
        with m.If(self.start.valid & self.start.ready):
            m.d.sync += [running.eq(1), seen.eq(0)] + [c.eq(0) for c in counts] + [o.eq(0) for o in overflow]
            m.d.sync += [self.hh_max[g].eq(-(1 << (len(self.hh_max[g]) - 1))) for g in range(self.group)]
        with m.If(fetch.rows.valid & fetch.rows.ready & is_msb):
            m.d.sync += seen.eq(seen + 1)
        m.d.comb += [self.record.valid.eq(running & (seen == self.layout.n_keys) & ~waiting.r_rdy & ~fetch.busy),
                     self.record.payload.bytes_read.eq(fetch.bytes_read)]
        for g in range(self.group):
            m.d.comb += [self.record.payload.kept_count[g].eq(counts[g]),
                         self.record.payload.overflow[g].eq(overflow[g])]
        with m.If(self.record.valid & self.record.ready):
            m.d.sync += running.eq(0)
