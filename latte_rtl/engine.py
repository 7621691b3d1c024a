"""Top-level score engines: `latte_score_engine` (filter-and-reuse) and `dense_score_engine`.

Row protocol (both engines; README "Row protocol" has the timing diagram in words):

1. Load the keys of a head on `keys`, `lanes` elements per beat, `beats` beats per key, `last`
   on the final beat (N = keys loaded, 1..max_keys). Keys stay until the next load.
2. Write thresholds on `thresholds` (head, value) at any time; a row uses the value its head
   holds when the row starts.
3. Per query row: send `beats` beats of q on `query` (head id on the first beat). The engine
   answers on `result`: one beat per kept key (index ascending, exact score q·k), then an
   end-of-row beat (`end` = 1) carrying kept_count, max_estimate and cycles. A row that keeps
   nothing answers with the end-of-row beat alone.

`cycles` counts clock cycles from the first accepted q beat to the cycle the end-of-row beat
becomes valid. Every stream honours valid/ready; while `result` is stalled the datapath freezes.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from . import layouts
from .config import LatteConfig
from .completion import CompletionUnit
from .estimator import Estimator
from .keystore import KeyStore
from .layouts import KIND_HH, KIND_LOW
from .multiplier import MultiplierArray
from .threshold import ThresholdFilter, ThresholdRegisterFile


class _RowEngine(wiring.Component):
    """Shared row control: key store, q buffer, query intake, result register, cycle counter.

    Subclasses build the datapath in `datapath()` and call `self.issue(...)` helpers there.
    """

    top_name = None
    parts = None

    def __init__(self, cfg: LatteConfig, extra_members: dict | None = None):
        if not isinstance(cfg, LatteConfig):
            raise TypeError(f"cfg must be a LatteConfig, not {type(cfg).__name__}")
        self.cfg = cfg
        members = {
            "keys": In(stream.Signature(layouts.key_beat(cfg))),
            "query": In(stream.Signature(layouts.query_beat(cfg))),
            "result": Out(stream.Signature(layouts.result(cfg))),
            "n_keys": Out(cfg.count_width),
            "busy": Out(1),
        }
        members.update(extra_members or {})
        super().__init__(members)
        self.running = Signal()  # the RUN state: the datapath works on the current row
        self.datapath_done = Signal()  # set by the datapath: every result of the row is out
        self.row_max_estimate = Signal.like(self.result.payload.max_estimate)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        beats = cfg.beats
        m.submodules.key_store = keys = KeyStore(cfg, parts=self.parts, capacity=cfg.max_keys)
        m.submodules.q_buffer = qbuf = KeyStore(cfg, parts=self.parts, capacity=1)
        wiring.connect(m, wiring.flipped(self.keys), keys.load)
        m.d.comb += self.n_keys.eq(keys.n_keys)

        # --- shared control signals -----------------------------------------------------------
        self.advance = advance = Signal()  # the datapath moves unless a result waits for ready
        m.d.comb += advance.eq(~self.result.valid | self.result.ready)
        self.head = Signal(cfg.head_width)
        self.row_start = Signal()
        self.row_keys = Signal(cfg.count_width)  # N of the current row, latched at its start
        self.kept_count = Signal(cfg.count_width)
        self.cycles = Signal(cfg.cycle_counter_bits)
        cycles_next = Mux(self.cycles == (1 << cfg.cycle_counter_bits) - 1, self.cycles, self.cycles + 1)
        q_beat = Signal(range(max(2, beats)))

        # query beats go straight into the q buffer
        m.d.comb += [
            qbuf.load.valid.eq(self.query.valid),
            qbuf.load.payload.data.eq(self.query.payload.data),
            qbuf.load.payload.last.eq(q_beat == beats - 1),
            self.query.ready.eq(qbuf.load.ready),
        ]
        q_accept = self.query.valid & self.query.ready

        with m.If(self.result.valid & self.result.ready):
            m.d.sync += self.result.valid.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                # Keys load only between rows; a row starts only with a complete key set.
                m.d.comb += [
                    keys.enable.eq(1),
                    qbuf.enable.eq(~keys.loading & ~self.keys.valid),
                    self.row_start.eq(q_accept),
                ]
                with m.If(q_accept):
                    m.d.sync += [
                        self.head.eq(self.query.payload.head), self.row_keys.eq(keys.n_keys), self.cycles.eq(1),
                        self.kept_count.eq(0), q_beat.eq(1 if beats > 1 else 0),
                    ]
                    m.next = "LOAD_Q" if beats > 1 else "RUN"
            with m.State("LOAD_Q"):
                m.d.comb += [qbuf.enable.eq(1), self.busy.eq(1)]
                with m.If(q_accept):
                    m.d.sync += q_beat.eq(Mux(q_beat == beats - 1, 0, q_beat + 1))
                    with m.If(q_beat == beats - 1):
                        m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), self.running.eq(1)]
                with m.If(self.datapath_done):
                    m.next = "END"
            with m.State("END"):
                m.d.comb += self.busy.eq(1)
                with m.If(advance):
                    m.d.sync += [
                        self.result.valid.eq(1),
                        self.result.payload.end.eq(1),
                        self.result.payload.index.eq(0),
                        self.result.payload.score.eq(0),
                        self.result.payload.kept_count.eq(self.kept_count),
                        self.result.payload.max_estimate.eq(self.row_max_estimate),
                        self.result.payload.cycles.eq(cycles_next),
                    ]
                    m.next = "IDLE"
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(cycles_next)

        self.datapath(m, keys, qbuf)
        return m

    # --- helpers for subclasses ---------------------------------------------------------------
    def emit_score(self, m, index, score):
        """Put a kept key's score on `result` (caller guarantees `advance`)."""
        m.d.sync += [
            self.result.valid.eq(1),
            self.result.payload.end.eq(0),
            self.result.payload.index.eq(index),
            self.result.payload.score.eq(score),
            self.kept_count.eq(self.kept_count + 1),
        ]

    def pipeline(self, m, keys, qbuf, token, token_valid, *, width, product_width, sum_width,
                 acc_width, lsb_bits, init_width, select, register_operands=False):
        """Stage 0: read key/q words for `token`; stage 1: `select(...)` the operands (and, with
        `register_operands`, register them: the select mux then stays out of the multiplier's
        path); then multiply, adder tree and accumulator (Estimator).

        Returns (estimator, in_flight): in_flight is high while a token is before the estimator."""
        cfg = self.cfg
        token_layout = layouts.token(cfg, init_width)
        stage1 = Signal(token_layout)
        stage1_valid = Signal()
        m.d.comb += [keys.addr.eq(token.index * cfg.beats + token.beat), qbuf.addr.eq(token.beat)]
        with m.If(self.advance):
            m.d.sync += [stage1.eq(token), stage1_valid.eq(token_valid)]
        m.submodules.multipliers = mul = MultiplierArray(lanes=cfg.lanes, width=width)
        m.submodules.estimator = est = Estimator(
            lanes=cfg.lanes, product_width=product_width, sum_width=sum_width, acc_width=acc_width,
            lsb_bits=lsb_bits, tag_layout=token_layout, index_width=cfg.index_width)
        a, b = select(stage1)
        tag, tag_valid, in_flight = stage1, stage1_valid, stage1_valid
        if register_operands:
            tag, tag_valid = Signal(token_layout), Signal()
            a_reg = [Signal.like(mul.a[lane]) for lane in range(cfg.lanes)]
            b_reg = [Signal.like(mul.b[lane]) for lane in range(cfg.lanes)]
            with m.If(self.advance):
                m.d.sync += [tag.eq(stage1), tag_valid.eq(stage1_valid)]
                m.d.sync += [r.eq(v) for r, v in zip(a_reg + b_reg, list(a) + list(b))]
            a, b, in_flight = a_reg, b_reg, stage1_valid | tag_valid
        for lane in range(cfg.lanes):
            m.d.comb += [mul.a[lane].eq(a[lane]), mul.b[lane].eq(b[lane])]
        m.d.comb += [
            est.products.eq(mul.products),
            est.tag.eq(tag),
            est.tag_valid.eq(tag_valid),
            est.advance.eq(self.advance),
        ]
        return est, in_flight


