"""Per-head threshold registers and the threshold filter (running max, keep decision)."""

from types import SimpleNamespace

from amaranth import Array, Cat, Module, Mux, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..config import ScoreConfig
from . import layouts
from .sram import SRAM

# Absolute mode: completion tokens take the shared array as soon as a kept key waits, so in the score
# stage this FIFO holds at most the keys whose HH beats were already in the pipeline (≤ 3); a full
# FIFO still stalls `estimate` (backpressure), so no kept key is lost under any consumer. With a
# completion array the stage sizes it (`kept_depth`) and never lets it fill (score.py's credits).
KEPT_FIFO_DEPTH = 4


class HeadRegisterFile(wiring.Component):
    """`heads` registers of `shape` (reset value 0), written through `write` (head, value; heads
    past the last are ignored), read combinationally by `head` on `value`."""

    def __init__(self, heads: int, head_width: int, shape, name: str = "reg"):
        self.heads, self.shape, self.name = heads, shape, name
        super().__init__({
            "write": In(stream.Signature(data.StructLayout({"head": head_width, "value": shape}), always_ready=True)),
            "head": In(head_width),
            "value": Out(shape),
        })

    def elaborate(self, platform):
        m = Module()
        regs = Array(Signal(self.shape, name=f"{self.name}_{h}") for h in range(self.heads))
        with m.If(self.write.valid & (self.write.payload.head < self.heads)):
            m.d.sync += regs[self.write.payload.head].eq(self.write.payload.value)
        m.d.comb += self.value.eq(regs[0] if self.heads == 1 else regs[self.head])
        return m


def threshold_registers(cfg: ScoreConfig, name: str = "threshold") -> HeadRegisterFile:
    """The per-head threshold registers of the LATTE filter (`round1_threshold`: of its first round, T1)."""
    return HeadRegisterFile(cfg.heads, cfg.widths.head_width, layouts.threshold_shape(cfg), name)


