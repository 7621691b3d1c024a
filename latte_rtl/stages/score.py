"""Score stages: query (+ key store) in, a stream of scored keys and a stream of row records out.

`LatteScoreStage` (estimate → filter → exact completion, docs/spec.md §2/§3) and `DenseScoreStage`
(every key's exact score). Both are also tops of their own (`latte_score_engine`,
`dense_score_engine`) and share one port set:

  keys        In  stream  key beats (`lanes` elements, `last` on the final beat of the set)
  query       In  stream  q beats (`beats` per row, head on the first)
  thresholds  In  stream  (head, T) writes, always ready            (LATTE only)
  scores      Out stream  kept keys: index (ascending), exact score, estimate HH (dense: 0)
  rows        Out stream  end-of-row record: kept_count, max_estimate, cycles
  n_keys      Out         keys loaded;  busy  Out  a row is in progress
  monitor     Out         (with `monitor`) every estimate as computed + SRAM word-read counters
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import LatteConfig
from ..hw import layouts
from ..hw.completion import CompletionUnit
from ..hw.dot import Accumulator, DotProduct
from ..hw.issue import KeyIssuer, TokenArbiter
from ..hw.keystore import VectorStore, part_shape
from ..hw.layouts import PassKind
from ..hw.operands import OperandFetch, full_select, nibble_select
from ..hw.streams import Fork, PipeRegister
from ..hw.threshold import ThresholdFilter, threshold_registers
from .row import RowControl


class ObservationSignature(wiring.Signature):
    """A stream without backpressure, as output ports: `payload` is meaningful while `valid`."""

    def __init__(self, payload_shape):
        super().__init__({"valid": Out(1), "payload": Out(payload_shape)})


class MonitorSignature(wiring.Signature):
    """Observation port (no backpressure): `estimate` shows every HH as the datapath computes it;
    `reads` counts SRAM word reads per key-store bank since reset."""

    def __init__(self, cfg: LatteConfig, parts, *, estimate: bool):
        members = {"reads": Out(data.StructLayout({p: cfg.row.cycle_counter_bits for p in parts}))}
        if estimate:
            members["estimate"] = Out(ObservationSignature(layouts.estimate(cfg.score)))
        super().__init__(members)


def _checked(cfg) -> LatteConfig:
    if not isinstance(cfg, LatteConfig):
        raise TypeError(f"cfg must be a LatteConfig, not {cfg!r}")
    return cfg


def score_ports(cfg: LatteConfig, parts, *, latte: bool) -> dict:
    score = cfg.score
    ports = {
        "keys": In(stream.Signature(layouts.key_beat(score))),
        "query": In(stream.Signature(layouts.query_beat(score))),
        "scores": Out(stream.Signature(layouts.scored_key(score))),
        "rows": Out(stream.Signature(layouts.row_record(cfg))),
        "n_keys": Out(score.widths.count_width),
        "busy": Out(1),
    }
    if latte:
        ports["thresholds"] = In(stream.Signature(layouts.threshold_write(score)))
    if cfg.row.monitor:
        ports["monitor"] = Out(MonitorSignature(cfg, parts, estimate=latte))
    return ports


class RowEnd(wiring.Component):
    """Passes scored keys from `i` to `o`, counting them; takes the datapath's row `summary` and
    offers it on `done` once its kept_count keys have passed (the row is then complete)."""

    def __init__(self, cfg: LatteConfig):
        score = cfg.score
        super().__init__({
            "i": In(stream.Signature(layouts.scored_key(score))),
            "o": Out(stream.Signature(layouts.scored_key(score))),
            "summary": In(stream.Signature(layouts.row_summary(score))),
            "done": Out(stream.Signature(layouts.row_summary(score))),
        })

    def elaborate(self, platform):
        m = Module()
        held = Signal()
        count = Signal.like(self.done.payload.kept_count)
        wiring.connect(m, wiring.flipped(self.i), wiring.flipped(self.o))
        m.d.comb += [self.summary.ready.eq(~held),
                     self.done.valid.eq(held & (count == self.done.payload.kept_count))]
        with m.If(self.summary.valid & self.summary.ready):
            m.d.sync += [held.eq(1), self.done.payload.eq(self.summary.payload)]
        with m.If(self.done.valid & self.done.ready):
            m.d.sync += [held.eq(0), count.eq(0)]
        with m.Elif(self.o.valid & self.o.ready):
            m.d.sync += count.eq(count + 1)
        return m


def _shell(m, stage, parts):
    """Row control, key store and q buffer of a score stage, joined to the stage's ports.
    Returns (row control, key store, q buffer)."""
    cfg = stage.cfg
    m.submodules.row = row = RowControl(cfg)
    m.submodules.key_store = keys = VectorStore(cfg.score, parts=parts, capacity=cfg.score.max_keys,
                                                counter_bits=cfg.row.cycle_counter_bits if cfg.row.monitor else None)
    m.submodules.q_buffer = qbuf = VectorStore(cfg.score, parts=parts, capacity=1)
    wiring.connect(m, wiring.flipped(stage.keys), row.keys)
    wiring.connect(m, wiring.flipped(stage.query), row.query)
    wiring.connect(m, row.key_load, keys.load)
    wiring.connect(m, row.q_load, qbuf.load)
    wiring.connect(m, row.rows, wiring.flipped(stage.rows))
    m.d.comb += [row.n_keys.eq(keys.n_keys), stage.n_keys.eq(keys.n_keys), stage.busy.eq(row.busy)]
    if cfg.row.monitor:
        m.d.comb += [getattr(stage.monitor.reads, p).eq(getattr(keys, f"{p}_reads")) for p in parts]
    return row, keys, qbuf


def _pipeline(m, stage, keys, qbuf, *, parts, token_layout, operand_width, sum_width, acc_width, lsb_bits,
              select):
    """Token stream in → operand fetch → multiply + adder tree → accumulator. Returns
    (token input, accumulator output) streams."""
    cfg = stage.cfg.score
    m.submodules.fetch = fetch = OperandFetch(
        cfg, token_layout=token_layout, parts=parts, part_shapes={p: part_shape(cfg, p) for p in parts},
        operand_width=operand_width, key_addr_width=keys.addr_width, q_addr_width=qbuf.addr_width,
        select=select)
    for part in parts:
        wiring.connect(m, getattr(fetch, f"k_{part}"), getattr(keys, part))
        wiring.connect(m, getattr(fetch, f"q_{part}"), getattr(qbuf, part))
    m.submodules.dot = dot = DotProduct(operand_layout=fetch.operand_layout, sum_width=sum_width,
                                        operand_width=operand_width, lanes=cfg.lanes, pipeline=cfg.pipeline)
    init_width = token_layout.members["init"].width
    m.submodules.accumulator = acc = Accumulator(
        beat_layout=dot.o.payload.shape(), acc_width=acc_width, lsb_bits=lsb_bits,
        result_layout=layouts.acc_result(cfg, acc_width, init_width))
    wiring.connect(m, fetch.o, dot.i)
    wiring.connect(m, dot.o, acc.i)
    return fetch.i, acc.o


def _output(m, stage, row, summary):
    """Score register → RowEnd → `scores`; the row's summary reaches row control through RowEnd.
    Returns the score register's input stream."""
    cfg = stage.cfg
    m.submodules.score_reg = reg = PipeRegister(layouts.scored_key(cfg.score))
    m.submodules.row_end = end = RowEnd(cfg)
    wiring.connect(m, reg.o, end.i)
    wiring.connect(m, end.o, wiring.flipped(stage.scores))
    wiring.connect(m, summary, end.summary)
    wiring.connect(m, end.done, row.done)
    return reg.i


