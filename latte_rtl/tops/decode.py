"""Decode tops (docs/spec.md §9): one KV head's decode step, K and V in external memory behind an AXI4 read
master, the G query rows of the group served by every word fetched; bit-exact `golden.decode.decode_step`.

  config  In   stream (reg, head, value): the layout, N, and per query row T_g, M_g, C_g; ready while idle
  query   In   stream (row, data): q of query row g, the whole vector per beat; ready while idle
  start   In   stream: one decode step with the registers and q rows given
  out     Out  stream (row, data): o_g, one beat per query row, g = 0..G-1
  rows    Out  stream: the step's record (kept_count, overflow per row; bytes_read per plane; cycles)
  axi     Out  the memory bus's manager port (its name and signature: `LatteConfig.bus`, buses/; kv_memory axi:
               AXI4 AR/R);  busy  Out  a step is in flight

Dataflow: `DecodeScoreStage` (MSB pass, threshold, LSB rows of kept keys, exact scores) → the kept-score
buffer (one entry per key some row keeps: index, kept mask, t_g = (s_g · M_g) >> R; the running max m_g is
kept as entries arrive) → pass 2 sums D_g = Σ e_g + C_g → G serial dividers inv_g → the V walk reads the
buffer in index order, computes p_g, fetches the V row of a key some row gives p > 0 (once for the group)
and accumulates o_g += p_g · v. Relative thresholds take a first MSB pass for max HH_g (the score stage's
`probe`), then decide HH_g >= max HH_g − T_g in the second (golden's msb_passes = 2). Timing closure: the
scaling multiply runs in two register stages (its halves, then their sum) before the buffer's write; the
buffer's output goes straight into a register (an SRAM macro's read is late), then m_g − t_g into another;
the walk's p_g lands in a register before its FIFOs; the P·V probabilities come from a buffered FIFO.
`DenseDecodeEngine`
keeps every key (no threshold, every LSB row) and reads the V row of every key, through the same blocks.
"""

from __future__ import annotations

import enum
import typing

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..config import LatteConfig, unsigned_width
from ..hw.divider import SerialDivider
from ..hw.sram import SRAM
from ..stages.decode_fetch import BYTES_COUNTER_BITS, PlaneKind
from ..stages.decode_score import DecodeScoreStage
from ..stages.decode_softmax import exp_of, lowest, prob_of, scaled_from_parts, scaled_parts

CYCLE_BITS = 32


class _Reads(typing.NamedTuple):
    """The buffer's read pipe in SUM and WALK (`_DecodeEngine._read_pipe`)."""
    valid: Signal
    index: Signal
    e: list              # e_g per query row
    ready: Signal        # the pass takes the entry on the register
    done: Signal         # every entry read and taken


class DecodeReg(enum.IntEnum):
    BASE_MSB = 0
    STRIDE_MSB = 1
    BASE_LSB = 2
    STRIDE_LSB = 3
    BASE_V = 4
    STRIDE_V = 5
    N_KEYS = 6
    THRESHOLD = 7
    MULT = 8
    COMP = 9


class Phase(enum.IntEnum):
    IDLE = 0
    SCORE = 1
    SUM = 2
    DIVIDE = 3
    WALK = 4
    OUTPUT = 5
    PROBE = 6          # relative thresholds: the first MSB pass (max HH_g only)
    RESTART = 7        # relative thresholds: the second MSB pass starts


_LAYOUT_REGS = {DecodeReg.BASE_MSB: "base_msb", DecodeReg.STRIDE_MSB: "stride_msb", DecodeReg.BASE_LSB: "base_lsb",
                DecodeReg.STRIDE_LSB: "stride_lsb", DecodeReg.BASE_V: "base_v", DecodeReg.STRIDE_V: "stride_v",
                DecodeReg.N_KEYS: "n_keys"}


