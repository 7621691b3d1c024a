"""Completion unit: turns each kept key into the tokens that finish its exact score."""

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import ScoreConfig
from . import layouts
from .layouts import PassKind

# The three completion passes: (kind, q_low, k_low). HL and LH accumulate on top of HH << l,
# LL on top of that << l (dot.Accumulator does the shifts).
PASSES = ((PassKind.MID, 0, 1), (PassKind.MID, 1, 0), (PassKind.LOW, 1, 1))
# rounds 2: a first-round survivor's one pass, its HH (the estimate round 2 compares).
SURVIVOR_PASSES = ((PassKind.HH, 0, 0),)


class CompletionUnit(wiring.Component):
    """Takes a kept key (`job`: index, HH) and offers 3 × beats tokens on `o`: HL, LH, LL (`passes`, default
    PASSES; SURVIVOR_PASSES: a survivor's HH pass, beats tokens).

    The first token comes from the job itself (the job is taken with it); the rest follow back
    to back, one per transfer.
    """

    def __init__(self, cfg: ScoreConfig, passes=PASSES):
        self.cfg, self.passes = cfg, passes
        self.token_layout = layouts.token(cfg, cfg.widths.hh_width)
        super().__init__({
            "job": In(stream.Signature(layouts.estimate(cfg))),
            "o": Out(stream.Signature(self.token_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        beats = self.cfg.beats
        index = Signal.like(self.job.payload.index)
        hh = Signal.like(self.job.payload.hh)
        step_pass = Signal(range(max(2, len(self.passes))))
        step_beat = Signal(range(max(2, beats)))
        busy = Signal()  # a job has tokens left after the first

        tok = self.o.payload
        with m.If(busy):
            m.d.comb += [tok.index.eq(index), tok.init.eq(hh)]
        with m.Else():
            m.d.comb += [tok.index.eq(self.job.payload.index), tok.init.eq(self.job.payload.hh)]
        passes = self.passes
        for n, (kind, q_low, k_low) in enumerate(passes):
            with m.If(step_pass == n):
                m.d.comb += [tok.kind.eq(kind), tok.q_low.eq(q_low), tok.k_low.eq(k_low)]
        first = step_beat == 0
        for n in range(1, len(passes)):
            if passes[n][0] == passes[n - 1][0] == PassKind.MID:  # LH accumulates on HL
                first = first & (step_pass != n)
        m.d.comb += [
            tok.beat.eq(step_beat),
            tok.first.eq(first),
            tok.last.eq((step_beat == beats - 1) & (step_pass == len(passes) - 1)),
            self.o.valid.eq(busy | self.job.valid),
            self.job.ready.eq(~busy & self.o.ready),
        ]

        with m.If(self.job.valid & self.job.ready):
            m.d.sync += [index.eq(self.job.payload.index), hh.eq(self.job.payload.hh)]
        with m.If(self.o.valid & self.o.ready):
            with m.If(step_beat == beats - 1):
                m.d.sync += step_beat.eq(0)
                with m.If(step_pass == len(self.passes) - 1):
                    m.d.sync += [step_pass.eq(0), busy.eq(0)]
                with m.Else():
                    m.d.sync += [step_pass.eq(step_pass + 1), busy.eq(1)]
            with m.Else():
                m.d.sync += [step_beat.eq(step_beat + 1), busy.eq(1)]
        return m