class LatteScoreEngine(_RowEngine):
    """The LATTE filter-and-reuse score engine (SPEC §3).

    Phase 1 computes HH for every key on the nibble array; the threshold filter keeps keys;
    the completion unit re-reads each kept key and finishes q·k on the same array and the same
    accumulator that produced HH. Extra ports: `thresholds` (config writes, always ready),
    `estimate`/`estimate_valid` (every HH as computed, a monitor without backpressure) and
    `lsb_reads` (LSB bank word reads since reset).
    """

    top_name = "latte_score_engine"
    parts = ("msb", "lsb")

    def __init__(self, cfg: LatteConfig):
        super().__init__(cfg, {
            "thresholds": In(stream.Signature(layouts.threshold_write(cfg))),
            "estimate": Out(layouts.estimate(cfg)),
            "estimate_valid": Out(1),
            "lsb_reads": Out(cfg.cycle_counter_bits),
        })

    def datapath(self, m, keys, qbuf):
        cfg = self.cfg
        relative = cfg.threshold_mode == "relative"
        m.submodules.thresholds = thr = ThresholdRegisterFile(cfg)
        m.submodules.filter = filt = ThresholdFilter(cfg)
        m.submodules.completion = comp = CompletionUnit(cfg)
        m.d.comb += [  # a threshold write is accepted every cycle
            self.thresholds.ready.eq(1),
            thr.write.valid.eq(self.thresholds.valid),
            thr.write.payload.eq(self.thresholds.payload),
        ]
        wiring.connect(m, filt.kept, comp.job)
        m.d.comb += [
            thr.head.eq(self.head),
            filt.threshold.eq(thr.threshold),
            filt.n_keys.eq(self.row_keys),
            filt.start.eq(self.row_start),
            self.row_max_estimate.eq(filt.max_estimate),
            self.lsb_reads.eq(keys.lsb_reads),
        ]

        # Phase-1 issue: HH beats of key p1_key; completion jobs take precedence at key boundaries.
        token = Signal(comp.token_layout)
        token_valid = Signal()
        p1_key = Signal(range(cfg.max_keys + 1))
        p1_beat = Signal(range(max(2, cfg.beats)))
        p1_more = Signal()
        phase1 = Signal()  # phase 1 of the current row still has HH beats to issue
        scanning = Signal()  # relative: phase 2; absolute: phase 1 fully issued
        m.d.comb += p1_more.eq(p1_key < self.row_keys)
        with m.If(self.row_start):
            m.d.sync += [p1_key.eq(0), p1_beat.eq(0), phase1.eq(1), scanning.eq(0)]

        if relative:
            m.d.comb += comp.enable.eq(self.advance & scanning)
        else:
            m.d.comb += comp.enable.eq(self.advance & (scanning | (phase1 & (p1_beat == 0))))
        p1_issue = Signal()
        m.d.comb += p1_issue.eq(self.advance & self.running & phase1 & p1_more & ~comp.issuing)
        with m.If(comp.issuing):
            m.d.comb += [token.eq(comp.token), token_valid.eq(1)]
        with m.Else():
            m.d.comb += [
                token.kind.eq(KIND_HH), token.index.eq(p1_key), token.beat.eq(p1_beat),
                token.first.eq(p1_beat == 0), token.last.eq(p1_beat == cfg.beats - 1),
                token_valid.eq(p1_issue),
            ]
        with m.If(p1_issue):
            with m.If(p1_beat == cfg.beats - 1):
                m.d.sync += [p1_beat.eq(0), p1_key.eq(p1_key + 1)]
            with m.Else():
                m.d.sync += p1_beat.eq(p1_beat + 1)

        m.d.comb += [
            keys.read_msb.eq(token_valid & ~token.k_low),
            keys.read_lsb.eq(token_valid & token.k_low),
            qbuf.read_msb.eq(token_valid),
            qbuf.read_lsb.eq(token_valid),
        ]

        def select(stage1):
            a = [Mux(stage1.q_low, qbuf.lsb[i], qbuf.msb[i]) for i in range(cfg.lanes)]
            b = [Mux(stage1.k_low, keys.lsb[i], keys.msb[i]) for i in range(cfg.lanes)]
            return a, b

        est, in_flight = self.pipeline(
            m, keys, qbuf, token, token_valid, width=cfg.nibble_width,
            product_width=2 * cfg.nibble_width, sum_width=cfg.beat_sum_width,
            acc_width=cfg.accumulator_width, lsb_bits=cfg.lsb_bits, init_width=cfg.hh_width,
            select=select, register_operands=True)

        hh_done = est.result_valid & (est.result.kind == KIND_HH)
        m.d.comb += [
            filt.estimate.valid.eq(hh_done),
            filt.estimate.payload.index.eq(est.result.index),
            filt.estimate.payload.hh.eq(est.result.value),
            self.estimate_valid.eq(hh_done),
            self.estimate.eq(filt.estimate.payload),
        ]
        with m.If(est.result_valid & (est.result.kind == KIND_LOW)):
            self.emit_score(m, est.result.index, est.result.value)

        # Row sequencing inside RUN: phase 1 → (relative: drain, scan) → done.
        empty = ~in_flight & ~est.busy
        with m.If(self.running & phase1 & ~p1_more):
            if relative:
                with m.If(empty):
                    m.d.sync += [phase1.eq(0), scanning.eq(1)]
                    m.d.comb += filt.scan.eq(1)
            else:
                m.d.sync += [phase1.eq(0), scanning.eq(1)]
        m.d.comb += self.datapath_done.eq(self.running & scanning & filt.done & ~comp.busy & ~comp.issuing & empty)
        with m.If(self.datapath_done):  # disarm until the next row starts
            m.d.sync += scanning.eq(0)


