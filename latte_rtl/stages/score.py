"""Score stages: query (+ key store) in, a stream of scored keys and a stream of row records out.

`LatteScoreStage` (estimate → filter → exact completion, docs/spec.md §2/§3) and `DenseScoreStage`
(every key's exact score). Both are also tops of their own (`latte_score_engine`,
`dense_score_engine`) and share one port set:

  keys        In  stream  key beats (`lanes` elements, `last` on the final beat of the set)
  query       In  stream  q beats (`beats` per row, head on the first)
  thresholds  In  stream  (head, T) writes, always ready   (LATTE only; with row_thresholds none:
                          T comes with each row's first q beat)
  scores      Out stream  kept keys: index (ascending), exact score, the HH it reused (dense: 0)
  rows        Out stream  end-of-row record: kept_count, max_estimate, cycles
  n_keys      Out         keys loaded;  busy  Out  a row is in progress
  monitor     Out         (with `monitor`) every estimate as computed + SRAM word-read counters
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import LatteConfig
from ..golden.cycles import reads_lsb_once, rows_overlap
from ..hw import layouts
from ..hw.completion import SURVIVOR_PASSES, CompletionUnit
from ..hw.dot import Accumulator, DotProduct, centred_estimate
from ..hw.issue import KeyCredits, KeyIssuer, TokenArbiter
from ..hw.keystore import VectorStore, part_shape
from ..hw.layouts import PassKind
from ..hw.narrow import LaneSplitter
from ..hw.operands import OUTSTANDING, OperandFetch, full_select, nibble_select, round1_select
from ..hw.readport import ReadArbiter, ResponseBuffer, SRAMReadPort
from ..hw.streams import EagerFork, PipeRegister
from ..hw.threshold import KEPT_FIFO_DEPTH, OverlapFilter, ThresholdFilter, threshold_registers
from .row import RowControl


class ObservationSignature(wiring.Signature):
    """A stream without backpressure, as output ports: `payload` is meaningful while `valid`."""

    def __init__(self, payload_shape):
        super().__init__({"valid": Out(1), "payload": Out(payload_shape)})


class MonitorSignature(wiring.Signature):
    """Observation port (no backpressure): `estimate` shows every key's estimate as the datapath computes it
    (HH, and E with the centred estimate);
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
    if latte and not score.row_thresholds:  # else each row brings its T on the query
        ports["thresholds"] = In(stream.Signature(layouts.threshold_write(score)))
    if latte and score.rounds == 2:
        ports["round1_thresholds"] = In(stream.Signature(layouts.threshold_write(score)))
    if cfg.row.monitor:
        ports["monitor"] = Out(MonitorSignature(cfg, parts, estimate=latte))
    return ports


class RowEnd(wiring.Component):
    """Passes scored keys from `i` to `o`, counting them; takes the datapath's row `summary` and
    offers it on `done` once its kept_count keys have passed, or in the cycle the last of them
    passes (the row is then complete). A complete row's `done` waits to be taken before the next
    row's keys pass; a summary is taken while no key waits (so a key on `o` stays until taken)."""

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
        complete = held & (count == self.done.payload.kept_count)
        passed = count + (self.o.valid & self.o.ready)
        m.d.comb += [self.o.payload.eq(self.i.payload),
                     self.o.valid.eq(self.i.valid & ~complete),
                     self.i.ready.eq(self.o.ready & ~complete),
                     self.summary.ready.eq(~held & ~self.i.valid),  # a waiting key never becomes the next row's
                     self.done.valid.eq(held & (passed == self.done.payload.kept_count))]
        with m.If(self.summary.valid & self.summary.ready):
            m.d.sync += [held.eq(1), self.done.payload.eq(self.summary.payload)]
        with m.If(self.done.valid & self.done.ready):
            m.d.sync += [held.eq(0), count.eq(0)]
        with m.Elif(self.o.valid & self.o.ready):
            m.d.sync += count.eq(count + 1)
        return m


