"""Tiny stream components (valid/ready, `amaranth.lib.stream`) used to join the stages."""

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class EagerFork(wiring.Component):
    """One stream to two consumers, each taking the beat in its own cycle: `a` and `b` offer it until
    taken (a flag per output remembers which has it), `i` moves on once both have. An output's valid never
    depends on the other consumer's ready (as a lazy fork's does), so both keep the stream protocol."""

    def __init__(self, payload_shape):
        super().__init__({
            "i": In(stream.Signature(payload_shape)),
            "a": Out(stream.Signature(payload_shape)),
            "b": Out(stream.Signature(payload_shape)),
        })

    def elaborate(self, platform):
        m = Module()
        done_a, done_b = Signal(name="done_a"), Signal(name="done_b")  # took the current beat already
        took_a = self.a.valid & self.a.ready
        took_b = self.b.valid & self.b.ready
        m.d.comb += [
            self.a.payload.eq(self.i.payload),
            self.b.payload.eq(self.i.payload),
            self.a.valid.eq(self.i.valid & ~done_a),
            self.b.valid.eq(self.i.valid & ~done_b),
            self.i.ready.eq((done_a | self.a.ready) & (done_b | self.b.ready)),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [done_a.eq(0), done_b.eq(0)]
        with m.Else():
            m.d.sync += [done_a.eq(done_a | took_a), done_b.eq(done_b | took_b)]
        return m


class PipeRegister(wiring.Component):
    """One register stage: `o` shows a beat of `i` one cycle after it was taken; `i` is ready
    whenever `o` is empty or being emptied (full throughput, no bubble). The payload flops have
    no reset and load only on a transfer (`load`: their clock-gate enable)."""

    def __init__(self, payload_shape):
        super().__init__({
            "i": In(stream.Signature(payload_shape)),
            "o": Out(stream.Signature(payload_shape)),
        })

    def elaborate(self, platform):
        m = Module()
        payload = Signal(self.o.payload.shape(), reset_less=True)
        load = Signal()
        m.d.comb += [self.i.ready.eq(~self.o.valid | self.o.ready), load.eq(self.i.valid & self.i.ready),
                     self.o.payload.eq(payload)]
        with m.If(self.i.ready):
            m.d.sync += self.o.valid.eq(self.i.valid)
        with m.If(load):
            m.d.sync += payload.eq(self.i.payload)
        return m


class SkidRegister(PipeRegister):
    """A register stage whose `i.ready` is a flip-flop (a skid buffer): a beat taken while `o` stalls waits in
    a second register, so `i.ready` never depends on `o.ready` in the same cycle (it cuts a long ready path
    back to a FIFO's read enable) at full throughput. Payload flops have no reset and load only on a transfer."""

    def elaborate(self, platform):
        m = Module()
        payload = Signal(self.o.payload.shape(), reset_less=True)
        skid = Signal(self.o.payload.shape(), reset_less=True)
        skid_valid = Signal()
        take = self.i.valid & self.i.ready
        m.d.comb += [self.i.ready.eq(~skid_valid), self.o.payload.eq(payload)]
        with m.If(~self.o.valid | self.o.ready):
            m.d.sync += self.o.valid.eq(skid_valid | self.i.valid)
            with m.If(skid_valid):
                m.d.sync += [payload.eq(skid), skid_valid.eq(0)]
            with m.Elif(self.i.valid):
                m.d.sync += payload.eq(self.i.payload)
        with m.Elif(take):
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m