class LatteScoreStage(wiring.Component):
    """The LATTE filter-and-reuse score stage (docs/spec.md §3).

    Phase 1 computes HH for every key on the nibble array; the threshold filter keeps keys;
    the completion unit re-reads each kept key and finishes q·k on the same array and the same
    accumulator that produced HH.
    """

    PARTS = ("msb", "lsb")

    def __init__(self, cfg: LatteConfig):
        self.cfg = _checked(cfg)
        super().__init__(score_ports(cfg, self.PARTS, latte=True))

    def elaborate(self, platform):
        m = Module()
        cfg, w = self.cfg.score, self.cfg.score.widths
        row, keys, qbuf = _shell(m, self, self.PARTS)
        m.submodules.thresholds = thr = threshold_registers(cfg)
        m.submodules.filter = filt = ThresholdFilter(cfg)
        m.submodules.completion = comp = CompletionUnit(cfg)
        m.submodules.issuer = issuer = KeyIssuer(cfg, comp.token_layout)
        m.submodules.arbiter = arb = TokenArbiter(comp.token_layout)
        m.submodules.row_fork = fork = Fork(layouts.row_job(cfg))
        m.d.comb += [  # a threshold write is accepted every cycle
            self.thresholds.ready.eq(1),
            thr.write.valid.eq(self.thresholds.valid),
            thr.write.payload.eq(self.thresholds.payload),
        ]
        wiring.connect(m, row.start, fork.i)
        wiring.connect(m, fork.a, issuer.job)
        m.d.comb += [  # the filter's job: N, and the threshold of the row's head
            thr.head.eq(fork.b.payload.head),
            filt.job.valid.eq(fork.b.valid),
            filt.job.payload.n_keys.eq(fork.b.payload.n_keys),
            filt.job.payload.threshold.eq(thr.value),
            fork.b.ready.eq(filt.job.ready),
        ]
        wiring.connect(m, issuer.o, arb.phase1)
        wiring.connect(m, filt.kept, comp.job)
        wiring.connect(m, comp.o, arb.completion)
        tokens, results = _pipeline(
            m, self, keys, qbuf, parts=self.PARTS, token_layout=comp.token_layout,
            operand_width=w.nibble_width, sum_width=w.beat_sum_width, acc_width=w.accumulator_width,
            lsb_bits=w.lsb_bits, select=nibble_select)
        wiring.connect(m, arb.o, tokens)
        scores = _output(m, self, row, filt.summary)

        # Route: HH → the filter; an exact score → the score register.
        is_hh = results.payload.kind == PassKind.HH
        m.d.comb += [
            filt.estimate.valid.eq(results.valid & is_hh),
            filt.estimate.payload.index.eq(results.payload.index),
            filt.estimate.payload.hh.eq(results.payload.value),
            scores.valid.eq(results.valid & ~is_hh),
            scores.payload.index.eq(results.payload.index),
            scores.payload.score.eq(results.payload.value),
            scores.payload.estimate.eq(results.payload.init),
            results.ready.eq(Mux(is_hh, filt.estimate.ready, scores.ready)),
        ]
        if self.cfg.row.monitor:
            m.d.comb += [self.monitor.estimate.valid.eq(filt.estimate.valid & filt.estimate.ready),
                         self.monitor.estimate.payload.eq(filt.estimate.payload)]
        return m


