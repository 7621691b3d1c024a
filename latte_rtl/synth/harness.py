"""FPGA harness: lets place-and-route measure an engine whose ports far outnumber the pins.

Every engine input is driven from a shift register with XOR feedback; every output is
XOR-reduced into one registered pin. The engine's own LUT/FF counts are reported without the
harness (hierarchical statistics); the harness only adds short register-to-register paths.
"""

from amaranth import Cat, Elaboratable, Module, Signal, Value
from amaranth.lib import wiring


class FpgaHarness(Elaboratable):
    def __init__(self, engine: wiring.Component):
        self.engine = engine
        self.out = Signal()
        inputs = [v for _, member, v in engine.signature.flatten(engine) if member.flow == wiring.In]
        self.stimulus_width = max(2, sum(len(Value.cast(v)) for v in inputs))
        self.flip_flops = self.stimulus_width + 1  # the stimulus register and the output register

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = engine = self.engine
        inputs, outputs = [], []
        for _, member, value in engine.signature.flatten(engine):
            (inputs if member.flow == wiring.In else outputs).append(Value.cast(value))
        width = self.stimulus_width
        stimulus = Signal(width, init=1)
        m.d.sync += stimulus.eq(Cat(stimulus[-1] ^ stimulus[0] ^ stimulus[width // 2], stimulus[:-1]))
        offset = 0
        for value in inputs:
            m.d.comb += value.eq(stimulus[offset:offset + len(value)])
            offset += len(value)
        m.d.sync += self.out.eq(Cat(*outputs).xor())
        return m
