"""A serial (restoring) divider: one quotient bit per cycle."""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out


class SerialDivider(wiring.Component):
    """`i` (num, den) → `o` (quot = floor(num / den)), `quot_bits` cycles later.

    The caller guarantees quot < 2^quot_bits (for the softmax: num = (2^B − 1) << P and
    den ≥ 2^P, so the quotient has B bits) and den > 0.
    """

    def __init__(self, *, num_bits: int, den_bits: int, quot_bits: int):
        self.num_bits, self.den_bits, self.quot_bits = num_bits, den_bits, quot_bits
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"num": num_bits, "den": den_bits}))),
            "o": Out(stream.Signature(data.StructLayout({"quot": quot_bits}))),
        })

    def elaborate(self, platform):
        m = Module()
        q = self.quot_bits
        rem = Signal(self.num_bits)
        divisor = Signal(self.den_bits + q)  # den << k for the current bit k
        step = Signal(range(q + 1))
        busy = Signal()
        trial = Signal(max(self.num_bits, self.den_bits + q) + 1)
        m.d.comb += [
            self.i.ready.eq(~busy & ~self.o.valid),
            trial.eq(rem - divisor),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [rem.eq(self.i.payload.num), divisor.eq(self.i.payload.den << (q - 1)), step.eq(q),
                         busy.eq(1), self.o.payload.quot.eq(0)]
        with m.Elif(busy):
            fits = rem >= divisor
            with m.If(fits):
                m.d.sync += rem.eq(trial)
            m.d.sync += [self.o.payload.quot.eq((self.o.payload.quot << 1) | fits), divisor.eq(divisor >> 1),
                         step.eq(step - 1)]
            with m.If(step == 1):
                m.d.sync += [busy.eq(0), self.o.valid.eq(1)]
        return m
