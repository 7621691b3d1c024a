"""Per-head threshold registers and the threshold filter (running max, keep decision)."""

from amaranth import Array, Cat, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from . import layouts
from .config import LatteConfig
from .sram import SRAM

# Absolute mode: the engine issues a key's HH beats only while this FIFO is empty and pauses
# phase 1 while it is not, so it holds at most the keys in flight in the pipeline (≤ 3).
KEPT_FIFO_DEPTH = 4


class ThresholdRegisterFile(wiring.Component):
    """`heads` threshold registers (reset value 0), written through `write`, read by `head`."""

    def __init__(self, cfg: LatteConfig):
        self.cfg = cfg
        super().__init__({
            "write": In(stream.Signature(layouts.threshold_write(cfg), always_ready=True)),
            "head": In(cfg.head_width),
            "threshold": Out(layouts.threshold_shape(cfg)),
        })

    def elaborate(self, platform):
        m = Module()
        shape = layouts.threshold_shape(self.cfg)
        regs = Array(Signal(shape, name=f"threshold_{h}") for h in range(self.cfg.heads))
        with m.If(self.write.valid & (self.write.payload.head < self.cfg.heads)):
            m.d.sync += regs[self.write.payload.head].eq(self.write.payload.value)
        if self.cfg.heads == 1:
            m.d.comb += self.threshold.eq(regs[0])
        else:
            m.d.comb += self.threshold.eq(regs[self.head])
        return m


class ThresholdFilter(wiring.Component):
    """Decides which keys of a row are kept and hands them on, in index order, as `kept`.

    `estimate` (no backpressure) carries each key's HH as phase 1 computes it; `start` begins
    a row (clears the running max). Absolute mode (keep ⇔ HH ≥ T) queues kept keys at once.
    Relative mode (keep ⇔ HH ≥ max − T) writes every HH into the estimate buffer, `scan_width`
    per word; after `scan` (phase 1 done, max final) it reads one word per cycle, compares all
    of its lanes at once and offers the kept ones. `done`: every kept key has been handed on.
    """

    def __init__(self, cfg: LatteConfig):
        self.cfg = cfg
        super().__init__({
            "estimate": In(stream.Signature(layouts.estimate(cfg), always_ready=True)),
            "threshold": In(layouts.threshold_shape(cfg)),
            "n_keys": In(cfg.count_width),
            "start": In(1),
            "scan": In(1),
            "kept": Out(stream.Signature(layouts.estimate(cfg))),
            "max_estimate": Out(signed(cfg.hh_width)),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        est = self.estimate
        have_max = Signal()
        with m.If(self.start):
            m.d.sync += [have_max.eq(0), self.max_estimate.eq(0)]
        with m.Elif(est.valid & (~have_max | (est.payload.hh > self.max_estimate))):
            m.d.sync += [have_max.eq(1), self.max_estimate.eq(est.payload.hh)]
        if self.cfg.threshold_mode == "absolute":
            self._absolute(m)
        else:
            self._relative(m)
        return m

    def _absolute(self, m):
        cfg = self.cfg
        m.submodules.kept_fifo = fifo = SyncFIFO(width=cfg.index_width + cfg.hh_width, depth=KEPT_FIFO_DEPTH)
        m.d.comb += [
            fifo.w_data.eq(self.estimate.payload.as_value()),
            fifo.w_en.eq(self.estimate.valid & (self.estimate.payload.hh >= self.threshold)),
            self.kept.valid.eq(fifo.r_rdy),
            self.kept.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.kept.ready),
            self.done.eq(~fifo.r_rdy),
        ]

    def _relative(self, m):
        cfg = self.cfg
        width = cfg.scan_width
        words = -(-cfg.max_keys // width)
        word_layout = data.ArrayLayout(signed(cfg.hh_width), width)
        m.submodules.estimate_buffer = buf = SRAM(width=word_layout.size, depth=words, granularity=cfg.hh_width)

        # Phase 1: HH of key i goes to word i // width, lane i % width (counters, no division).
        wr_word = Signal(range(words))
        wr_lane = Signal(range(max(2, width)))
        m.d.comb += [
            buf.waddr.eq(wr_word),
            buf.wdata.eq(Cat(*([self.estimate.payload.hh] * width))),
            buf.wen.eq(Cat(*((self.estimate.valid & (wr_lane == i)) for i in range(width)))),
        ]
        with m.If(self.start):
            m.d.sync += [wr_word.eq(0), wr_lane.eq(0)]
        with m.Elif(self.estimate.valid):
            with m.If(wr_lane == width - 1):
                m.d.sync += [wr_lane.eq(0), wr_word.eq(wr_word + 1)]
            with m.Else():
                m.d.sync += wr_lane.eq(wr_lane + 1)

        # Phase 2: prefetch word `rd_word` while the current word's kept keys are handed on.
        scanning = Signal()
        rd_word = Signal(range(words + 1))
        rd_base = Signal(range(words * width + 1))  # first key of word rd_word
        fetched = Signal()  # buf.rdata holds an unconsumed word whose first key is fetched_base
        fetched_base = Signal(range(words * width + 1))
        cur_bits = Signal(width)
        cur_hh = Signal(word_layout)
        cur_base = Signal(range(words * width + 1))

        lowest = Signal(range(max(2, width)))
        for i in reversed(range(width)):
            with m.If(cur_bits[i]):
                m.d.comb += lowest.eq(i)
        take = Signal()
        remaining = Signal(width)
        m.d.comb += [
            self.kept.valid.eq(cur_bits != 0),
            self.kept.payload.index.eq(cur_base + lowest),
            self.kept.payload.hh.eq(cur_hh[lowest]),
            take.eq(self.kept.valid & self.kept.ready),
            remaining.eq(cur_bits & ~(take << lowest)),
        ]

        rdata = data.View(word_layout, buf.rdata)
        bound = self.max_estimate - self.threshold  # widened by Amaranth: no overflow
        keep_bits = Cat(*(((fetched_base + i) < self.n_keys) & (rdata[i] >= bound) for i in range(width)))
        load = Signal()
        fetch = Signal()
        m.d.comb += [
            load.eq(fetched & (remaining == 0)),
            fetch.eq(scanning & (rd_base < self.n_keys) & (~fetched | load)),
            buf.raddr.eq(rd_word),
            buf.ren.eq(fetch),
            self.done.eq(scanning & (rd_base >= self.n_keys) & ~fetched & (cur_bits == 0)),
        ]
        with m.If(self.start):
            m.d.sync += [scanning.eq(0), fetched.eq(0), cur_bits.eq(0), rd_word.eq(0), rd_base.eq(0)]
        with m.Else():
            with m.If(self.scan):
                m.d.sync += scanning.eq(1)
            with m.If(load):
                m.d.sync += [cur_bits.eq(keep_bits), cur_hh.eq(rdata), cur_base.eq(fetched_base)]
            with m.Else():
                m.d.sync += cur_bits.eq(remaining)
            with m.If(fetch):
                m.d.sync += [
                    rd_word.eq(rd_word + 1), rd_base.eq(rd_base + width),
                    fetched.eq(1), fetched_base.eq(rd_base),
                ]
            with m.Elif(load):
                m.d.sync += fetched.eq(0)
