"""Completion unit: turns each kept key into the beats that finish its exact score."""

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from . import layouts
from .config import LatteConfig
from .layouts import KIND_LOW, KIND_MID

# The three completion passes: (kind, q_low, k_low). HL and LH accumulate on top of HH << l,
# LL on top of that << l (Estimator does the shifts).
PASSES = ((KIND_MID, 0, 1), (KIND_MID, 1, 0), (KIND_LOW, 1, 1))


class CompletionUnit(wiring.Component):
    """Accepts a kept key (`job`: index, HH) and issues 3 × beats tokens: HL, LH, LL.

    Only while `enable` is high does it accept a job or issue a token (one per cycle); the first
    token is issued in the cycle the job is accepted. `issuing` is high in every cycle it
    issues; `busy` while a job has tokens left after this cycle.
    """

    def __init__(self, cfg: LatteConfig):
        self.cfg = cfg
        self.token_layout = layouts.token(cfg, cfg.hh_width)
        super().__init__({
            "job": In(stream.Signature(layouts.estimate(cfg))),
            "enable": In(1),
            "token": Out(self.token_layout),
            "issuing": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        beats = self.cfg.beats
        index = Signal.like(self.job.payload.index)
        hh = Signal.like(self.job.payload.hh)
        step_pass = Signal(range(len(PASSES)))
        step_beat = Signal(range(max(2, beats)))

        start = Signal()
        m.d.comb += [
            start.eq(self.enable & ~self.busy & self.job.valid),
            self.job.ready.eq(self.enable & ~self.busy),
            self.issuing.eq(start | (self.enable & self.busy)),
        ]
        # Tokens come from the job itself on its first cycle, from registers afterwards.
        with m.If(self.busy):
            m.d.comb += [self.token.index.eq(index), self.token.init.eq(hh)]
        with m.Else():
            m.d.comb += [self.token.index.eq(self.job.payload.index), self.token.init.eq(self.job.payload.hh)]
        for n, (kind, q_low, k_low) in enumerate(PASSES):
            with m.If(step_pass == n):
                m.d.comb += [self.token.kind.eq(kind), self.token.q_low.eq(q_low), self.token.k_low.eq(k_low)]
        m.d.comb += [
            self.token.beat.eq(step_beat),
            self.token.first.eq((step_beat == 0) & (step_pass != 1)),
            self.token.last.eq((step_beat == beats - 1) & (step_pass == len(PASSES) - 1)),
        ]

        with m.If(start):
            m.d.sync += [index.eq(self.job.payload.index), hh.eq(self.job.payload.hh)]
        with m.If(self.issuing):
            with m.If(step_beat == beats - 1):
                m.d.sync += step_beat.eq(0)
                with m.If(step_pass == len(PASSES) - 1):
                    m.d.sync += [step_pass.eq(0), self.busy.eq(0)]
                with m.Else():
                    m.d.sync += [step_pass.eq(step_pass + 1), self.busy.eq(1)]
            with m.Else():
                m.d.sync += [step_beat.eq(step_beat + 1), self.busy.eq(1)]
        return m
