"""Attention tops: a score stage → softmax stage → P·V stage (docs/spec.md §7).

  keys     In  stream  key beats (as the score engines)
  values   In  stream  V beats in the same format (`last` ends the set); accepted while idle
  query    In  stream  q beats, head and key_limit on the first
  config   In  stream  per-head register writes: reg (THRESHOLD, SOFTMAX_MULT, DENOM_COMP; ROUND1_THRESHOLD with
                       rounds 2), head, value
  out      Out stream  o: `beats` beats of `lanes` exact accumulators
  rows     Out stream  end-of-row record: kept_count, Σp, V rows read, head, cycles
  n_keys / n_values / busy   Out  (busy: a row in flight, or V means being computed after a load)
  monitor  Out         (with `monitor`) estimates (LATTE), scores, probabilities, SRAM read counters
"""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..config import LatteConfig
from ..hw import layouts
from ..hw.layouts import ConfigReg
from ..stages.pv import PVStage
from ..stages.score import DenseScoreStage, LatteScoreStage, ObservationSignature, _checked
from ..stages.softmax import SoftmaxStage

ROWS_IN_FLIGHT = 4  # rows between the first q beat and the end-of-row record (timestamps held)


class AttentionMonitorSignature(wiring.Signature):
    def __init__(self, cfg: LatteConfig, parts, *, estimate: bool):
        members = {
            "reads": Out(data.StructLayout({**{p: cfg.row.cycle_counter_bits for p in parts},
                                            "v": cfg.row.cycle_counter_bits})),
            "scores": Out(ObservationSignature(layouts.scored_key(cfg.score))),
            "probs": Out(ObservationSignature(layouts.prob_beat(cfg))),
        }
        if estimate:
            members["estimate"] = Out(ObservationSignature(layouts.estimate(cfg.score)))
        super().__init__(members)


