"""Softmax stage (docs/spec.md §7): integer base-2 softmax over a row's kept keys, one division per row.

  scores  In  stream  kept keys of the row (index, score, estimate), then
  rows    In  stream  the score stage's end-of-row record (kept_count, head, ...)
  probs   Out stream  (index, p_j) for every kept key, in the order they came
  done    Out stream  (kept_count, Σ p_j, head) after the row's last probability
  mult_write / comp_write  per-head M_h / C_h registers (always ready)

The scores go into the kept-score buffer as they come. Once the record is in: pass 1 finds
m = max t_j, pass 2 sums D = Σ e_j + C_h, the serial divider computes inv = ((2^B−1) << P) / D,
pass 3 emits p_j = (e_j · inv) >> P (log2 format: its leading power of two, or 0 below 2^(B−L)).

The buffer is double-banked (two single-port-read SRAMs, docs/spec.md §8): the collector writes row
r+1's scores into one bank while the passes of row r read the other, so the score stage need not
wait for the softmax (it waits only when both banks hold rows).
"""

from amaranth import Array, C, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import LatteConfig
from ..hw import layouts
from ..hw.divider import SerialDivider
from ..hw.sram import SRAM
from ..hw.threshold import HeadRegisterFile
from .decode_softmax import clamped_shift


