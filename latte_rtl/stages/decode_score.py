"""The score half of a LATTE decode step from external memory (docs/spec.md §9, absolute thresholds):
the G query rows of one KV head against N keys read through `PlaneFetcher`.

Each MSB row gives every query row g its HH_g = q_H·k_H (and LH_g = q_L·k_H, kept so the MSB row need
not be read again) and its estimate E_g (HH_g, or the centred 2^(l+1)·HH_g + (2^l − 1)·(Q_g + S), Q_g = Σ q_H
of row g summed as q is written, S = Σ k_H of the MSB row); g keeps the key iff E_g >= T_g (or the key is
a sink, j < sink_keys, or in the window, j >= N − window_keys) and fewer than `kept_buffer` keys are kept yet
(the overflow rule of `golden.decode`). A key some g keeps has its LSB row fetched once for the group; then
HL_g, LL_g and the exact score (HH << 2l) + ((HL + LH) << l) + LL go out on `scores` (index, the kept
mask, G scores), index ascending. After the last key, `record` gives kept_count and overflow per row and
the bytes read per plane. One row per cycle through four register stages (timing closure: no clock cycle
holds the plane's select and a multiplier, a multiplier and a whole `dim`-lane adder tree, nor a tree and the
filter or the recombination): the row's k fields, the lane products summed in groups of `PARTIAL_LANES`, the
group sums (the filter then decides an MSB row), the exact score of an LSB row on `scores`. The FIFO of kept
keys waiting for their LSB row is buffered (its head is a register); the MSB credit counts the rows inside.

`probe` high for a whole pass keeps nothing and only takes `hh_max` (max E_g over every key, valid from
the record on): the first of the two MSB passes of relative thresholds. `v_fetch` (key index) asks the
same fetcher for a V row once the score half is done (the decode top's P·V walk); the row comes back on
`v_rows` and its bytes count in the fetcher's `bytes_read`.
"""

from __future__ import annotations

import typing

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..config import LatteConfig, derive_score
from ..hw.dot import adder_tree, centred_estimate
from ..hw.streams import PipeRegister
from .decode_fetch import BYTES_COUNTER_BITS, PlaneFetcher, PlaneKind, layout_registers

PARTIAL_LANES = 8       # lanes summed before the first register of the dot products