class _AttentionEngine(wiring.Component):
    SCORE_STAGE = None

    def __init__(self, cfg: LatteConfig):
        self.cfg = _checked(cfg)
        sc, w = cfg.score, cfg.score.widths
        latte = self.SCORE_STAGE is LatteScoreStage
        members = {
            "keys": In(stream.Signature(layouts.key_beat(sc))),
            "values": In(stream.Signature(layouts.key_beat(sc))),
            "query": In(stream.Signature(layouts.query_beat(sc))),
            "config": In(stream.Signature(layouts.config_write(cfg))),
            "out": Out(stream.Signature(layouts.out_beat(cfg))),
            "rows": Out(stream.Signature(layouts.attention_record(cfg))),
            "n_keys": Out(w.count_width),
            "n_values": Out(w.count_width),
            "busy": Out(1),
        }
        if cfg.row.monitor:
            members["monitor"] = Out(AttentionMonitorSignature(cfg, self.SCORE_STAGE.PARTS, estimate=latte))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        m.submodules.score = score = self.SCORE_STAGE(cfg)
        m.submodules.softmax = softmax = SoftmaxStage(cfg)
        m.submodules.pv = pv = PVStage(cfg)
        wiring.connect(m, wiring.flipped(self.keys), score.keys)
        wiring.connect(m, score.scores, softmax.scores)
        wiring.connect(m, score.rows, softmax.rows)
        wiring.connect(m, softmax.probs, pv.probs)
        wiring.connect(m, softmax.done, pv.rows)
        wiring.connect(m, pv.out, wiring.flipped(self.out))
        m.d.comb += [self.n_keys.eq(score.n_keys), self.n_values.eq(pv.n_values)]
        self._config(m, score, softmax)
        busy = self._rows(m, score, pv) | pv.preparing
        m.d.comb += [  # V loads only while no row is in flight
            pv.values.valid.eq(self.values.valid & ~busy),
            pv.values.payload.eq(self.values.payload),
            self.values.ready.eq(pv.values.ready & ~busy),
            self.busy.eq(busy),
        ]
        if cfg.row.monitor:
            self._monitor(m, score, softmax, pv)
        return m

    def _config(self, m, score, softmax):
        """One always-ready config port, demultiplexed by register kind."""
        cfg, reg, p = self.config, self.config.payload.reg, self.config.payload
        m.d.comb += [
            cfg.ready.eq(1),
            softmax.mult_write.valid.eq(cfg.valid & (reg == ConfigReg.SOFTMAX_MULT)),
            softmax.mult_write.payload.head.eq(p.head),
            softmax.mult_write.payload.value.eq(p.value),
            softmax.comp_write.valid.eq(cfg.valid & (reg == ConfigReg.DENOM_COMP)),
            softmax.comp_write.payload.head.eq(p.head),
            softmax.comp_write.payload.value.eq(p.value),
        ]
        for port, kind in (("thresholds", ConfigReg.THRESHOLD), ("round1_thresholds", ConfigReg.ROUND1_THRESHOLD)):
            if hasattr(score, port):
                writes = getattr(score, port)
                m.d.comb += [writes.valid.eq(cfg.valid & (reg == kind)), writes.payload.head.eq(p.head),
                             writes.payload.value.eq(p.value)]

    def _rows(self, m, score, pv):
        """Query intake with a timestamp per row; the end-of-row record with the row's cycles.
        Returns `busy` (a row is in flight)."""
        beats, bits = self.cfg.score.beats, self.cfg.row.cycle_counter_bits
        m.submodules.timestamps = stamps = SyncFIFO(width=bits, depth=ROWS_IN_FLIGHT)
        now = Signal(bits)
        m.d.sync += now.eq(now + 1)
        q_beat = Signal(range(max(2, beats)))
        first = q_beat == 0
        m.d.comb += [
            score.query.valid.eq(self.query.valid & (~first | stamps.w_rdy)),
            score.query.payload.eq(self.query.payload),
            self.query.ready.eq(score.query.ready & (~first | stamps.w_rdy)),
            stamps.w_data.eq(now),
        ]
        take = self.query.valid & self.query.ready
        with m.If(take):
            m.d.sync += q_beat.eq(0 if beats == 1 else (q_beat + 1) % beats)
            m.d.comb += stamps.w_en.eq(first)
        record = self.rows
        with m.If(record.valid & record.ready):
            m.d.sync += record.valid.eq(0)
        m.d.comb += pv.done.ready.eq(~record.valid | record.ready)
        with m.If(pv.done.valid & pv.done.ready):
            m.d.comb += stamps.r_en.eq(1)
            d = pv.done.payload
            m.d.sync += [record.valid.eq(1), record.payload.kept_count.eq(d.kept_count),
                         record.payload.prob_sum.eq(d.prob_sum), record.payload.v_reads.eq(d.v_reads),
                         record.payload.head.eq(d.head), record.payload.cycles.eq(now - stamps.r_data + 1)]
        inflight = Signal(range(ROWS_IN_FLIGHT + 1))
        started, ended = take & first, record.valid & record.ready
        m.d.sync += inflight.eq(inflight + started - ended)
        return (inflight != 0) | record.valid

    def _monitor(self, m, score, softmax, pv):
        mon = self.monitor
        m.d.comb += [
            mon.scores.valid.eq(score.scores.valid & score.scores.ready),
            mon.scores.payload.eq(score.scores.payload),
            mon.probs.valid.eq(softmax.probs.valid & softmax.probs.ready),
            mon.probs.payload.eq(softmax.probs.payload),
            mon.reads.v.eq(pv.v_word_reads),
        ]
        m.d.comb += [getattr(mon.reads, p).eq(getattr(score.monitor.reads, p)) for p in self.SCORE_STAGE.PARTS]
        if hasattr(mon, "estimate"):
            m.d.comb += [mon.estimate.valid.eq(score.monitor.estimate.valid),
                         mon.estimate.payload.eq(score.monitor.estimate.payload)]


class LatteAttentionEngine(_AttentionEngine):
    """LATTE score stage → softmax and P·V over the kept keys only (V rows of dropped keys never read)."""

    SCORE_STAGE = LatteScoreStage


class DenseAttentionEngine(_AttentionEngine):
    """Dense score stage → the same softmax and P·V over every key the row may see."""

    SCORE_STAGE = DenseScoreStage