def _shell(m, stage, parts, q_parts=None, overlap=False):
    """Row control (rows overlapped with `overlap`), key store and q buffer (banks `q_parts`, default
    `parts`) of a score stage, joined to the stage's ports. Returns (row control, key store, q buffer)."""
    cfg = stage.cfg
    m.submodules.row = row = RowControl(cfg, overlap=overlap) if overlap else RowControl(cfg)
    m.submodules.key_store = keys = VectorStore(cfg.score, parts=parts, capacity=cfg.score.max_keys,
                                                counter_bits=cfg.row.cycle_counter_bits if cfg.row.monitor else None)
    m.submodules.q_buffer = qbuf = VectorStore(cfg.score, parts=q_parts or parts, capacity=1)
    wiring.connect(m, wiring.flipped(stage.keys), row.keys)
    wiring.connect(m, wiring.flipped(stage.query), row.query)
    wiring.connect(m, row.key_load, keys.load)
    wiring.connect(m, row.q_load, qbuf.load)
    wiring.connect(m, row.rows, wiring.flipped(stage.rows))
    m.d.comb += [row.n_keys.eq(keys.n_keys), stage.n_keys.eq(keys.n_keys), stage.busy.eq(row.busy)]
    if cfg.row.monitor:
        m.d.comb += [getattr(stage.monitor.reads, p).eq(getattr(keys, f"{p}_reads")) for p in parts]
    return row, keys, qbuf


def _read_port(m, name, bank):
    """A latency-tolerant read port (`ReadPortSignature`) in front of an SRAM bank port; returns it."""
    m.submodules[name] = adapter = SRAMReadPort(len(bank.addr), bank.data.shape())
    wiring.connect(m, adapter.ram, bank)
    return adapter.port