class _Dots(typing.NamedTuple):
    valid: Signal
    token: data.View    # msb, index, a, b (per query row), k (Σ k)
    ready: Signal
    msb_inside: Signal


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
        dots = self._dots(m, fetch, qs)
        entry = data.StructLayout({"index": self.index_width, "kept": self.group,
                                   "hh": data.ArrayLayout(signed(self.widths.hh_width), self.group),
                                   "lh": data.ArrayLayout(signed(self.widths.lh_width), self.group)})
        # buffered: the head entry comes from a register (the recombination's adders follow it)
        m.submodules.waiting = waiting = SyncFIFOBuffered(width=entry.size, depth=self.pending)
        # the credit counts the MSB rows between the fetcher and the FIFO: each may take a slot
        m.d.comb += fetch.msb_room.eq(self.pending - waiting.level - dots.msb_inside)
        asks = self._lsb_asks(m, fetch)
        room = waiting.w_rdy if asks is None else waiting.w_rdy & asks.w_rdy
        out = self._exact_scores(m, dots.token, waiting.r_data, entry)
        token, msb = dots.token, dots.token.msb
        new, decided = Signal(entry), Signal()
        # an LSB row's entry reaches the FIFO's output a cycle after it is written (the dense twin's LSB row
        # may follow its MSB row that closely)
        m.d.comb += [dots.ready.eq(Mux(msb, room, out.i.ready & waiting.r_rdy)), decided.eq(dots.valid & msb & room),
                     new.index.eq(token.index), waiting.w_data.eq(new),
                     waiting.w_en.eq(decided & new.kept.any()), out.i.valid.eq(dots.valid & ~msb & waiting.r_rdy),
                     waiting.r_en.eq(dots.valid & ~msb & out.i.ready)]
        m.d.comb += [new.hh[g].eq(token.a[g]) for g in range(self.group)]
        m.d.comb += [new.lh[g].eq(token.b[g]) for g in range(self.group)]
        if asks is not None:
            m.d.comb += [asks.w_en.eq(waiting.w_en), asks.w_data.eq(token.index)]
        counts = [Signal(self.index_width + 1, name=f"kept_{g}") for g in range(self.group)]
        overflow = [Signal(self.index_width + 1, name=f"overflow_{g}") for g in range(self.group)]
        self._filter(m, token, decided, new.kept, counts, overflow)
        self._control(m, fetch, waiting, counts, overflow, decided, out.o.valid)
        return m

    def _dots(self, m, fetch, qs):
        """K rows (V rows go straight to `v_rows`) through three register stages: k, the row's dim fields
        (the MSB row's signed m-bit ones or the LSB row's unsigned l-bit ones, so one pair of dot products per
        query row serves both planes; the plane's select fans out to every lane, alone in its cycle); the lane
        products of q_H·k and q_L·k summed in groups of `PARTIAL_LANES`; the group sums: `a` (HH of an MSB row,
        HL of an LSB row), `b` (LH, LL) and Σ k (the centred estimate's S). Returns the last stage (valid,
        token, ready to drive) and the MSB rows inside (0..3)."""
        row = fetch.rows.payload
        is_v = row.plane == PlaneKind.V
        head = {"msb": 1, "index": self.index_width}
        fields = zip(self._fields(row.data, self.m, True), self._fields(row.data, self.l, False))
        k_in = [Mux(row.plane == PlaneKind.K_LSB, lo, h) for h, lo in fields]
        m.submodules.fields = fields_stage = PipeRegister(data.StructLayout(
            {**head, "k": data.ArrayLayout(k_in[0].shape(), self.dim)}))
        f = fields_stage.i.payload
        m.d.comb += [fields_stage.i.valid.eq(fetch.rows.valid & ~is_v), f.msb.eq(row.plane == PlaneKind.K_MSB),
                     f.index.eq(row.index), fetch.rows.ready.eq(Mux(is_v, self.v_rows.ready, fields_stage.i.ready)),
                     self.v_rows.valid.eq(fetch.rows.valid & is_v), self.v_rows.payload.eq(row.data)]
        m.d.comb += [f.k[i].eq(x) for i, x in enumerate(k_in)]
        products = self._group_sums(m, fields_stage.o, qs)
        sums_layout = data.StructLayout({
            **head, "a": data.ArrayLayout(signed(max(self.widths.hh_width, self.widths.hl_width)), self.group),
            "b": data.ArrayLayout(signed(max(self.widths.lh_width, self.widths.ll_width)), self.group),
            "k": signed(self.widths.operand_sum_width)})
        m.submodules.sums = sums = PipeRegister(sums_layout)
        part, s = products.o.payload, sums.i.payload
        m.d.comb += [sums.i.valid.eq(products.o.valid), products.o.ready.eq(sums.i.ready),
                     s.msb.eq(part.msb), s.index.eq(part.index), s.k.eq(adder_tree(part.k))]
        for name in ("a", "b"):
            m.d.comb += [s[name][g].eq(adder_tree(part[name][g])) for g in range(self.group)]
        stages = (fields_stage.o, products.o, sums.o)
        msb_inside = Signal(2)
        m.d.comb += msb_inside.eq(sum(o.valid & o.payload.msb for o in stages))
        return _Dots(sums.o.valid, sums.o.payload, sums.o.ready, msb_inside)

    def _group_sums(self, m, fields, qs):
        """The register stage of the lane products summed in groups of `PARTIAL_LANES`, fed by `fields`."""
        q_full = [self._fields(q, self.bits, True) for q in qs]
        q_h, q_l = [[x >> self.l for x in q] for q in q_full], [[x[:self.l] for x in q] for q in q_full]
        k = fields.payload.k
        groups = [range(i, min(i + PARTIAL_LANES, self.dim)) for i in range(0, self.dim, PARTIAL_LANES)]
        parts = {name: [[adder_tree(q[g][i] * k[i] for i in lanes) for lanes in groups] for g in range(self.group)]
                 for name, q in (("a", q_h), ("b", q_l))}
        k_parts = [adder_tree(k[i] for i in lanes) for lanes in groups]

        def per_group(shape):
            return data.ArrayLayout(shape, len(groups))
        m.submodules.products = products = PipeRegister(data.StructLayout({
            "msb": 1, "index": self.index_width, "k": per_group(k_parts[0].shape()),
            **{name: data.ArrayLayout(per_group(parts[name][0][0].shape()), self.group) for name in parts}}))
        p = products.i.payload
        m.d.comb += [products.i.valid.eq(fields.valid), fields.ready.eq(products.i.ready),
                     p.msb.eq(fields.payload.msb), p.index.eq(fields.payload.index)]
        m.d.comb += [p.k[j].eq(x) for j, x in enumerate(k_parts)]
        for name in parts:
            m.d.comb += [p[name][g][j].eq(x) for g in range(self.group) for j, x in enumerate(parts[name][g])]
        return products

    def _exact_scores(self, m, token, head, entry):
        """The exact scores of the LSB row on the token, (HH << 2l) + ((HL + LH) << l) + LL with HH, LH of
        the FIFO's head entry, into a register stage whose output is `scores`; returns that stage."""
        m.submodules.exact = out = PipeRegister(self.scores.payload.shape())
        first = Signal(entry)
        m.d.comb += [first.eq(head), out.i.payload.index.eq(first.index), out.i.payload.kept.eq(first.kept)]
        for g in range(self.group):
            m.d.comb += out.i.payload.score[g].eq(
                (first.hh[g] << 2 * self.l) + ((token.a[g] + first.lh[g]) << self.l) + token.b[g])
        wiring.connect(m, out.o, wiring.flipped(self.scores))
        return out

    def _filter(self, m, token, decided, kept, counts, overflow):
        """The decision on the MSB row of the token: g keeps it iff E_g >= T_g (or it is always kept) while
        fewer than `kept_buffer` are kept; per row the kept and overflow counts and the max estimate."""
        estimates = self._estimates(m, token.k)
        always = self._always_kept(token.index)
        for g in range(self.group):
            passes = Signal(name=f"passes_{g}")
            est = estimates(g, token.a[g])
            above = est >= self.thresholds[g]
            m.d.comb += [passes.eq((above if always is None else above | always) & ~self.probe),
                         kept[g].eq(passes & (counts[g] < self.kept_buffer))]
            with m.If(decided):
                m.d.sync += [counts[g].eq(counts[g] + kept[g]), overflow[g].eq(overflow[g] + (passes & ~kept[g]))]
                with m.If(est > self.hh_max[g]):
                    m.d.sync += self.hh_max[g].eq(est)

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

    def _estimates(self, m, k_sum):
        """`estimate(g, hh)`: E_g of the MSB row on the last dot stage: HH_g itself, or the centred E_g (Q_g,
        Σ q_H of row g, is summed into a register as q is written; S = `k_sum`, Σ k_H of the row)."""
        if self.spec.estimate != "centred":
            return lambda g, hh: hh
        width = self.widths.operand_sum_width
        q_sums = [Signal(signed(width), name=f"q_sum_{g}", reset_less=True) for g in range(self.group)]
        q_in = [x >> self.l for x in self._fields(self.q.payload.data, self.bits, True)]
        with m.If(self.q.valid):
            for g in range(self.group):
                with m.If(self.q.payload.row == g):
                    m.d.sync += q_sums[g].eq(adder_tree(q_in))

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

    def _control(self, m, fetch, waiting, counts, overflow, decided, scoring):
        """start -> MSB pass; record once every MSB row is decided and no LSB row waits or is on `scores`."""
        running, seen = Signal(), Signal(self.index_width + 1)
        m.d.comb += [fetch.start.valid.eq(self.start.valid & ~running),
                     self.start.ready.eq(fetch.start.ready & ~running)]
        with m.If(self.start.valid & self.start.ready):
            m.d.sync += [running.eq(1), seen.eq(0)] + [c.eq(0) for c in counts] + [o.eq(0) for o in overflow]
            m.d.sync += [self.hh_max[g].eq(-(1 << (len(self.hh_max[g]) - 1))) for g in range(self.group)]
        with m.If(decided):
            m.d.sync += seen.eq(seen + 1)
        m.d.comb += [self.record.valid.eq(running & (seen == self.layout.n_keys) & (waiting.level == 0) & ~scoring
                                          & ~fetch.busy),
                     self.record.payload.bytes_read.eq(fetch.bytes_read)]
        for g in range(self.group):
            m.d.comb += [self.record.payload.kept_count[g].eq(counts[g]),
                         self.record.payload.overflow[g].eq(overflow[g])]
        with m.If(self.record.valid & self.record.ready):
            m.d.sync += running.eq(0)