class DenseScoreStage(wiring.Component):
    """Dense baseline: the same lanes of full `bits` × `bits` multipliers, no split, no filter.

    Every key's exact score is emitted (kept_count = N, max_estimate = 0), `beats` cycles a key.
    """

    PARTS = ("full",)

    def __init__(self, cfg: LatteConfig):
        self.cfg = _checked(cfg)
        super().__init__(score_ports(cfg, self.PARTS, latte=False))

    def elaborate(self, platform):
        m = Module()
        cfg, w = self.cfg.score, self.cfg.score.widths
        row, keys, qbuf = _shell(m, self, self.PARTS)
        token_layout = layouts.token(cfg, 1)
        m.submodules.issuer = issuer = KeyIssuer(cfg, token_layout)
        m.submodules.row_fork = fork = Fork(layouts.row_job(cfg))
        tokens, results = _pipeline(
            m, self, keys, qbuf, parts=self.PARTS, token_layout=token_layout, operand_width=cfg.bits,
            sum_width=w.dense_beat_sum_width, acc_width=w.score_width, lsb_bits=0, select=full_select)
        wiring.connect(m, row.start, fork.i)
        wiring.connect(m, fork.a, issuer.job)
        wiring.connect(m, issuer.o, tokens)
        summary = stream.Signature(layouts.row_summary(cfg)).create(path=("summary",))
        m.d.comb += [  # every key is kept: the summary is known when the row starts
            summary.valid.eq(fork.b.valid),
            summary.payload.kept_count.eq(fork.b.payload.n_keys),
            summary.payload.max_estimate.eq(0),
            fork.b.ready.eq(summary.ready),
        ]
        scores = _output(m, self, row, summary)
        m.d.comb += [
            scores.valid.eq(results.valid),
            scores.payload.index.eq(results.payload.index),
            scores.payload.score.eq(results.payload.value),
            results.ready.eq(scores.ready),
        ]
        return m
