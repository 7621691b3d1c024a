"""The dot-product pipeline shared by the estimate and the completion: multiply + adder tree,
then the accumulator where the 4-bit partial sum is reused."""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from . import layouts
from .layouts import PassKind
from .multiplier import MultiplierArray


def adder_tree(terms):
    """Balanced pairwise sum (depth ceil(log2(n)) instead of a chain of n-1 adders)."""
    terms = list(terms)
    while len(terms) > 1:
        pairs = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = pairs + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]


class DotProduct(wiring.Component):
    """`i`: a token with `lanes` operand pairs; `o` (`latency` cycles later): the token with the
    sum of the lane products (`sum_width` bits) and, with `operand_sum_width`, the sum of the operands
    Σ (a + b) (the centred estimate's Q + S_j: a lane adder and a narrow tree beside the multipliers, in
    their stage). With `pipeline`, two register stages, the products and then their sum, so a
    multiplier and the adder tree never share a clock cycle; without, one (multiply and sum in one
    cycle: fewer flops, a longer path). Every top, LATTE and dense, gets the same setting. Payload
    flops have no reset and load only on a transfer."""

    def __init__(self, *, operand_layout, sum_width: int, operand_width: int, lanes: int, pipeline: bool = True,
                 operand_sum_width: int = 0):
        self.lanes, self.operand_width, self.pipeline = lanes, operand_width, pipeline
        self.operand_sum_width = operand_sum_width
        self.latency = 2 if pipeline else 1
        token_layout = operand_layout.members["token"]
        super().__init__({
            "i": In(stream.Signature(operand_layout)),
            "o": Out(stream.Signature(layouts.beat_sum(token_layout, sum_width, operand_sum_width))),
        })

    def _lane_sums(self):
        """Each lane's a + b (their sum: the operand sum)."""
        return [self.i.payload.a[lane] + self.i.payload.b[lane] for lane in range(self.lanes)]

    def elaborate(self, platform):
        m = Module()
        m.submodules.multipliers = mul = MultiplierArray(lanes=self.lanes, width=self.operand_width)
        m.d.comb += [mul.a.eq(self.i.payload.a), mul.b.eq(self.i.payload.b)]
        if not self.pipeline:
            return self._single_stage(m, mul)
        token_shape = self.i.payload.token.shape()
        p_valid = Signal()  # stage 1: the products (and the operand sum); on its own line to keep its name
        p_ready = Signal()
        p_token = Signal(token_shape, reset_less=True)
        products = Signal(mul.products.shape(), reset_less=True)
        token = Signal(token_shape, reset_less=True)  # stage 2: their sum, on `o`
        total = Signal(self.o.payload.sum.shape(), reset_less=True)
        load_products = Signal()  # the payload flops' clock-gate enables
        load_sum = Signal()
        m.d.comb += [
            p_ready.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(~p_valid | p_ready),
            load_products.eq(self.i.valid & self.i.ready),
            load_sum.eq(p_valid & p_ready),
            self.o.payload.token.eq(token), self.o.payload.sum.eq(total),
        ]
        with m.If(self.i.ready):
            m.d.sync += p_valid.eq(self.i.valid)
        with m.If(load_products):
            m.d.sync += [p_token.eq(self.i.payload.token), products.eq(mul.products)]
        with m.If(p_ready):
            m.d.sync += self.o.valid.eq(p_valid)
        with m.If(load_sum):
            m.d.sync += [token.eq(p_token), total.eq(adder_tree(products[lane] for lane in range(self.lanes)))]
        if self.operand_sum_width:  # the narrow tree beside the multipliers, its sum then follows the token
            p_operand_sum = Signal(self.o.payload.operand_sum.shape(), reset_less=True)
            operand_sum = Signal.like(p_operand_sum)
            m.d.comb += self.o.payload.operand_sum.eq(operand_sum)
            with m.If(load_products):
                m.d.sync += p_operand_sum.eq(adder_tree(self._lane_sums()))
            with m.If(load_sum):
                m.d.sync += operand_sum.eq(p_operand_sum)
        return m

    def _single_stage(self, m, mul):
        """The sum register only: the products feed the adder tree in the same cycle."""
        token = Signal(self.i.payload.token.shape(), reset_less=True)
        total = Signal(self.o.payload.sum.shape(), reset_less=True)
        load_sum = Signal()  # the payload flops' clock-gate enable
        m.d.comb += [
            self.i.ready.eq(~self.o.valid | self.o.ready),
            load_sum.eq(self.i.valid & self.i.ready),
            self.o.payload.token.eq(token), self.o.payload.sum.eq(total),
        ]
        with m.If(self.i.ready):
            m.d.sync += self.o.valid.eq(self.i.valid)
        with m.If(load_sum):
            m.d.sync += [token.eq(self.i.payload.token),
                         total.eq(adder_tree(mul.products[lane] for lane in range(self.lanes)))]
        if self.operand_sum_width:
            operand_sum = Signal(self.o.payload.operand_sum.shape(), reset_less=True)
            m.d.comb += self.o.payload.operand_sum.eq(operand_sum)
            with m.If(load_sum):
                m.d.sync += operand_sum.eq(adder_tree(self._lane_sums()))
        return m


