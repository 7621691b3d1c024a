"""Softmax stage (docs/spec.md §7): integer base-2 softmax over a row's kept keys, one division per row.

  scores  In  stream  kept keys of the row (index, score, estimate), then
  rows    In  stream  the score stage's end-of-row record (kept_count, head, ...)
  probs   Out stream  (index, p_j) for every kept key, in the order they came
  done    Out stream  (kept_count, Σ p_j, head) after the row's last probability
  mult_write / comp_write  per-head M_h / C_h registers (always ready)

The scores go into the kept-score buffer as they come. Once the record is in: pass 1 finds
m = max t_j, pass 2 sums D = Σ e_j + C_h, the serial divider computes inv = ((2^B−1) << P) / D,
pass 3 emits p_j = (e_j · inv) >> P (log2 format: its leading power of two, or 0 below 2^(B−L)).
With softmax_lanes S > 1 the buffer is S banks (score j in bank j mod S) and passes 1 and 2 take S
scores a cycle (S multipliers and exp units, a max tree, an adder tree); pass 3 stays one a cycle.

The buffer is double-banked (two single-port-read SRAMs, docs/spec.md §8): the collector writes row
r+1's scores into one bank while the passes of row r read the other, so the score stage need not
wait for the softmax (it waits only when both banks hold rows).
"""

