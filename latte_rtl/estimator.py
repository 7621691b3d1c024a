"""Adder tree + accumulator: the dot-product engine shared by the estimate and the completion."""

from amaranth import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .layouts import KIND_HH, KIND_MID


def adder_tree(terms):
    """Balanced pairwise sum (depth ceil(log2(n)) instead of a chain of n-1 adders)."""
    terms = list(terms)
    while len(terms) > 1:
        pairs = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = pairs + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]


class Estimator(wiring.Component):
    """Sums the lane products of one beat (registered), then accumulates beats into `acc`.

    The accumulator is where the 4-bit partial sum is reused. Per token (`tag`, stage 1):

    * HH, first beat:   acc = sum                       (phase 1: the estimate)
    * MID, first beat:  acc = (tag.init << l) + sum     (HL then LH on top of the stored HH)
    * LOW, first beat:  acc = (acc << l) + sum          (LL; after its last beat acc = q·k)
    * any other beat:   acc = acc + sum

    `result` is valid (one cycle, only while `advance`) on the last beat of an HH pass (value =
    HH) and of a LOW pass (value = exact score). Nothing moves while `advance` is low.
    """

    def __init__(self, *, lanes: int, product_width: int, sum_width: int, acc_width: int,
                 lsb_bits: int, tag_layout: data.StructLayout, index_width: int):
        self.lsb_bits, self.sum_width, self.acc_width = lsb_bits, sum_width, acc_width
        self.tag_layout = tag_layout
        super().__init__({
            "products": In(data.ArrayLayout(signed(product_width), lanes)),
            "tag": In(tag_layout),
            "tag_valid": In(1),
            "advance": In(1),
            "result": Out(data.StructLayout({"kind": 2, "index": index_width, "value": signed(acc_width)})),
            "result_valid": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        beat_sum = Signal(signed(self.sum_width))
        stage2 = Signal(self.tag_layout)
        stage2_valid = Signal()
        acc = Signal(signed(self.acc_width))
        acc_next = Signal(signed(self.acc_width))

        with m.If(self.advance):
            m.d.sync += [
                beat_sum.eq(adder_tree(self.products)),
                stage2.eq(self.tag),
                stage2_valid.eq(self.tag_valid),
            ]
            with m.If(stage2_valid):
                m.d.sync += acc.eq(acc_next)

        with m.If(~stage2.first):
            m.d.comb += acc_next.eq(acc + beat_sum)
        with m.Elif(stage2.kind == KIND_HH):
            m.d.comb += acc_next.eq(beat_sum)
        with m.Elif(stage2.kind == KIND_MID):
            m.d.comb += acc_next.eq((stage2.init << self.lsb_bits) + beat_sum)
        with m.Else():
            m.d.comb += acc_next.eq((acc << self.lsb_bits) + beat_sum)

        m.d.comb += [
            self.busy.eq(stage2_valid),
            self.result.kind.eq(stage2.kind),
            self.result.index.eq(stage2.index),
            self.result.value.eq(acc_next),
            self.result_valid.eq(self.advance & stage2_valid & stage2.last & (stage2.kind != KIND_MID)),
        ]
        return m