def centred_estimate(hh, operand_sum, lsb_bits: int):
    """E = 2^(l+1)·HH + (2^l − 1)·(Q + S_j) from HH and `operand_sum` = Q + S_j (golden.estimates): two
    shifts, an add and a subtract."""
    return (hh << (lsb_bits + 1)) + (operand_sum << lsb_bits) - operand_sum


class Accumulator(wiring.Component):
    """Accumulates beat sums; per beat (`i.payload.token`):

    * HH, first beat:   acc = sum                       (phase 1: the estimate; with `first_round`, ROUND1 too)
    * MID, first beat:  acc = (token.init << l) + sum   (HL then LH on top of the stored HH)
    * LOW, first beat:  acc = (acc << l) + sum          (LL; after its last beat acc = q·k)
    * any other beat:   acc = acc + sum

    On the last beat of an HH, ROUND1 or LOW pass the new value leaves on `o` in the same cycle (HH, or
    the exact score); that beat is taken only when `o` is. Other beats are always taken. Beats that
    carry an operand sum (DotProduct's `operand_sum_width`) have it summed over the pass beside: on
    an HH pass's result, Q + S_j.
    """

    def __init__(self, *, beat_layout, acc_width: int, lsb_bits: int, result_layout, first_round: bool = False):
        self.lsb_bits, self.acc_width, self.first_round = lsb_bits, acc_width, first_round
        super().__init__({
            "i": In(stream.Signature(beat_layout)),
            "o": Out(stream.Signature(result_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        tok, beat_sum = self.i.payload.token, self.i.payload.sum
        acc = Signal(self.o.payload.value.shape(), reset_less=True)  # every pass starts by loading it
        acc_next = Signal.like(acc)
        take = Signal()  # the accumulator's clock-gate enable
        fresh = tok.kind == PassKind.HH
        if self.first_round:
            fresh = fresh | (tok.kind == PassKind.ROUND1)
        with m.If(~tok.first):
            m.d.comb += acc_next.eq(acc + beat_sum)
        with m.Elif(fresh):
            m.d.comb += acc_next.eq(beat_sum)
        with m.Elif(tok.kind == PassKind.MID):
            m.d.comb += acc_next.eq((tok.init << self.lsb_bits) + beat_sum)
        with m.Else():
            m.d.comb += acc_next.eq((acc << self.lsb_bits) + beat_sum)

        emits = tok.last & (tok.kind != PassKind.MID)
        m.d.comb += [
            self.o.valid.eq(self.i.valid & emits),
            self.o.payload.kind.eq(tok.kind),
            self.o.payload.index.eq(tok.index),
            self.o.payload.value.eq(acc_next),
            self.o.payload.init.eq(tok.init),
            self.i.ready.eq(self.o.ready | ~emits),
        ]
        m.d.comb += take.eq(self.i.valid & self.i.ready)
        with m.If(take):
            m.d.sync += acc.eq(acc_next)
        if "operand_sum" in self.i.payload.shape().members:
            self._operand_sum(m, take)
        return m

    def _operand_sum(self, m, take):
        """Σ of the pass's operand sums: restarts on a first beat, leaves with the pass's value."""
        beat = self.i.payload
        total = Signal(self.o.payload.operand_sum.shape(), reset_less=True)
        total_next = Signal.like(total)
        m.d.comb += [total_next.eq(Mux(beat.token.first, beat.operand_sum, total + beat.operand_sum)),
                     self.o.payload.operand_sum.eq(total_next)]
        with m.If(take):
            m.d.sync += total.eq(total_next)
