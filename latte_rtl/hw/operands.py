"""Operand fetch: turns tokens into multiplier operands read from the key store and q buffer."""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import ScoreConfig
from . import layouts
from .keystore import BankReadSignature


class OperandFetch(wiring.Component):
    """`i`: tokens; `o`: the token with its `lanes` operand pairs.

    Stage A takes a token and reads its key word (address index · beats + beat) and query word
    (address beat) from the banks named in `parts`; the SRAMs show the words one cycle later.
    `select(token, q_words, k_words)` picks the operands of each lane and stage B registers them:
    neither the SRAM's clock-to-output nor the select mux is in a multiplier's path. Payload flops
    have no reset and load only on a transfer.
    """

    def __init__(self, cfg: ScoreConfig, *, token_layout, parts, part_shapes, operand_width: int,
                 key_addr_width: int, q_addr_width: int, select):
        self.cfg, self.parts, self.select = cfg, tuple(parts), select
        self.token_layout = token_layout
        self.operand_layout = layouts.operands(cfg, token_layout, operand_width)
        members = {
            "i": In(stream.Signature(token_layout)),
            "o": Out(stream.Signature(self.operand_layout)),
        }
        for part in self.parts:
            lanes = data.ArrayLayout(part_shapes[part], cfg.lanes)
            members[f"k_{part}"] = Out(BankReadSignature(key_addr_width, lanes))
            members[f"q_{part}"] = Out(BankReadSignature(q_addr_width, lanes))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        # Stage A: the token whose words the SRAMs are reading.
        a = stream.Signature(self.token_layout).create(path=("stage_a",))
        a_token = Signal(self.token_layout, reset_less=True)
        selected = Signal(self.operand_layout)
        operands = Signal(self.operand_layout, reset_less=True)  # stage B, on `o`
        q_words = {p: getattr(self, f"q_{p}").data for p in self.parts}
        k_words = {p: getattr(self, f"k_{p}").data for p in self.parts}
        sel_a, sel_b = self.select(a.payload, q_words, k_words)
        m.d.comb += [selected.token.eq(a.payload), a.payload.eq(a_token), self.o.payload.eq(operands)]
        for lane in range(cfg.lanes):
            m.d.comb += [selected.a[lane].eq(sel_a[lane]), selected.b[lane].eq(sel_b[lane])]

        take, load_operands = Signal(), Signal()  # the payload flops' clock-gate enables
        m.d.comb += [a.ready.eq(~self.o.valid | self.o.ready), load_operands.eq(a.valid & a.ready)]
        with m.If(a.ready):
            m.d.sync += self.o.valid.eq(a.valid)
        with m.If(load_operands):
            m.d.sync += operands.eq(selected)

        m.d.comb += [take.eq(self.i.valid & self.i.ready), self.i.ready.eq(~a.valid | a.ready)]
        tok = self.i.payload
        for part in self.parts:
            kport, qport = getattr(self, f"k_{part}"), getattr(self, f"q_{part}")
            m.d.comb += [kport.addr.eq(tok.index * cfg.beats + tok.beat), qport.addr.eq(tok.beat)]
            k_needed = take if part == "full" else take & (tok.k_low == (part == "lsb"))
            m.d.comb += [kport.en.eq(k_needed), qport.en.eq(take)]
        with m.If(self.i.ready):
            m.d.sync += a.valid.eq(self.i.valid)
        with m.If(take):
            m.d.sync += a_token.eq(tok)
        return m


def nibble_select(token, q_words, k_words):
    """LATTE: q_L or q_H and k_L or k_H per the token's flags."""
    lanes = range(len(q_words["msb"]))
    return ([Mux(token.q_low, q_words["lsb"][i], q_words["msb"][i]) for i in lanes],
            [Mux(token.k_low, k_words["lsb"][i], k_words["msb"][i]) for i in lanes])


def full_select(token, q_words, k_words):
    """Dense: the whole operands."""
    lanes = range(len(q_words["full"]))
    return [q_words["full"][i] for i in lanes], [k_words["full"][i] for i in lanes]