class ThresholdFilter(wiring.Component):
    """Decides which keys of a row are kept and hands them on, in index order, on `kept`.

    A row starts with `job` (N), its threshold sampled from `threshold` as the job is taken; `estimate`
    then brings the estimate E of each of the N keys (HH, or the centred E beside it; layouts.estimate)
    (ready for exactly N a row; in relative mode at once, every cycle). Absolute mode
    (keep ⇔ E ≥ T) queues kept keys at once in a FIFO of `kept_depth` (shown on `queued`); a kept key
    that finds it full waits on `estimate` (ready low). Relative mode
    (keep ⇔ E ≥ max − T) writes every estimate into the estimate buffer, `scan_width` per word; once
    all N are in (the max is final) it reads one word per cycle, compares all of its lanes at
    once and offers the kept ones (with their HH, which the completion reuses). Keys below
    `sink_keys` and keys j ≥ N − `window_keys` (N: the row's visible keys, the job's) are kept in
    either mode whatever their E.
    When every kept key has been handed on, `summary` offers (kept_count, max_estimate); the next
    job is taken after it.

    With `survivors` (rounds 2, the second round) the estimates are those of a first round's survivors
    only, in index order: their number comes on `count` (the first round's summary, its kept_count) during
    the row; the estimate buffer keeps each one's index beside it, and the max is theirs.
    """

    def __init__(self, cfg: ScoreConfig, kept_depth: int = KEPT_FIFO_DEPTH, survivors: bool = False):
        self.cfg, self.kept_depth, self.survivors = cfg, kept_depth, survivors
        members = {
            "job": In(stream.Signature(layouts.filter_job(cfg))),
            "threshold": In(layouts.threshold_shape(cfg)),
            "estimate": In(stream.Signature(layouts.estimate(cfg))),
            "kept": Out(stream.Signature(layouts.estimate(cfg))),
            "summary": Out(stream.Signature(layouts.row_summary(cfg))),
            "queued": Out(range(kept_depth + 1)),  # absolute mode: kept keys waiting in the FIFO
        }
        if survivors:
            members["count"] = In(stream.Signature(layouts.row_summary(cfg)))  # its kept_count: the estimates due
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        w = self.cfg.widths
        est, summary = self.estimate, self.summary.payload
        active, have_max = Signal(name="active"), Signal(name="have_max")
        n_keys = Signal(w.count_width)
        threshold = Signal(layouts.threshold_shape(self.cfg))
        seen = Signal(w.count_width)
        # Row state shared with the mode-specific parts (_absolute, _relative, _scan):
        self._start = Signal()  # a row begins this cycle
        self._all_seen = Signal()
        self._accepting = Signal()  # a row takes estimates: never more than its N (so its summary stays offered)
        self._drained = Signal()  # set by the mode: nothing kept is left to hand on
        self._threshold = threshold
        self._n_keys = n_keys
        self._positions = n_keys  # estimates due in the row (its keys, or the first round's survivors)
        if self.survivors:
            self._positions = self._survivor_count(m, active)
        m.d.comb += [
            self.job.ready.eq(~active),
            self._start.eq(self.job.valid & self.job.ready),
            self._all_seen.eq((self._count_known & (seen == self._positions)) if self.survivors else seen == n_keys),
            self._accepting.eq(active & ~self._all_seen),
            self.summary.valid.eq(active & self._all_seen & self._drained),
        ]
        with m.If(self._start):
            m.d.sync += [active.eq(1), have_max.eq(0), summary.max_estimate.eq(0), summary.kept_count.eq(0),
                         seen.eq(0), n_keys.eq(self.job.payload.n_keys), threshold.eq(self.threshold)]
        with m.If(self.summary.valid & self.summary.ready):
            m.d.sync += active.eq(0)
        value = layouts.compared(self.cfg, est.payload)
        with m.If(est.valid & est.ready):
            m.d.sync += seen.eq(seen + 1)
            with m.If(~have_max | (value > summary.max_estimate)):
                m.d.sync += [have_max.eq(1), summary.max_estimate.eq(value)]
        with m.If(self.kept.valid & self.kept.ready):
            m.d.sync += summary.kept_count.eq(summary.kept_count + 1)
        if self.cfg.threshold_mode == "absolute":
            self._absolute(m)
        else:
            self._relative(m, active)
        return m

    def _survivor_count(self, m, active):
        """The first round's survivor count, taken from `count` once a row: (the count register; `_count_known`)."""
        count = Signal(self.cfg.widths.count_width, name="survivor_count")
        self._count_known = known = Signal(name="count_known")
        m.d.comb += self.count.ready.eq(active & ~known)
        with m.If(self._start):
            m.d.sync += known.eq(0)
        with m.Elif(self.count.valid & self.count.ready):
            m.d.sync += [known.eq(1), count.eq(self.count.payload.kept_count)]
        return count

    def _or_always(self, keep, index):
        """`keep`, or key `index` is always kept: an attention sink (j < sink_keys) or in the row's recent
        window (j ≥ N − window_keys, as j + W ≥ N); no logic without either."""
        if self.cfg.sink_keys:
            keep = keep | (index < self.cfg.sink_keys)
        if self.cfg.window_keys:
            keep = keep | (index + self.cfg.window_keys >= self._n_keys)
        return keep

    def _absolute(self, m):
        m.submodules.kept_fifo = fifo = SyncFIFO(width=layouts.estimate(self.cfg).size, depth=self.kept_depth)
        keep = Signal()
        value = layouts.compared(self.cfg, self.estimate.payload)
        m.d.comb += [
            keep.eq(self._or_always(value >= self._threshold, self.estimate.payload.index)),
            self.estimate.ready.eq(self._accepting & (~keep | fifo.w_rdy)),
            fifo.w_data.eq(self.estimate.payload.as_value()),
            fifo.w_en.eq(self.estimate.valid & self.estimate.ready & keep),
            self.kept.valid.eq(fifo.r_rdy),
            self.kept.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.kept.valid & self.kept.ready),  # its own net: `kept` stays a stream of ports
            self._drained.eq(~fifo.r_rdy),
            self.queued.eq(fifo.level),
        ]

    def _entry_layout(self):
        """A buffered estimate; with `survivors` beside its key's index (the buffer then holds them in order)."""
        if self.survivors:
            return data.StructLayout({"estimate": layouts.buffered_estimate(self.cfg),
                                      "index": self.cfg.widths.index_width})
        return layouts.buffered_estimate(self.cfg)

    def _entry(self, entry, position):
        """(buffered estimate, key index) of a buffer entry at key position `position`."""
        return (entry.estimate, entry.index) if self.survivors else (entry, position)

    def _relative(self, m, active):
        width = self.cfg.widths.scan_width
        words = -(-self.cfg.max_keys // width)
        word_layout = data.ArrayLayout(self._entry_layout(), width)
        m.submodules.estimate_buffer = buf = SRAM(width=word_layout.size, depth=words,
                                                  granularity=Shape.cast(word_layout.elem_shape).width)
        m.d.comb += self.estimate.ready.eq(self._accepting)
        self._write(m, [buf], None, self._start, words)
        self._scan(m, buf, word_layout, words, scanning=active & self._all_seen)

    def _write(self, m, banks, bank, start, words):
        """The estimate of key i (layouts.buffered_estimate) into word i // scan_width, lane i % scan_width
        (counters, no division) of `banks[bank]` (one bank: `bank` is None)."""
        width = self.cfg.widths.scan_width
        wr_word = Signal(range(words))
        wr_lane = Signal(range(max(2, width)))
        entry = self.estimate.payload.hh
        if self.cfg.estimate == "centred":
            entry = Cat(self.estimate.payload.hh, self.estimate.payload.centred)  # layouts.buffered_estimate
        if self.survivors:
            entry = Cat(entry, self.estimate.payload.index)  # _entry_layout
        taken = self.estimate.valid & self.estimate.ready
        for i, buf in enumerate(banks):
            valid = taken if bank is None else taken & (bank == i)
            m.d.comb += [
                buf.waddr.eq(wr_word),
                buf.wdata.eq(Cat(*([entry] * width))),
                buf.wen.eq(Cat(*((valid & (wr_lane == j)) for j in range(width)))),
            ]
        with m.If(start):
            m.d.sync += [wr_word.eq(0), wr_lane.eq(0)]
        with m.Elif(taken):
            with m.If(wr_lane == width - 1):
                m.d.sync += [wr_lane.eq(0), wr_word.eq(wr_word + 1)]
            with m.Else():
                m.d.sync += wr_lane.eq(wr_lane + 1)

    def _scan(self, m, buf, word_layout, words, scanning):
        """Once the max is final: read word `rd_word`, compare its lanes in the cycle it arrives (a word
        without kept keys is passed over at once: the next one is read in that cycle), then hand on its kept
        keys, lowest index first, with their estimates straight from the buffer's read register, which holds
        the word until the next read (issued once its last kept key is taken)."""
        width = self.cfg.widths.scan_width
        positions = self._positions
        rd_word = Signal(range(words + 1))
        rd_base = Signal(range(words * width + 1))  # first key of word rd_word
        fetched = Signal()  # buf.rdata holds a word just read, not yet compared
        word_base = Signal(range(words * width + 1))  # first key of the word in buf.rdata
        cur_bits = Signal(width)  # its kept keys not yet handed on (0 while `fetched`)

        lowest = Signal(range(max(2, width)))
        for i in reversed(range(width)):
            with m.If(cur_bits[i]):
                m.d.comb += lowest.eq(i)
        take = Signal()
        remaining = Signal(width)
        rdata = data.View(word_layout, buf.rdata)
        kept_entry, kept_index = self._entry(rdata[lowest], word_base + lowest)
        kept_hh, kept_value = layouts.buffered_fields(self.cfg, kept_entry)
        if self.cfg.estimate == "centred":
            m.d.comb += self.kept.payload.centred.eq(kept_value)
        m.d.comb += [
            self.kept.valid.eq(cur_bits != 0),
            self.kept.payload.index.eq(kept_index),
            self.kept.payload.hh.eq(kept_hh),
            take.eq(self.kept.valid & self.kept.ready),
            remaining.eq(cur_bits & ~(take << lowest)),
        ]

        bound = self.summary.payload.max_estimate - self._threshold  # widened: no overflow
        def keeps(i):
            entry, index = self._entry(rdata[i], word_base + i)
            return ((word_base + i) < positions) & self._or_always(layouts.buffered_fields(self.cfg, entry)[1] >= bound,
                                                                index)
        keep_bits = Cat(*(keeps(i) for i in range(width)))
        fetch = Signal()
        word_done = Mux(fetched, keep_bits == 0, remaining == 0)  # nothing of buf.rdata's word left after this cycle
        m.d.comb += [
            fetch.eq(scanning & (rd_base < positions) & word_done),
            buf.raddr.eq(rd_word),
            buf.ren.eq(fetch),
            self._drained.eq((rd_base >= positions) & ~fetched & (cur_bits == 0)),
        ]
        with m.If(self._start):
            m.d.sync += [fetched.eq(0), cur_bits.eq(0), rd_word.eq(0), rd_base.eq(0)]
        with m.Else():
            m.d.sync += cur_bits.eq(Mux(fetched, keep_bits, remaining))
            m.d.sync += fetched.eq(fetch)
            with m.If(fetch):
                m.d.sync += [rd_word.eq(rd_word + 1), rd_base.eq(rd_base + width), word_base.eq(rd_base)]
        return m


class OverlapFilter(ThresholdFilter):
    """Relative mode with rows overlapped (a completion array): the collect side takes row r+1's
    HH into one bank of a double-banked estimate buffer (and its max) while the scan side hands on
    row r's kept keys from the other bank. A collected row moves to the scan side when the scan side
    is free and the row control takes it (`front_done` while `front_take`: the estimate array and
    its q buffer are then free for the next row). The two banks are two SRAMs of `max_keys` HH: one
    is written while the other is read, so no macro is written and read in the same cycle (a
    single-port macro serves each)."""

    def __init__(self, cfg: ScoreConfig):
        if cfg.threshold_mode != "relative":
            raise ValueError(f"threshold_mode must be 'relative', not {cfg.threshold_mode!r}")
        self.cfg, self.kept_depth, self.survivors = cfg, KEPT_FIFO_DEPTH, False
        wiring.Component.__init__(self, {
            "job": In(stream.Signature(layouts.filter_job(cfg))),
            "threshold": In(layouts.threshold_shape(cfg)),
            "estimate": In(stream.Signature(layouts.estimate(cfg))),
            "kept": Out(stream.Signature(layouts.estimate(cfg))),
            "summary": Out(stream.Signature(layouts.row_summary(cfg))),
            "front_done": Out(1),
            "front_take": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.cfg.widths
        est, summary = self.estimate, self.summary.payload
        width = w.scan_width
        words = -(-self.cfg.max_keys // width)
        word_layout = data.ArrayLayout(layouts.buffered_estimate(self.cfg), width)
        banks = [SRAM(width=word_layout.size, depth=words, granularity=Shape.cast(word_layout.elem_shape).width)
                 for _ in range(2)]
        m.submodules.estimate_buffer = banks[0]
        m.submodules.estimate_buffer_1 = banks[1]
        # collect side: row r+1
        collecting, have_max, bank = Signal(), Signal(), Signal()
        n_keys, seen = Signal(w.count_width), Signal(w.count_width)
        threshold = Signal(layouts.threshold_shape(self.cfg), reset_less=True)  # loads with a job only
        max_estimate = Signal.like(summary.max_estimate, name="max_hh")  # the HH-only filter's Verilog name
        # scan side: row r
        scanning, scan_bank = Signal(), Signal()
        self._n_keys = Signal(w.count_width)
        self._positions = self._n_keys
        self._threshold = Signal(layouts.threshold_shape(self.cfg), reset_less=True)  # loads at the hand-over
        self._start, self._drained = Signal(), Signal()
        start = self.job.valid & self.job.ready
        m.d.comb += [
            self.job.ready.eq(~collecting),
            est.ready.eq(1),
            self.front_done.eq(collecting & (seen == n_keys) & ~scanning),
            self._start.eq(self.front_done & self.front_take),
            self.summary.valid.eq(scanning & self._drained),
        ]
        with m.If(start):
            m.d.sync += [collecting.eq(1), have_max.eq(0), max_estimate.eq(0), seen.eq(0),
                         n_keys.eq(self.job.payload.n_keys), threshold.eq(self.threshold)]
        value = layouts.compared(self.cfg, est.payload)
        with m.If(est.valid):
            m.d.sync += seen.eq(seen + 1)
            with m.If(~have_max | (value > max_estimate)):
                m.d.sync += [have_max.eq(1), max_estimate.eq(value)]
        with m.If(self._start):
            m.d.sync += [collecting.eq(0), scanning.eq(1), bank.eq(~bank), scan_bank.eq(bank),
                         self._n_keys.eq(n_keys), self._threshold.eq(threshold),
                         summary.max_estimate.eq(max_estimate), summary.kept_count.eq(0)]
        with m.If(self.summary.valid & self.summary.ready):
            m.d.sync += scanning.eq(0)
        with m.If(self.kept.valid & self.kept.ready):
            m.d.sync += summary.kept_count.eq(summary.kept_count + 1)
        self._write(m, banks, bank, start, words)
        scan_port = SimpleNamespace(raddr=Signal(range(words)), ren=Signal(),
                                    rdata=Mux(scan_bank, banks[1].rdata, banks[0].rdata))
        for i, buf in enumerate(banks):
            m.d.comb += [buf.raddr.eq(scan_port.raddr), buf.ren.eq(scan_port.ren & (scan_bank == i))]
        self._scan(m, scan_port, word_layout, words, scanning=scanning)
        return m