class _DecodeEngine(wiring.Component):
    """The decode top of design `cfg` (an external `kv_memory`): `group` query rows per KV head, K and V
    through its bus (dense: every key, every V row). `rows_in_flight` overrides the design's (the MSB / V rows
    kept asked for; 0: the design's, whose 0 is max(8, axi_outstanding))."""

    dense = False

    def __init__(self, cfg: LatteConfig, *, rows_in_flight: int = 0):
        if not cfg.bus.external:
            raise ValueError(f"kv_memory must be an external memory bus (the decode tops read K and V through it), "
                             f"not {cfg.decode.kv_memory!r}")
        spec = self.spec = cfg.decode_spec()
        self.group, self.bus_port, self.mult_bits = cfg.decode.group, cfg.bus.port, cfg.attention.mult_bits
        # rows in flight: MSB rows the score stage can take, V rows the walk has asked for
        self.pending = rows_in_flight or spec.rows_in_flight
        self.relative = spec.threshold_mode == "relative" and not self.dense
        self.index_width = spec.index_width
        self.count_width = self.index_width + 1
        self.depth = min(spec.max_keys, spec.kept_buffer if self.dense else self.group * spec.kept_buffer)
        self.score_stage = DecodeScoreStage(cfg, pending=self.pending, dense=self.dense)
        sw = self.score_stage.widths
        self.widths = w = cfg.attention.widths(cfg.score.widths, spec.bits, spec.max_keys,
                                               kept=min(spec.max_keys, spec.kept_buffer))
        # relative T_g: unsigned, 0..2 max|E|; absolute T_g: signed, the score stage's threshold width
        self.threshold_width = unsigned_width(2 * sw.max_estimate) if self.relative else sw.threshold_width
        self.value_width = max(spec.addr_width, self.count_width, self.threshold_width, self.mult_bits, w.comp_width)
        group = self.group
        out_layout = data.ArrayLayout(signed(w.out_width), spec.dim)
        counts = data.ArrayLayout(self.count_width, group)
        super().__init__({
            "config": In(stream.Signature(data.StructLayout(
                {"reg": DecodeReg, "head": range(group), "value": self.value_width}))),
            "query": In(stream.Signature(data.StructLayout({"row": range(group), "data": spec.dim * spec.bits}))),
            "start": In(stream.Signature(1)),
            "out": Out(stream.Signature(data.StructLayout({"row": range(group), "data": out_layout}))),
            "rows": Out(stream.Signature(data.StructLayout({
                "kept_count": counts, "overflow": counts,
                "bytes_read": data.StructLayout({p.name.lower(): BYTES_COUNTER_BITS for p in PlaneKind}),
                "cycles": CYCLE_BITS}))),
            self.bus_port: Out(cfg.bus.signature(cfg)),
            "busy": Out(1),
        })

    def _entry(self):
        return data.StructLayout({"index": self.index_width, "kept": self.group,
                                  "t": data.ArrayLayout(signed(self.widths.t_width), self.group)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.score = score = self.score_stage
        wiring.connect(m, wiring.flipped(getattr(self, self.bus_port)), getattr(score, self.bus_port))
        phase = Signal(Phase)
        regs = self._config(m, score, phase)
        entry = self._entry()
        m.submodules.buffer = buf = SRAM(width=entry.size, depth=self.depth)
        count = Signal(self.index_width + 1)             # buffer entries of this step
        maxes = [Signal(signed(self.widths.t_width), name=f"max_{g}", reset_less=True) for g in range(self.group)]
        record = Signal(score.record.payload.shape())
        probe_msb = self._start(m, score, phase, regs)
        self._collect(m, score, buf, entry, regs, phase, count, maxes, record, probe_msb)
        reads = self._read_pipe(m, buf, entry, phase, count, maxes)
        den = self._sum(m, reads, regs, phase)
        inv = self._divide(m, phase, den, record)
        acc = self._walk(m, score, reads, phase, inv)
        self._finish(m, score, phase, acc, record)
        return m

    def _config(self, m, score, phase):
        """Registers written through `config` while idle; q rows into the score stage; start."""
        cfg, w, g = self.config.payload, self.widths, self.group
        t_shape = self.threshold_width if self.relative else signed(self.threshold_width)
        regs = {"threshold": [Signal(t_shape, name=f"threshold_{i}") for i in range(g)],
                "mult": [Signal(self.mult_bits, name=f"mult_{i}") for i in range(g)],
                "comp": [Signal(w.comp_width, name=f"comp_{i}") for i in range(g)]}
        idle = phase == Phase.IDLE
        m.d.comb += [self.config.ready.eq(idle), self.query.ready.eq(idle), self.busy.eq(~idle)]
        with m.If(self.config.valid & idle):
            for reg, name in _LAYOUT_REGS.items():
                with m.If(cfg.reg == reg):
                    field = getattr(score.layout, name)
                    m.d.sync += field.eq(cfg.value[:len(field)])
            for reg, name in ((DecodeReg.THRESHOLD, "threshold"), (DecodeReg.MULT, "mult"), (DecodeReg.COMP, "comp")):
                for i, target in enumerate(regs[name]):
                    with m.If((cfg.reg == reg) & (cfg.head == i)):
                        value = cfg.value[:len(target)]
                        signed_value = name == "threshold" and not self.relative
                        m.d.sync += target.eq(value.as_signed() if signed_value else value)
        m.d.comb += [score.q.valid.eq(self.query.valid & idle), score.q.payload.eq(self.query.payload)]
        return regs

    def _start(self, m, score, phase, regs):
        """IDLE → SCORE on `start`; relative thresholds: IDLE → PROBE (an MSB pass taking max HH_g) → RESTART
        → SCORE, the second pass deciding HH_g >= T'_g = max(max HH_g − T_g, lowest HH). Returns the k_msb
        bytes of the probe pass."""
        sw = self.score_stage.widths
        lo = sw.threshold_range[0]                       # −max|HH|: every key passes
        probe_msb = Signal(BYTES_COUNTER_BITS, name="probe_msb")
        eff = [Signal(signed(sw.threshold_width), name=f"relative_threshold_{g}", reset_less=True)
               for g in range(self.group)]
        m.d.comb += [score.start.valid.eq(0), self.start.ready.eq(0), score.probe.eq(phase == Phase.PROBE)]
        for g in range(self.group):
            m.d.comb += score.thresholds[g].eq(lo if self.dense else eff[g] if self.relative else regs["threshold"][g])
        with m.If(phase == Phase.IDLE):
            m.d.comb += [score.start.valid.eq(self.start.valid), self.start.ready.eq(score.start.ready)]
            with m.If(self.start.valid & score.start.ready):
                m.d.sync += [phase.eq(Phase.PROBE if self.relative else Phase.SCORE), probe_msb.eq(0)]
        if not self.relative:
            return probe_msb
        with m.If((phase == Phase.PROBE) & score.record.valid):
            m.d.sync += [phase.eq(Phase.RESTART), probe_msb.eq(score.record.payload.bytes_read.k_msb)]
            for g in range(self.group):
                diff = score.hh_max[g] - regs["threshold"][g]
                m.d.sync += eff[g].eq(Mux(diff < lo, lo, diff))
        with m.If(phase == Phase.RESTART):
            m.d.comb += score.start.valid.eq(1)
            with m.If(score.start.ready):
                m.d.sync += phase.eq(Phase.SCORE)
        return probe_msb

    def _collect(self, m, score, buf, entry, regs, phase, count, maxes, record, probe_msb):
        """start → SCORE: every scored key through two register stages, the halves of s_g · M_g then
        t_g = (s_g · M_g) >> R, into the buffer the next cycle (no multiplier before the SRAM's setup);
        the running max of each row."""
        with m.If(self.start.valid & self.start.ready):
            m.d.sync += [count.eq(0)] + [x.eq(lowest(self.widths.t_width)) for x in maxes]
        p, scoring = score.scores.payload, phase == Phase.SCORE
        halves = [scaled_parts(p.score[g], regs["mult"][g]) for g in range(self.group)]
        parts = Signal(data.StructLayout({
            "index": self.index_width, "kept": self.group,
            "low": data.ArrayLayout(halves[0][0].shape(), self.group),
            "high": data.ArrayLayout(halves[0][1].shape(), self.group)}), name="scaling", reset_less=True)
        held = Signal(entry, name="held", reset_less=True)
        scaling, holding = Signal(), Signal()
        m.d.comb += [score.scores.ready.eq(scoring),
                     score.record.ready.eq((scoring & ~scaling & ~holding) | (phase == Phase.PROBE)),
                     buf.waddr.eq(count), buf.wdata.eq(held), buf.wen.eq(holding)]
        m.d.sync += [scaling.eq(score.scores.valid & scoring), holding.eq(scaling)]
        with m.If(score.scores.valid & scoring):
            m.d.sync += [parts.index.eq(p.index), parts.kept.eq(p.kept)]
            m.d.sync += [parts.low[g].eq(halves[g][0]) for g in range(self.group)]
            m.d.sync += [parts.high[g].eq(halves[g][1]) for g in range(self.group)]
        with m.If(scaling):
            m.d.sync += [held.index.eq(parts.index), held.kept.eq(parts.kept)]
            m.d.sync += [held.t[g].eq(scaled_from_parts(parts.low[g], parts.high[g], self.mult_bits,
                                                        self.spec.softmax["scale_shift"]))
                         for g in range(self.group)]
        for g in range(self.group):
            with m.If(holding & held.kept[g] & (held.t[g] > maxes[g])):
                m.d.sync += maxes[g].eq(held.t[g])
        with m.If(holding):
            m.d.sync += count.eq(count + 1)
        with m.If(score.record.valid & score.record.ready & scoring):
            m.d.sync += [record.eq(score.record.payload), phase.eq(Phase.SUM)]
            if self.relative:        # the probe pass's MSB bytes too
                m.d.sync += record.bytes_read.k_msb.eq(score.record.payload.bytes_read.k_msb + probe_msb)

    def _read_pipe(self, m, buf, entry, phase, count, maxes):
        """SUM and WALK read entries 0..count-1 of the buffer, one per cycle while the pass keeps up (`ready`,
        to drive), through two register stages: the entry as read (the SRAM's output is late: nothing more in
        its cycle), then d_g = m_g − t_g; e_g = exp(d_g) (0 where row g does not keep the entry) is on `e`.
        Returns (valid, index, e, ready, done)."""
        at, pending = Signal(self.index_width + 1, name="read_at"), Signal(name="read_pending")
        active = (phase == Phase.SUM) | (phase == Phase.WALK)
        ren, ready = Signal(name="ren"), Signal(name="d_ready")
        raw, raw_valid, valid = Signal(entry, name="read_entry", reset_less=True), Signal(name="read_valid"), \
            Signal(name="d_valid")
        index = Signal(self.index_width, name="d_index", reset_less=True)
        kept = Signal(self.group, name="d_kept", reset_less=True)
        d = [Signal(self.widths.d_width, name=f"d_{g}", reset_less=True) for g in range(self.group)]
        advance = ~valid | ready                        # the d stage takes the raw entry
        load = pending & (~raw_valid | advance)         # the raw stage takes the SRAM's output
        m.d.comb += ren.eq(active & (at < count) & (~pending | load))
        with m.If(ren):
            m.d.comb += [buf.raddr.eq(at), buf.ren.eq(1)]
            m.d.sync += at.eq(at + 1)
        m.d.sync += pending.eq(ren | (pending & ~load))
        with m.If(load):
            m.d.sync += raw.eq(buf.rdata)
        with m.If(~raw_valid | advance):
            m.d.sync += raw_valid.eq(pending)
        with m.If(advance):
            m.d.sync += valid.eq(raw_valid)
        with m.If(raw_valid & advance):
            m.d.sync += [index.eq(raw.index), kept.eq(raw.kept)] + [d[g].eq(maxes[g] - raw.t[g])
                                                                    for g in range(self.group)]
        with m.If(~active):
            m.d.sync += [at.eq(0), pending.eq(0), raw_valid.eq(0), valid.eq(0)]
        e = [Signal(self.widths.exp_width, name=f"e_{g}") for g in range(self.group)]
        m.d.comb += [e[g].eq(Mux(kept[g], exp_of(d[g], self.spec.softmax, self.widths.exp_width), 0))
                     for g in range(self.group)]
        done = Signal(name="read_done")
        m.d.comb += done.eq((at == count) & ~pending & ~raw_valid & ~valid)
        return _Reads(valid, index, e, ready, done)

    def _sum(self, m, reads, regs, phase):
        """SUM: D_g = C_g + Σ e_g over the buffer."""
        den = [Signal(self.widths.denominator_width, name=f"den_{g}", reset_less=True) for g in range(self.group)]
        summing = phase == Phase.SUM
        with m.If(phase == Phase.SCORE):
            m.d.sync += [den[g].eq(regs["comp"][g]) for g in range(self.group)]
        with m.If(summing):
            m.d.comb += reads.ready.eq(1)
        with m.If(summing & reads.valid):
            m.d.sync += [den[g].eq(den[g] + reads.e[g]) for g in range(self.group)]
        with m.If(summing & reads.done):
            m.d.sync += phase.eq(Phase.DIVIDE)
        return den

    def _divide(self, m, phase, den, record):
        """DIVIDE: inv_g = ((2^B − 1) << P) // D_g (0 for a row that keeps nothing), G dividers at once."""
        b, p = self.spec.softmax["prob_bits"], self.spec.softmax["exp_bits"]
        inv = [Signal(b, name=f"inv_{g}", reset_less=True) for g in range(self.group)]
        issued = Signal()
        dividers = []
        for g in range(self.group):
            div = SerialDivider(num_bits=b + p, den_bits=self.widths.denominator_width, quot_bits=b)
            m.submodules[f"divider_{g}"] = div
            dividers.append(div)
            m.d.comb += [div.i.valid.eq((phase == Phase.DIVIDE) & ~issued),
                         div.i.payload.num.eq(((1 << b) - 1) << p), div.i.payload.den.eq(den[g])]
        with m.If(dividers[0].i.valid & dividers[0].i.ready):
            m.d.sync += issued.eq(1)
        with m.If(dividers[0].o.valid):
            for g, div in enumerate(dividers):
                m.d.comb += div.o.ready.eq(1)
                zero = record.kept_count[g] == 0
                m.d.sync += inv[g].eq(Mux(zero, 0, div.o.payload.quot))
            m.d.sync += [issued.eq(0), phase.eq(Phase.WALK)]
        return inv

    def _walk(self, m, score, reads, phase, inv):
        """WALK: p_g of every buffer entry into a register stage; the V row of an entry some row gives p > 0
        (dense: every entry) is fetched once and o_g += p_g · v."""
        b, w = self.spec.softmax["prob_bits"], self.widths
        probs_layout = data.ArrayLayout(b, self.group)
        m.submodules.asks = asks = SyncFIFO(width=self.index_width, depth=self.pending)
        # buffered: the head probabilities come from a register (they fan out to every lane of P·V)
        m.submodules.probs = probs = SyncFIFOBuffered(width=probs_layout.size, depth=self.pending)
        p, index = Signal(probs_layout), Signal(self.index_width, reset_less=True)
        held = Signal(probs_layout, name="p_held", reset_less=True)
        valid, walking = Signal(name="p_valid"), phase == Phase.WALK
        room = asks.w_rdy & probs.w_rdy          # from the FIFOs' levels: a short path back to the SRAM
        for g in range(self.group):
            m.d.comb += p[g].eq(prob_of(reads.e[g], inv[g], self.spec.softmax))
        with m.If(walking):
            m.d.comb += reads.ready.eq(~valid | room)
        with m.If(~valid | room):
            m.d.sync += valid.eq(walking & reads.valid)
            with m.If(walking & reads.valid):
                m.d.sync += [held.eq(p), index.eq(reads.index)]
        need = 1 if self.dense else held.as_value().any()
        push = Signal()
        m.d.comb += [push.eq(valid & room & need),
                     asks.w_en.eq(push), asks.w_data.eq(index), probs.w_en.eq(push), probs.w_data.eq(held),
                     score.v_fetch.valid.eq(asks.r_rdy), score.v_fetch.payload.eq(asks.r_data),
                     asks.r_en.eq(score.v_fetch.ready)]
        acc = [Signal(data.ArrayLayout(signed(w.out_width), self.spec.dim), name=f"acc_{g}", reset_less=True)
               for g in range(self.group)]
        head = Signal(probs_layout)
        m.d.comb += [head.eq(probs.r_data), score.v_rows.ready.eq(probs.r_rdy),
                     probs.r_en.eq(score.v_rows.valid)]
        bits = self.spec.bits
        with m.If(phase == Phase.DIVIDE):
            m.d.sync += [a.eq(0) for a in acc]
        with m.If(score.v_rows.valid & probs.r_rdy):
            for g in range(self.group):
                for i in range(self.spec.dim):
                    v = score.v_rows.payload[i * bits:(i + 1) * bits].as_signed()
                    m.d.sync += acc[g][i].eq(acc[g][i] + head[g] * v)
        with m.If(walking & reads.done & ~valid & ~asks.r_rdy & ~probs.r_rdy):
            m.d.sync += phase.eq(Phase.OUTPUT)
        return acc

    def _finish(self, m, score, phase, acc, record):
        """OUTPUT: o_g beats in order and the step's record (independent streams); the cycle counter."""
        sent, recorded = Signal(range(self.group + 1), name="sent"), Signal(name="recorded")
        cycles = Signal(CYCLE_BITS)
        with m.If(phase == Phase.IDLE):
            with m.If(self.start.valid & self.start.ready):
                m.d.sync += cycles.eq(1)
        with m.Elif(phase != Phase.OUTPUT):
            m.d.sync += cycles.eq(cycles + 1)
        out = phase == Phase.OUTPUT
        m.d.comb += [self.out.valid.eq(out & (sent < self.group)), self.out.payload.row.eq(sent),
                     self.rows.valid.eq(out & ~recorded), self.rows.payload.kept_count.eq(record.kept_count),
                     self.rows.payload.overflow.eq(record.overflow), self.rows.payload.cycles.eq(cycles),
                     self.rows.payload.bytes_read.eq(score.fetcher.bytes_read),
                     self.rows.payload.bytes_read.k_msb.eq(record.bytes_read.k_msb)]   # both MSB passes
        row = acc[0].as_value()
        for g in range(1, self.group):       # a Mux chain (a plain assign): defined from time 0 in Icarus
            row = Mux(sent == g, acc[g].as_value(), row)
        m.d.comb += self.out.payload.data.eq(row)
        with m.If(self.out.valid & self.out.ready):
            m.d.sync += sent.eq(sent + 1)
        with m.If(self.rows.valid & self.rows.ready):
            m.d.sync += recorded.eq(1)
        with m.If(out & (sent == self.group) & recorded):
            m.d.sync += [phase.eq(Phase.IDLE), sent.eq(0), recorded.eq(0)]


class LatteDecodeEngine(_DecodeEngine):
    """LATTE decode top: absolute thresholds, the kept-score buffer's overflow rule, V rows of keys with p > 0."""

    dense = False


class DenseDecodeEngine(_DecodeEngine):
    """Dense decode twin: every key's exact score (both K planes), softmax over all N (N <= kept_buffer), the
    V row of every key."""

    dense = True