class SoftmaxStage(wiring.Component):
    """See the module docstring. Cycles per row: kept (collect, while the score stage works)
    + 2 (kept + 1) passes + B (divide) + kept (emit) + a few; the passes of a row overlap the
    collection of the next."""

    def __init__(self, cfg: LatteConfig):
        self.cfg = cfg
        sw, aw = cfg.score.widths, cfg.attention_widths
        super().__init__({
            "scores": In(stream.Signature(layouts.scored_key(cfg.score))),
            "rows": In(stream.Signature(layouts.row_record(cfg))),
            "probs": Out(stream.Signature(layouts.prob_beat(cfg))),
            "done": Out(stream.Signature(layouts.softmax_row(cfg))),
            "mult_write": In(stream.Signature(
                data.StructLayout({"head": sw.head_width, "value": cfg.attention.mult_bits}), always_ready=True)),
            "comp_write": In(stream.Signature(data.StructLayout({"head": sw.head_width, "value": aw.comp_width}),
                                              always_ready=True)),
        })

    def _exp(self, m, d):
        """e = LUT[d mod 2^F] >> min(d >> F, P + 1)."""
        a = self.cfg.attention
        lut = Array(C(v, self.cfg.attention_widths.exp_width) for v in self.cfg.attention_widths.lut)
        shift = clamped_shift(d >> a.exp_frac_bits, a.exp_bits + 1)
        frac = d[:a.exp_frac_bits] if a.exp_frac_bits else C(0, 1)
        table = Signal(self.cfg.attention_widths.exp_width)
        m.d.comb += table.eq(lut[frac])
        return table >> shift

    def _parts(self, m):
        """M_h and C_h register files, the kept-score buffer, the divider."""
        cfg, a = self.cfg, self.cfg.attention
        sw, aw = cfg.score.widths, cfg.attention_widths
        m.submodules.mult = mult = HeadRegisterFile(cfg.score.heads, sw.head_width, a.mult_bits, "softmax_mult")
        m.submodules.comp = comp = HeadRegisterFile(cfg.score.heads, sw.head_width, aw.comp_width, "denominator_comp")
        wiring.connect(m, wiring.flipped(self.mult_write), mult.write)
        wiring.connect(m, wiring.flipped(self.comp_write), comp.write)
        entry = data.StructLayout({"index": sw.index_width, "score": signed(sw.score_width)})
        banks = [SRAM(width=entry.size, depth=cfg.score.max_keys) for _ in range(2)]
        m.submodules.buffer0, m.submodules.buffer1 = banks
        m.submodules.divider = div = SerialDivider(num_bits=a.prob_bits + a.exp_bits, den_bits=aw.denominator_width,
                                                   quot_bits=a.prob_bits)
        return mult, comp, banks, div, entry

    def _pipeline(self, m, ren, rdata, rd, kept, mult, t_max, run, advance):
        """Read entries 0..kept-1 into a 4-stage pipeline, one a cycle while `advance`:
        1 the buffer's output, 2 the entry registered, 3 t = (s·M_h) >> R, 4 e = exp(m − t).
        Returns the valid and last flags of every stage, and t (stage 3), e and its index (stage 4)."""
        a, aw, sw = self.cfg.attention, self.cfg.attention_widths, self.cfg.score.widths
        valid, last = [Signal(name=f"valid{n}") for n in range(1, 5)], [Signal(name=f"last{n}") for n in range(1, 5)]
        # Data flops have no reset and load only when their stage takes a valid entry.
        score = Signal(signed(sw.score_width), name="score2", reset_less=True)
        t, e = Signal(signed(aw.t_width), name="t3", reset_less=True), Signal(aw.exp_width, name="e4", reset_less=True)
        index = [Signal(sw.index_width, name=f"index{n}", reset_less=True) for n in range(2, 5)]
        # M_h of the row, registered during the passes: off the multiplier's path
        scale = Signal(a.mult_bits, name="scale", reset_less=True)
        issue = run & (rd < kept) & advance
        e_next = self._exp(m, (t_max - t).as_unsigned()[:aw.d_width])
        m.d.comb += ren.eq(issue)
        with m.If(run):
            m.d.sync += scale.eq(mult.value)
        with m.If(issue):
            m.d.sync += rd.eq(rd + 1)
        with m.If(advance):
            m.d.sync += [valid[0].eq(issue), last[0].eq(rd == kept - 1),
                         *(v.eq(u) for v, u in zip(valid[1:], valid, strict=False)),
                         *(dst.eq(src) for dst, src in zip(last[1:], last, strict=False))]
            loads = ((valid[0], [index[0].eq(rdata.index), score.eq(rdata.score)]),
                     (valid[1], [index[1].eq(index[0]), t.eq((score * scale) >> a.scale_shift)]),
                     (valid[2], [index[2].eq(index[1]), e.eq(e_next)]))
            for stage_valid, statements in loads:
                with m.If(stage_valid):
                    m.d.sync += statements
        return valid, last, t, e, index[2]

    def _flush(self, m, rd, valid):
        m.d.sync += [rd.eq(0), *(v.eq(0) for v in valid)]

    def _collect(self, m, banks, full, set_full):
        """Scores into bank `wbank` as they come; the record closes the bank (its kept count and head
        latched beside it) and the next row goes to the other bank, once that one is free. A score is not
        taken in the cycle a record is: it is the next row's (the score stage hands a row's record after
        its last score), and would go into the bank being closed."""
        sw = self.cfg.score.widths
        wbank, count = Signal(), Signal(sw.count_width)
        kept = [Signal(sw.count_width, name=f"kept{b}") for b in range(2)]
        head = [Signal(sw.head_width, name=f"head{b}") for b in range(2)]
        open_ = ~full.bit_select(wbank, 1)
        m.d.comb += [self.scores.ready.eq(open_ & ~self.rows.valid), self.rows.ready.eq(open_)]
        for b, bank in enumerate(banks):
            m.d.comb += [bank.waddr.eq(count), bank.wen.eq(self.scores.valid & open_ & (wbank == b)),
                         bank.wdata.eq(Cat(self.scores.payload.index, self.scores.payload.score))]
        with m.If(self.scores.valid & open_):
            m.d.sync += count.eq(count + 1)
        with m.If(self.rows.valid & open_):
            m.d.comb += set_full.eq(Mux(wbank, 0b10, 0b01))
            m.d.sync += [wbank.eq(~wbank), count.eq(0)]
            for b in range(2):
                with m.If(wbank == b):
                    m.d.sync += [kept[b].eq(self.rows.payload.summary.kept_count), head[b].eq(self.rows.payload.head)]
        return kept, head

    def elaborate(self, platform):
        m = Module()
        cfg, a = self.cfg, self.cfg.attention
        sw, aw = cfg.score.widths, cfg.attention_widths
        mult, comp, banks, div, entry = self._parts(m)
        full, set_full, clear_full = Signal(2), Signal(2), Signal(2)  # a bank holds a complete row
        m.d.sync += full.eq((full | set_full) & ~clear_full)
        bank_kept, bank_head = self._collect(m, banks, full, set_full)
        rbank = Signal()                        # the bank the passes read
        kept, head = Signal(sw.count_width), Signal(sw.head_width)  # the row of the passes
        rd = Signal(sw.count_width)             # next entry to read
        t_max, have_max = Signal(signed(aw.t_width)), Signal()
        denominator = Signal(aw.denominator_width)
        inv = Signal(a.prob_bits)
        prob_sum = Signal(aw.prob_sum_width)
        run, advance, ren = Signal(), Signal(init=1), Signal()  # a pass reads the buffer; its pipeline moves on
        rdata = data.View(entry, Mux(rbank, banks[1].rdata, banks[0].rdata))
        m.d.comb += [mult.head.eq(head), comp.head.eq(head)]
        m.d.comb += [x for b, bank in enumerate(banks) for x in (bank.raddr.eq(rd), bank.ren.eq(ren & (rbank == b)))]
        valid, last, t, e, index = self._pipeline(m, ren, rdata, rd, kept, mult, t_max, run, advance)

        with m.FSM():
            with m.State("WAIT"):
                with m.If(full.bit_select(rbank, 1)):
                    m.d.sync += [kept.eq(Mux(rbank, bank_kept[1], bank_kept[0])),
                                 head.eq(Mux(rbank, bank_head[1], bank_head[0])),
                                 have_max.eq(0), denominator.eq(0), prob_sum.eq(0)]
                    self._flush(m, rd, valid)
                    m.next = "MAX"
            with m.State("MAX"):
                m.d.comb += run.eq(1)
                with m.If(valid[2] & (~have_max | (t > t_max))):
                    m.d.sync += [t_max.eq(t), have_max.eq(1)]
                with m.If((kept == 0) | (valid[2] & last[2])):
                    self._flush(m, rd, valid)
                    m.next = "SUM"
            with m.State("SUM"):
                m.d.comb += run.eq(1)
                with m.If(valid[3]):
                    m.d.sync += denominator.eq(denominator + e)
                with m.If((kept == 0) | (valid[3] & last[3])):
                    self._flush(m, rd, valid)
                    m.next = "DIVIDE"
            with m.State("DIVIDE"):
                m.d.comb += [div.i.valid.eq(kept != 0), div.i.payload.num.eq(((1 << a.prob_bits) - 1) << a.exp_bits),
                             div.i.payload.den.eq(denominator + comp.value), div.o.ready.eq(1)]
                with m.If(kept == 0):
                    m.d.sync += inv.eq(0)
                    m.next = "DONE"
                with m.If(div.o.valid):
                    m.d.sync += inv.eq(div.o.payload.quot)
                    m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += run.eq(1)
                self._emit(m, rd, kept, valid, e, index, inv, prob_sum, advance)
            with m.State("DONE"):
                m.d.comb += [self.done.valid.eq(1), self.done.payload.kept_count.eq(kept),
                             self.done.payload.prob_sum.eq(prob_sum), self.done.payload.head.eq(head)]
                with m.If(self.done.ready):
                    m.d.comb += clear_full.eq(Mux(rbank, 0b10, 0b01))
                    m.d.sync += rbank.eq(~rbank)
                    m.next = "WAIT"
        return m

    def _emit(self, m, rd, kept, valid, e, index, inv, prob_sum, advance):
        """Pass 3: p = (e·inv) >> P (log2 format applied) into the probs register; the pipeline
        moves only when that register can take a probability."""
        a, out = self.cfg.attention, self.probs
        p = Signal(a.prob_bits)
        m.d.comb += [advance.eq(~out.valid | out.ready), p.eq((e * inv) >> a.exp_bits)]
        p = self._log2(m, p) if a.prob_format == "log2" else p
        with m.If(out.valid & out.ready):
            m.d.sync += out.valid.eq(0)
        with m.If(valid[3] & advance):
            m.d.sync += [out.valid.eq(1), out.payload.index.eq(index), out.payload.prob.eq(p),
                         prob_sum.eq(prob_sum + p)]
        with m.If((rd == kept) & ~Cat(*valid).any() & advance):  # the last probability is out (or being taken)
            m.next = "DONE"

    def _log2(self, m, p):
        """Ji et al.: p := 2^floor(log2 p) if that is ≥ 2^(B−L), else 0."""
        a = self.cfg.attention
        q = Signal(a.prob_bits)
        for k in range(a.prob_bits):
            with m.If(p[k]):
                m.d.comb += q.eq(Const(1 << k, a.prob_bits) if k >= a.prob_bits - a.log_levels else 0)
        return q
