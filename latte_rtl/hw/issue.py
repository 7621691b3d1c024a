"""Token sources of the dot-product pipeline: phase-1 issue over every key, and the arbiter that
merges it with the completion unit's tokens."""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import ScoreConfig
from . import layouts
from .layouts import PassKind


class KeyIssuer(wiring.Component):
    """Per `job` (N keys): `beats` tokens of pass `kind` (HH; ROUND1 for a first round) for each key 0..N-1, in
    order, one per transfer.

    The job is taken with its first token (key 0, beat 0: no cycle between a row's start and its
    first token; a job of N = 0 is taken alone). The next job is taken once every token of the
    current one has been taken.
    """

    def __init__(self, cfg: ScoreConfig, token_layout, kind: PassKind = PassKind.HH):
        self.cfg, self.kind = cfg, kind
        super().__init__({
            "job": In(stream.Signature(layouts.row_job(cfg))),
            "o": Out(stream.Signature(token_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        beats = self.cfg.beats
        n_keys = Signal.like(self.job.payload.n_keys)
        key = Signal(range(self.cfg.max_keys + 1))
        beat = Signal(range(max(2, beats)))
        active = Signal()  # a job has tokens left after the first
        empty = self.job.payload.n_keys == 0
        cur_key, cur_beat = Mux(active, key, 0), Mux(active, beat, 0)
        m.d.comb += [
            self.job.ready.eq(~active & (self.o.ready | empty)),
            self.o.valid.eq(Mux(active, key < n_keys, self.job.valid & ~empty)),
            self.o.payload.kind.eq(self.kind),
            self.o.payload.index.eq(cur_key),
            self.o.payload.beat.eq(cur_beat),
            self.o.payload.first.eq(cur_beat == 0),
            self.o.payload.last.eq(cur_beat == beats - 1),
        ]
        with m.If(self.job.valid & self.job.ready):
            m.d.sync += [active.eq(1), n_keys.eq(self.job.payload.n_keys), key.eq(0), beat.eq(0)]
        with m.If(active & (key == n_keys)):
            m.d.sync += active.eq(0)
        with m.If(self.o.valid & self.o.ready):  # after the job's reset: a job's first token counts
            with m.If(cur_beat == beats - 1):
                m.d.sync += [beat.eq(0), key.eq(cur_key + 1)]
            with m.Else():
                m.d.sync += [beat.eq(cur_beat + 1), key.eq(cur_key)]
        return m


class TokenArbiter(wiring.Component):
    """Merges phase-1 tokens (`phase1`) and completion tokens (`completion`) into `o`.

    Completion tokens win, except in the middle of a phase-1 key (its next token is not a first
    beat): a key's HH beats are never split. A completion job's tokens stay together because
    the completion unit offers them back to back. A token offered on `o` and not taken stays
    there (the choice is held), so `o` keeps the stream protocol: the operand fetch may have sent
    part of its reads.
    """

    def __init__(self, token_layout):
        super().__init__({
            "phase1": In(stream.Signature(token_layout)),
            "completion": In(stream.Signature(token_layout)),
            "o": Out(stream.Signature(token_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        mid_key = self.phase1.valid & ~self.phase1.payload.first
        pick_completion = Signal()
        held = Signal(name="held")  # `o` offered and not taken last cycle
        held_completion = Signal()  # ... from `completion`
        m.d.comb += pick_completion.eq(Mux(held, held_completion, self.completion.valid & ~mid_key))
        m.d.sync += [held.eq(self.o.valid & ~self.o.ready), held_completion.eq(pick_completion)]
        with m.If(pick_completion):
            m.d.comb += [self.o.valid.eq(self.completion.valid), self.o.payload.eq(self.completion.payload),
                         self.completion.ready.eq(self.o.ready)]
        with m.Else():
            m.d.comb += [self.o.valid.eq(self.phase1.valid), self.o.payload.eq(self.phase1.payload),
                         self.phase1.ready.eq(self.o.ready)]
        return m


class KeyCredits(wiring.Component):
    """Passes tokens from `i` to `o`, but lets a key's first token pass only while fewer than
    `capacity` keys are in flight (passed, their HH not yet `returned`) or `queued` in the filter's
    kept FIFO: every HH then finds room in a FIFO of `capacity`, so the estimate never waits on
    the completion (absolute mode with a completion array)."""

    def __init__(self, token_layout, capacity: int):
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, not {capacity!r}")
        self.capacity = capacity
        super().__init__({
            "i": In(stream.Signature(token_layout)),
            "o": Out(stream.Signature(token_layout)),
            "returned": In(1),
            "queued": In(range(capacity + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        in_flight = Signal(range(self.capacity + 1))
        allow = Signal()
        m.d.comb += [
            allow.eq(~self.i.payload.first | (in_flight + self.queued < self.capacity)),
            self.o.valid.eq(self.i.valid & allow),
            self.o.payload.eq(self.i.payload),
            self.i.ready.eq(self.o.ready & allow),
        ]
        passed = self.o.valid & self.o.ready & self.i.payload.first
        with m.If(passed & ~self.returned):
            m.d.sync += in_flight.eq(in_flight + 1)
        with m.Elif(~passed & self.returned):
            m.d.sync += in_flight.eq(in_flight - 1)
        return m