import typing

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
    + 2 ceil(kept / S) passes + B (divide) + kept (emit) + a few; the passes of a row overlap the
    collection of the next."""

    def __init__(self, cfg: LatteConfig):
        self.cfg = cfg
        self.lanes = cfg.attention.softmax_lanes
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
        lanes, depth = self.lanes, -(-cfg.score.max_keys // self.lanes)
        banks = [[SRAM(width=entry.size, depth=depth) for _ in range(lanes)] for _ in range(2)]  # [row buffer][lane]
        for b, row_banks in enumerate(banks):
            for lane, bank in enumerate(row_banks):
                m.submodules[f"buffer{b}" if lanes == 1 else f"buffer{b}_{lane}"] = bank
        m.submodules.divider = div = SerialDivider(num_bits=a.prob_bits + a.exp_bits, den_bits=aw.denominator_width,
                                                   quot_bits=a.prob_bits)
        return mult, comp, banks, div, entry

    def _pipeline(self, m, read, kept, mult, t_max, run, advance):
        """Read the row's entries into a 4-stage pipeline, S a word (passes 1 and 2) or one (pass 3, lane 0)
        a cycle while `advance`: 1 the buffer's output, 2 the entries registered, 3 t = (s·M_h) >> R, 4 e =
        exp(m − t). `read`: the read counters (_ReadCounters). Returns the valid and last flags of every stage,
        the lane masks (which lanes hold an entry) of stages 3 and 4, t (stage 3), e and index (stage 4)."""
        a, aw, sw, lanes = self.cfg.attention, self.cfg.attention_widths, self.cfg.score.widths, self.lanes
        valid, last = [Signal(name=f"valid{n}") for n in range(1, 5)], [Signal(name=f"last{n}") for n in range(1, 5)]
        masks = [Signal(lanes, name=f"lanes{n}") for n in range(1, 5)]
        # Data flops have no reset and load only when their stage takes a valid entry.
        score = [Signal(signed(sw.score_width), name=_lane("score2", i, lanes), reset_less=True) for i in range(lanes)]
        t = [Signal(signed(aw.t_width), name=_lane("t3", i, lanes), reset_less=True) for i in range(lanes)]
        e = [Signal(aw.exp_width, name=_lane("e4", i, lanes), reset_less=True) for i in range(lanes)]
        index = [Signal(sw.index_width, name=f"index{n}", reset_less=True) for n in range(2, 5)]
        # M_h of the row, registered during the passes: off the multiplier's path
        scale = Signal(a.mult_bits, name="scale", reset_less=True)
        issue = run & (read.entry < kept) & advance
        m.d.comb += read.issue.eq(issue)
        e_next = [self._exp(m, (t_max - ti).as_unsigned()[:aw.d_width]) for ti in t]
        with m.If(run):
            m.d.sync += scale.eq(mult.value)
        first = read.selected  # pass 3's entry
        stage2 = [index[0].eq(first.index)]
        if lanes == 1:
            stage2.append(score[0].eq(first.score))
        else:
            stage2 += [score[0].eq(Mux(read.word, read.entries[0].score, first.score)),
                       *(score[i].eq(read.entries[i].score) for i in range(1, lanes))]
        with m.If(advance):
            m.d.sync += [valid[0].eq(issue), last[0].eq(read.entry + read.step >= kept),
                         masks[0].eq(Cat(*(read.entry + i < kept for i in range(lanes))) if lanes > 1 else issue),
                         *(v.eq(u) for v, u in zip(valid[1:], valid, strict=False)),
                         *(dst.eq(src) for dst, src in zip(last[1:], last, strict=False)),
                         *(dst.eq(src) for dst, src in zip(masks[1:], masks, strict=False))]
            loads = ((valid[0], stage2),
                     (valid[1], [index[1].eq(index[0]), *(ti.eq((si * scale) >> a.scale_shift)
                                                          for ti, si in zip(t, score, strict=True))]),
                     (valid[2], [index[2].eq(index[1]), *(ei.eq(en) for ei, en in zip(e, e_next, strict=True))]))
            for stage_valid, statements in loads:
                with m.If(stage_valid):
                    m.d.sync += statements
        return valid, last, masks, t, e, index[2]

    def _collect(self, m, banks, full, set_full):
        """Scores into row buffer `wbank` as they come (score k of the row into lane k mod S, word k // S);
        the record closes the buffer (its kept count and head latched beside it) and the next row goes to the
        other buffer, once that one is free. A score is not taken in the cycle a record is: it is the next
        row's (the score stage hands a row's record after its last score), and would go into the buffer
        being closed."""
        sw, lanes = self.cfg.score.widths, self.lanes
        wbank, waddr = Signal(), Signal.like(banks[0][0].waddr, name="waddr")
        wlane = Signal(range(max(2, lanes)))
        kept = [Signal(sw.count_width, name=f"kept{b}") for b in range(2)]
        head = [Signal(sw.head_width, name=f"head{b}") for b in range(2)]
        open_ = ~full.bit_select(wbank, 1)
        m.d.comb += [self.scores.ready.eq(open_ & ~self.rows.valid), self.rows.ready.eq(open_)]
        for b, row_banks in enumerate(banks):
            for lane, bank in enumerate(row_banks):
                m.d.comb += [bank.waddr.eq(waddr),
                             bank.wen.eq(self.scores.valid & open_ & (wbank == b) & (wlane == lane)),
                             bank.wdata.eq(Cat(self.scores.payload.index, self.scores.payload.score))]
        with m.If(self.scores.valid & open_):
            if lanes == 1:
                m.d.sync += waddr.eq(waddr + 1)
            else:
                m.d.sync += [wlane.eq(Mux(wlane == lanes - 1, 0, wlane + 1)),
                             waddr.eq(waddr + (wlane == lanes - 1))]
        with m.If(self.rows.valid & open_):
            m.d.comb += set_full.eq(Mux(wbank, 0b10, 0b01))
            m.d.sync += [wbank.eq(~wbank), waddr.eq(0), wlane.eq(0)]
            for b in range(2):
                with m.If(wbank == b):
                    m.d.sync += [kept[b].eq(self.rows.payload.summary.kept_count), head[b].eq(self.rows.payload.head)]
        return kept, head

    def _read_side(self, m, banks, entry, rbank, word):
        """The read counters of the passes and the banks' read ports: `word` (passes 1 and 2) reads every lane
        at `addr` and steps S entries; otherwise (pass 3) one lane, `lane`, and steps one."""
        lanes = self.lanes
        entries = [data.View(entry, Mux(rbank, banks[1][i].rdata, banks[0][i].rdata)) for i in range(lanes)]
        lane_read = Signal(range(max(2, lanes)), name="rlane1")  # the lane of pass 3's read, at the SRAM output
        selected = entries[0]
        if lanes > 1:
            picked = Signal(entry.size, name="picked")
            with m.Switch(lane_read):
                for i in range(lanes):
                    with m.Case(i):
                        m.d.comb += picked.eq(entries[i].as_value())
            selected = data.View(entry, picked)
        read = _ReadCounters(
            entry=Signal(range(self.cfg.score.max_keys + lanes + 1), name="rd"),
            addr=Signal.like(banks[0][0].raddr, name="raddr"),
            lane=Signal(range(max(2, lanes)), name="rlane"), issue=Signal(name="ren"), word=word,
            step=Mux(word, lanes, 1) if lanes > 1 else 1, entries=entries, selected=selected)
        for b, row_banks in enumerate(banks):
            for i, bank in enumerate(row_banks):
                m.d.comb += [bank.raddr.eq(read.addr),
                             bank.ren.eq(read.issue & (rbank == b) & (word | (read.lane == i) if lanes > 1 else 1))]
        with m.If(read.issue):
            m.d.sync += lane_read.eq(read.lane)
            if lanes == 1:
                m.d.sync += [read.entry.eq(read.entry + 1), read.addr.eq(read.addr + 1)]
            else:
                with m.If(word):
                    m.d.sync += [read.entry.eq(read.entry + lanes), read.addr.eq(read.addr + 1)]
                with m.Else():
                    m.d.sync += [read.entry.eq(read.entry + 1),
                                 read.lane.eq(Mux(read.lane == lanes - 1, 0, read.lane + 1)),
                                 read.addr.eq(read.addr + (read.lane == lanes - 1))]
        return read

    def _flush(self, m, read, valid):
        m.d.sync += [read.entry.eq(0), read.addr.eq(0), read.lane.eq(0), *(v.eq(0) for v in valid)]

    def elaborate(self, platform):
        m = Module()
        cfg, a = self.cfg, self.cfg.attention
        sw, aw = cfg.score.widths, cfg.attention_widths
        mult, comp, banks, div, entry = self._parts(m)
        full, set_full, clear_full = Signal(2), Signal(2), Signal(2)  # a row buffer holds a complete row
        m.d.sync += full.eq((full | set_full) & ~clear_full)
        bank_kept, bank_head = self._collect(m, banks, full, set_full)
        rbank = Signal()                        # the row buffer the passes read
        kept, head = Signal(sw.count_width), Signal(sw.head_width)  # the row of the passes
        t_max, have_max = Signal(signed(aw.t_width)), Signal()
        denominator = Signal(aw.denominator_width)
        inv = Signal(a.prob_bits)
        prob_sum = Signal(aw.prob_sum_width)
        run, advance, word = Signal(), Signal(init=1), Signal()  # a pass reads the buffer; its pipeline moves on
        read = self._read_side(m, banks, entry, rbank, word)
        m.d.comb += [mult.head.eq(head), comp.head.eq(head)]
        valid, last, masks, t, e, index = self._pipeline(m, read, kept, mult, t_max, run, advance)

        with m.FSM():
            with m.State("WAIT"):
                with m.If(full.bit_select(rbank, 1)):
                    m.d.sync += [kept.eq(Mux(rbank, bank_kept[1], bank_kept[0])),
                                 head.eq(Mux(rbank, bank_head[1], bank_head[0])),
                                 have_max.eq(0), denominator.eq(0), prob_sum.eq(0)]
                    self._flush(m, read, valid)
                    m.next = "MAX"
            with m.State("MAX"):
                m.d.comb += [run.eq(1), word.eq(1)]
                best = self._max_tree(t, masks[2])
                with m.If(valid[2] & (~have_max | (best > t_max))):
                    m.d.sync += [t_max.eq(best), have_max.eq(1)]
                with m.If((kept == 0) | (valid[2] & last[2])):
                    self._flush(m, read, valid)
                    m.next = "SUM"
            with m.State("SUM"):
                m.d.comb += [run.eq(1), word.eq(1)]
                with m.If(valid[3]):
                    m.d.sync += denominator.eq(denominator + sum(Mux(masks[3][i], ei, 0) if self.lanes > 1 else ei
                                                                for i, ei in enumerate(e)))
                with m.If((kept == 0) | (valid[3] & last[3])):
                    self._flush(m, read, valid)
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
                self._emit(m, read.entry, kept, valid, e[0], index, inv, prob_sum, advance)
            with m.State("DONE"):
                m.d.comb += [self.done.valid.eq(1), self.done.payload.kept_count.eq(kept),
                             self.done.payload.prob_sum.eq(prob_sum), self.done.payload.head.eq(head)]
                with m.If(self.done.ready):
                    m.d.comb += clear_full.eq(Mux(rbank, 0b10, 0b01))
                    m.d.sync += rbank.eq(~rbank)
                    m.next = "WAIT"
        return m

    @staticmethod
    def _max_tree(t, mask):
        """The largest t of the lanes in `mask` (lane 0 always is): a tree of comparators."""
        level = [t[0]] + [Mux(mask[i], ti, t[0]) for i, ti in enumerate(t) if i]
        while len(level) > 1:
            pairs = [Mux(x > y, x, y) for x, y in zip(level[::2], level[1::2], strict=False)]
            level = pairs + ([level[-1]] if len(level) % 2 else [])
        return level[0]

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


def _lane(name: str, lane: int, lanes: int) -> str:
    return name if lanes == 1 else f"{name}_{lane}"


class _ReadCounters(typing.NamedTuple):
    """The passes' read side (SoftmaxStage._read_side): `entry` the next entry to read, `addr`/`lane` where
    it is, `issue` (a read this cycle), `word` (S lanes at once: passes 1 and 2), `step` (entries a read
    covers), `entries` [S] the banks' outputs, `selected` pass 3's entry among them."""

    entry: object
    addr: object
    lane: object
    issue: object
    word: object
    step: object
    entries: list
    selected: object