def _pipeline(m, stage, keys, qbuf, *, parts, token_layout, operand_width, sum_width, acc_width, lsb_bits,
              select, prefix="", q_parts=None, key_ports=None, q_ports=None, lanes=None, outstanding=OUTSTANDING,
              operand_sum_width=0, lsb_once=False, first_round=False):
    """Token stream in → operand fetch → (with `lanes` below the words' lanes, a lane splitter) →
    multiply + adder tree → accumulator (with `operand_sum_width`, the operand sum beside: Q + S_j).
    Key and q words come through read ports: `key_ports` {part: port} where given (shared banks),
    else a port of its own on each bank; q words likewise (`q_ports`); `lsb_once`: OperandFetch's;
    `first_round`: the accumulator's (ROUND1 passes). Returns (token input, accumulator output) streams."""
    cfg = stage.cfg.score
    q_parts = parts if q_parts is None else q_parts
    m.submodules[prefix + "fetch"] = fetch = OperandFetch(
        cfg, token_layout=token_layout, parts=parts, part_shapes={p: part_shape(cfg, p) for p in parts + q_parts},
        operand_width=operand_width, key_addr_width=keys.addr_width, q_addr_width=qbuf.addr_width,
        select=select, q_parts=q_parts, outstanding=outstanding, lsb_once=lsb_once)
    for part in parts:
        port = (key_ports or {}).get(part) or _read_port(m, f"{prefix}k_{part}_port", getattr(keys, part))
        wiring.connect(m, getattr(fetch, f"k_{part}"), port)
    for part in q_parts:
        port = (q_ports or {}).get(part) or _read_port(m, f"{prefix}q_{part}_port", getattr(qbuf, part))
        wiring.connect(m, getattr(fetch, f"q_{part}"), port)
    operands = fetch.o
    if lanes and lanes != cfg.lanes:
        m.submodules[prefix + "split"] = split = LaneSplitter(cfg, token_layout=token_layout,
                                                              operand_width=operand_width, out_lanes=lanes)
        wiring.connect(m, fetch.o, split.i)
        operands = split.o
    m.submodules[prefix + "dot"] = dot = DotProduct(operand_layout=operands.payload.shape(), sum_width=sum_width,
                                                    operand_width=operand_width, lanes=lanes or cfg.lanes,
                                                    pipeline=cfg.pipeline, operand_sum_width=operand_sum_width)
    init_width = token_layout.members["init"].width
    m.submodules[prefix + "accumulator"] = acc = Accumulator(
        beat_layout=dot.o.payload.shape(), acc_width=acc_width, lsb_bits=lsb_bits,
        result_layout=layouts.acc_result(cfg, acc_width, init_width, operand_sum_width), first_round=first_round)
    wiring.connect(m, operands, dot.i)
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
    accumulator that produced HH (completion_lanes 0), or on a completion array of its own while
    the estimate goes on (completion_lanes C > 0, docs/architecture.md "Completion array").
    """

    PARTS = ("msb", "lsb")

    def __init__(self, cfg: LatteConfig):
        self.cfg = _checked(cfg)
        super().__init__(score_ports(cfg, self.PARTS, latte=True))

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg.score
        split = bool(cfg.completion_lanes)
        overlap = rows_overlap(cfg)
        row, keys, qbuf = _shell(m, self, self.PARTS, q_parts=("msb",) if split else self.PARTS,
                                 overlap=overlap or not split)
        if overlap:
            m.submodules.filter = filt = OverlapFilter(cfg)
            m.d.comb += [row.front_done.eq(filt.front_done), filt.front_take.eq(row.front_take)]
        else:
            m.submodules.filter = filt = ThresholdFilter(cfg, kept_depth_for(cfg) if split else KEPT_FIFO_DEPTH,
                                                         survivors=cfg.rounds == 2)
        m.submodules.completion = comp = CompletionUnit(cfg)
        m.submodules.row_fork = fork = EagerFork(layouts.row_job(cfg))
        wiring.connect(m, row.start, fork.i)
        m.d.comb += [  # the filter's job: N; the row's threshold beside it
            filt.job.valid.eq(fork.b.valid),
            filt.job.payload.n_keys.eq(fork.b.payload.n_keys),
            filt.threshold.eq(self._row_threshold(m, fork.b.payload)),
            fork.b.ready.eq(filt.job.ready),
        ]
        wiring.connect(m, filt.kept, comp.job)
        scores = _output(m, self, row, filt.summary)
        if not split:  # the next row's q may be written once the row's last completion token has read its q
            last_token = comp.o.valid & comp.o.ready & comp.o.payload.last
            m.d.comb += row.front_done.eq(filt.job.ready & (~comp.o.valid | last_token))
        if split:
            estimates = self._split_arrays(m, row, keys, qbuf, fork.a, comp, filt, scores)
        else:
            estimates = self._shared_array(m, keys, qbuf, fork.a, comp, scores, filt)
        wiring.connect(m, estimates, filt.estimate)
        if self.cfg.row.monitor:
            m.d.comb += [self.monitor.estimate.valid.eq(filt.estimate.valid & filt.estimate.ready),
                         self.monitor.estimate.payload.eq(filt.estimate.payload)]
        return m

    def _row_threshold(self, m, job, port="thresholds", name="threshold"):
        """The threshold of the row `job` starts: its own (row_thresholds), else its head's register `name`,
        written through `port` (`round1_thresholds`: T1; a write is accepted every cycle)."""
        if self.cfg.score.row_thresholds:
            return job.threshold
        m.submodules[port] = thr = threshold_registers(self.cfg.score, name)
        writes = getattr(self, port)
        m.d.comb += [
            writes.ready.eq(1),
            thr.write.valid.eq(writes.valid),
            thr.write.payload.eq(writes.payload),
            thr.head.eq(job.head),
        ]
        return thr.value

    def _shared_array(self, m, keys, qbuf, job, comp, scores, filt):
        """One nibble array: phase-1 and completion tokens merged by the arbiter (completion_lanes 0); with
        rounds 2 the first round's tokens and its survivors' HH tokens are phase 1 (`_first_round`).
        Returns the estimate stream for the filter."""
        cfg, w = self.cfg.score, self.cfg.score.widths
        rounds2 = cfg.rounds == 2
        if rounds2:
            phase1, round1 = self._first_round(m, job, comp.token_layout, filt)
        else:
            m.submodules.issuer = issuer = KeyIssuer(cfg, comp.token_layout)
            wiring.connect(m, job, issuer.job)
            phase1 = issuer.o
        m.submodules.arbiter = arb = TokenArbiter(comp.token_layout)
        wiring.connect(m, phase1, arb.phase1)
        wiring.connect(m, comp.o, arb.completion)
        select = round1_select(cfg.msb_bits - cfg.round1_msb_bits) if rounds2 else nibble_select
        tokens, results = _pipeline(
            m, self, keys, qbuf, parts=self.PARTS, token_layout=comp.token_layout,
            operand_width=w.nibble_width, sum_width=w.beat_sum_width, acc_width=w.accumulator_width,
            lsb_bits=w.lsb_bits, select=select, operand_sum_width=layouts.operand_sum_width(cfg),
            lsb_once=reads_lsb_once(cfg), first_round=rounds2)
        wiring.connect(m, arb.o, tokens)
        kind = results.payload.kind  # HH → the filter; ROUND1 → the first round's; an exact score → scores
        is_hh = kind == PassKind.HH
        estimates = _estimates(m, cfg, results, results.valid & is_hh)
        is_score = ~is_hh
        ready = Mux(is_hh, estimates.ready, scores.ready)
        if rounds2:
            is_round1 = kind == PassKind.ROUND1
            estimates1 = _estimates(m, cfg, results, results.valid & is_round1, cfg.bits - cfg.round1_msb_bits,
                                    "round1_estimates")
            wiring.connect(m, estimates1, round1)
            is_score = is_score & ~is_round1
            ready = Mux(is_round1, estimates1.ready, ready)
        m.d.comb += results.ready.eq(ready)
        _to_scores(m, results, scores, results.valid & is_score)
        return estimates

    def _first_round(self, m, job, token_layout, filt):
        """rounds 2: ROUND1 tokens for every key → the first round's filter (E1 against T1) → each survivor's
        HH tokens (they win the array over the next ROUND1 key) → `filt`, which takes the survivor count from
        the first round's summary. Returns (phase-1 token stream, the first round's estimate input)."""
        cfg = self.cfg.score
        m.submodules.round1_fork = fork = EagerFork(layouts.row_job(cfg))
        wiring.connect(m, job, fork.i)
        m.submodules.issuer = issuer = KeyIssuer(cfg, token_layout, kind=PassKind.ROUND1)
        wiring.connect(m, fork.a, issuer.job)
        # its survivors also wait behind the completion's tokens: one entry more than the filter's FIFO (absolute)
        m.submodules.round1_filter = first = ThresholdFilter(cfg, KEPT_FIFO_DEPTH + 1)
        m.d.comb += [
            first.job.valid.eq(fork.b.valid),
            first.job.payload.n_keys.eq(fork.b.payload.n_keys),
            first.threshold.eq(self._row_threshold(m, fork.b.payload, "round1_thresholds", "round1_threshold")),
            fork.b.ready.eq(first.job.ready),
        ]
        wiring.connect(m, first.summary, filt.count)
        m.submodules.survivor_issuer = survivors = CompletionUnit(cfg, SURVIVOR_PASSES)
        wiring.connect(m, first.kept, survivors.job)
        m.submodules.round1_arbiter = arb = TokenArbiter(token_layout)
        wiring.connect(m, issuer.o, arb.phase1)
        wiring.connect(m, survivors.o, arb.completion)
        return arb.o, first.estimate

    def _split_arrays(self, m, row, keys, qbuf, job, comp, filt, scores):
        """An estimate array of `lanes` (HH of every key) and a completion array of `completion_lanes`
        (HL, LH, LL of kept keys, each stored word over lanes / C cycles) running at once. The MSB key
        bank has one read port: the completion's LH reads win it, one cycle per word, the estimate waits
        (beats cycles per kept key). In absolute mode the estimate's keys take credits so an HH never waits for the kept
        FIFO (the estimate then never holds the port). Returns the estimate stream for the filter."""
        cfg, w = self.cfg.score, self.cfg.score.widths
        if rows_overlap(cfg):
            cq, q_ports = _completion_q_banks(m, cfg, row, self.PARTS)
        else:
            m.submodules.completion_q = cq = VectorStore(cfg, parts=self.PARTS, capacity=1)
            m.d.comb += [cq.load.valid.eq(row.q_load.valid), cq.load.payload.eq(row.q_load.payload)]
            q_ports = None
        m.submodules.k_msb_arbiter = msb = ReadArbiter(keys.addr_width, keys.msb.data.shape())
        wiring.connect(m, msb.o, _read_port(m, "k_msb_port", keys.msb))

        est_token = layouts.token(cfg, 1)
        m.submodules.issuer = issuer = KeyIssuer(cfg, est_token)
        wiring.connect(m, job, issuer.job)
        tokens, results = _pipeline(
            m, self, keys, qbuf, parts=("msb",), token_layout=est_token, operand_width=w.nibble_width,
            sum_width=w.beat_sum_width, acc_width=w.hh_width, lsb_bits=w.lsb_bits, select=nibble_select,
            key_ports={"msb": msb.second}, operand_sum_width=layouts.operand_sum_width(cfg))
        if cfg.threshold_mode == "absolute":
            m.submodules.credits = credits = KeyCredits(est_token, filt.kept_depth)
            wiring.connect(m, issuer.o, credits.i)
            wiring.connect(m, credits.o, tokens)
            m.d.comb += [credits.returned.eq(filt.estimate.valid & filt.estimate.ready),
                         credits.queued.eq(filt.queued)]
        else:
            wiring.connect(m, issuer.o, tokens)
        estimates = _estimates(m, cfg, results, results.valid)
        m.d.comb += results.ready.eq(estimates.ready)

        # From r = 2 the LH word's response is buffered: the completion then holds the MSB port one cycle
        # per word while the lane splitter still works on the previous word.
        c_msb = msb.first
        if cfg.completion_ratio > 1:
            m.submodules.completion_msb_buffer = buf = ResponseBuffer(keys.addr_width, keys.msb.data.shape())
            wiring.connect(m, buf.o, msb.first)
            c_msb = buf.i
        c_tokens, exact = _pipeline(
            m, self, keys, cq, parts=self.PARTS, token_layout=comp.token_layout, operand_width=w.nibble_width,
            sum_width=w.completion_beat_sum_width, acc_width=w.accumulator_width, lsb_bits=w.lsb_bits,
            select=nibble_select, prefix="completion_", key_ports={"msb": c_msb}, q_ports=q_ports,
            lanes=cfg.completion_lanes, lsb_once=reads_lsb_once(cfg))
        wiring.connect(m, comp.o, c_tokens)
        m.d.comb += exact.ready.eq(scores.ready)
        _to_scores(m, exact, scores, exact.valid)
        return estimates


def _completion_q_banks(m, cfg, row, parts):
    """Two q copies for the completion array: row r+1's q is written into one while the completion
    still reads row r's from the other (a row's bank flips with its last q beat on the write side,
    with its end-of-row record on the read side). Returns (a bank, for its address width, and
    {part: read port})."""
    banks = [VectorStore(cfg, parts=parts, capacity=1) for _ in range(2)]
    wsel, rsel = Signal(), Signal()
    for i, bank in enumerate(banks):
        m.submodules[f"completion_q{i}"] = bank
        m.d.comb += [bank.load.valid.eq(row.q_load.valid & (wsel == i)), bank.load.payload.eq(row.q_load.payload)]
    with m.If(row.q_load.valid & row.q_load.ready & row.q_load.payload.last):
        m.d.sync += wsel.eq(~wsel)
    with m.If(row.done.valid & row.done.ready):
        m.d.sync += rsel.eq(~rsel)
    ports = {}
    for part in parts:
        b0, b1 = (getattr(b, part) for b in banks)
        m.submodules[f"completion_q_{part}_port"] = adapter = SRAMReadPort(len(b0.addr), b0.data.shape())
        held = Signal()  # the bank of the last read: its data shows until the next read
        m.d.comb += [b0.addr.eq(adapter.ram.addr), b1.addr.eq(adapter.ram.addr),
                     b0.en.eq(adapter.ram.en & ~rsel), b1.en.eq(adapter.ram.en & rsel),
                     adapter.ram.data.eq(Mux(held, b1.data, b0.data))]
        with m.If(adapter.ram.en):
            m.d.sync += held.eq(rsel)
        ports[part] = adapter.port
    return banks[0], ports


def kept_depth_for(cfg) -> int:
    """Kept FIFO depth with a completion array: the keys phase 1 has in flight (its last token to its HH
    takes about 4 cycles) plus two waiting, so the credits never slow the estimate while the
    completion keeps up; at least KEPT_FIFO_DEPTH."""
    return max(KEPT_FIFO_DEPTH, -(-(cfg.beats + 5) // cfg.beats) + 2)


def _estimates(m, cfg, results, valid, lsb_bits=None, name="estimates"):
    """The estimate stream for the filter from the accumulator's HH `results` (valid with `valid`): the
    index, HH and, with the centred estimate, E (dot.centred_estimate, from the pass's Q + S_j; `lsb_bits`:
    the pass's l, default the design's; a first round's is bits − m1)."""
    estimates = stream.Signature(layouts.estimate(cfg)).create(path=(name,))
    m.d.comb += [
        estimates.valid.eq(valid),
        estimates.payload.index.eq(results.payload.index),
        estimates.payload.hh.eq(results.payload.value),
    ]
    if cfg.estimate == "centred":
        m.d.comb += estimates.payload.centred.eq(
            centred_estimate(results.payload.value, results.payload.operand_sum,
                             cfg.lsb_bits if lsb_bits is None else lsb_bits))
    return estimates


def _to_scores(m, results, scores, valid):
    """An exact score from the accumulator `results` into the score register."""
    m.d.comb += [
        scores.valid.eq(valid),
        scores.payload.index.eq(results.payload.index),
        scores.payload.score.eq(results.payload.value),
        scores.payload.estimate.eq(results.payload.init),
    ]


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
        m.submodules.row_fork = fork = EagerFork(layouts.row_job(cfg))  # the summary may go first
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