class DenseScoreEngine(_RowEngine):
    """Dense baseline: the same lanes of full `bits` x `bits` multipliers, no split, no filter.

    Every key's exact score is emitted (kept_count = N, max_estimate = 0), `beats` cycles a key.
    """

    top_name = "dense_score_engine"
    parts = ("full",)

    def datapath(self, m, keys, qbuf):
        cfg = self.cfg
        token = Signal(layouts.token(cfg, 1))
        token_valid = Signal()
        key = Signal(range(cfg.max_keys + 1))
        beat = Signal(range(max(2, cfg.beats)))
        m.d.comb += [
            token.kind.eq(KIND_HH), token.index.eq(key), token.beat.eq(beat),
            token.first.eq(beat == 0), token.last.eq(beat == cfg.beats - 1),
            token_valid.eq(self.advance & self.running & (key < self.row_keys)),
            keys.read_full.eq(token_valid),
            qbuf.read_full.eq(token_valid),
        ]
        with m.If(self.row_start):
            m.d.sync += [key.eq(0), beat.eq(0)]
        with m.Elif(token_valid):
            with m.If(beat == cfg.beats - 1):
                m.d.sync += [beat.eq(0), key.eq(key + 1)]
            with m.Else():
                m.d.sync += beat.eq(beat + 1)

        est, in_flight = self.pipeline(
            m, keys, qbuf, token, token_valid, width=cfg.bits, product_width=2 * cfg.bits,
            sum_width=cfg.dense_beat_sum_width, acc_width=cfg.score_width, lsb_bits=0,
            init_width=1, select=lambda stage1: (qbuf.full, keys.full))
        with m.If(est.result_valid):
            self.emit_score(m, est.result.index, est.result.value)
        m.d.comb += self.datapath_done.eq(self.running & (key == self.row_keys) & ~in_flight & ~est.busy)


ENGINES = {cls.top_name: cls for cls in (LatteScoreEngine, DenseScoreEngine)}
