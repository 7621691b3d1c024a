"""Array of small signed multipliers (combinational)."""

from amaranth import Module, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out


class MultiplierArray(wiring.Component):
    """`lanes` signed `width` x `width` multipliers: products[i] = a[i] * b[i] (2*width bits).

    The LATTE engine instantiates it with width = max(m, l) + 1, so a sign-extended high part and
    a zero-extended low part both fit; the same array serves the HH, HL, LH and LL passes.
    """

    def __init__(self, *, lanes: int, width: int):
        if lanes < 1 or width < 2:
            raise ValueError(f"MultiplierArray needs lanes ≥ 1 and width ≥ 2, not lanes={lanes} width={width}")
        self.lanes, self.width = lanes, width
        operand = data.ArrayLayout(signed(width), lanes)
        super().__init__({
            "a": In(operand),
            "b": In(operand),
            "products": Out(data.ArrayLayout(signed(2 * width), lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        for i in range(self.lanes):
            m.d.comb += self.products[i].eq(self.a[i] * self.b[i])
        return m
