"""Operand fetch: turns tokens into multiplier operands read from the key store and q buffer."""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..config import ScoreConfig
from . import layouts
from .layouts import PassKind
from .readport import ReadPortSignature

# Tokens whose words are requested and not yet consumed: 1 (a register that takes the next token in
# the cycle it hands one on) keeps one word a cycle from a store that answers in one cycle; a store
# that answers in L cycles is read at `outstanding` words per L cycles.
OUTSTANDING = 1


def part_needed(parts: tuple[str, ...], token, flag: str, part: str):
    """Whether `token` reads bank `part` of the banks `parts`: the full word (dense) or a lone plane
    always, else the LSB plane where its `flag` (k_low, q_low) is set and the MSB plane where not. A
    plane no lane multiplies is not read, so its port's output and the select's input hold (operand
    isolation)."""
    return 1 if part == "full" or len(parts) == 1 else getattr(token, flag) == (part == "lsb")


class OperandFetch(wiring.Component):
    """`i`: tokens; `o`: the token with its `lanes` operand pairs.

    A token's requests go to the read ports it needs (its key word, address index · beats + beat, in
    the banks named in `parts`, and its query word, address beat, in `q_parts`), each held until
    that port takes it; the token is taken once all have, and waits in a FIFO of OUTSTANDING tokens
    for the words (`ReadPortSignature`: any latency) with at most `outstanding` − 1 others. When its words are
    all there and `o` is free, `select(token, q_words, k_words)` picks each lane's operands into the
    output register: neither the store's output nor the select mux is in a multiplier's path. Payload
    flops have no reset and load only on a transfer. With `lsb_once` (golden.reads_lsb_once: one beat a
    key) a LOW-pass token reads no k_L word: it multiplies the one on the port, which its key's HL token
    read two tokens before (the CompletionUnit's HL, LH, LL stay together and LH reads k_H; the SRAM's output
    holds a word until the next read).
    """

    def __init__(self, cfg: ScoreConfig, *, token_layout, parts, part_shapes, operand_width: int,
                 key_addr_width: int, q_addr_width: int, select, q_parts=None, outstanding: int = OUTSTANDING,
                 lsb_once: bool = False):
        self.cfg, self.parts, self.select, self.outstanding = cfg, tuple(parts), select, outstanding
        self.lsb_once = lsb_once
        self.q_parts = tuple(q_parts if q_parts is not None else parts)
        self.token_layout = token_layout
        self.operand_layout = layouts.operands(cfg, token_layout, operand_width)
        members = {
            "i": In(stream.Signature(token_layout)),
            "o": Out(stream.Signature(self.operand_layout)),
        }
        def port(addr_width, part):
            return Out(ReadPortSignature(addr_width, data.ArrayLayout(part_shapes[part], cfg.lanes)))
        members.update({f"k_{part}": port(key_addr_width, part) for part in self.parts})
        members.update({f"q_{part}": port(q_addr_width, part) for part in self.q_parts})
        super().__init__(members)

    def _ports(self, token):
        """(port, needed by `token`) for every read port."""
        def k_needed(part):
            needed = part_needed(self.parts, token, "k_low", part)
            return needed & (token.kind != PassKind.LOW) if self.lsb_once and part == "lsb" else needed
        return ([(getattr(self, f"k_{p}"), k_needed(p)) for p in self.parts]
                + [(getattr(self, f"q_{p}"), part_needed(self.q_parts, token, "q_low", p)) for p in self.q_parts])

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        pending = _TokenQueue(self.token_layout.size, self.outstanding)
        m.submodules.pending = pending

        # Request side: each needed port gets the request (held until taken: `sent` remembers the
        # ports that took it in an earlier cycle); the token is taken once every needed port has.
        tok = self.i.payload
        take = Signal()
        ports = self._ports(tok)
        sent = Signal(len(ports))
        offer = self.i.valid & pending.w_rdy
        done = []
        for n, (port, needed) in enumerate(ports):
            m.d.comb += port.req.valid.eq(offer & needed & ~sent[n])
            done.append(_unless(needed, sent[n] | port.req.ready))
        m.d.comb += take.eq(offer & _all(done))
        for part in self.parts:
            m.d.comb += getattr(self, f"k_{part}").req.payload.eq(tok.index * cfg.beats + tok.beat)
        for part in self.q_parts:
            m.d.comb += getattr(self, f"q_{part}").req.payload.eq(tok.beat)
        m.d.comb += [self.i.ready.eq(pending.w_rdy & _all(done)), pending.w_en.eq(take),
                     pending.w_data.eq(tok.as_value())]
        with m.If(take):
            m.d.sync += sent.eq(0)
        with m.Else():
            for n, (port, _) in enumerate(ports):
                with m.If(port.req.valid & port.req.ready):
                    m.d.sync += sent[n].eq(1)

        # Response side: the oldest token's words → select → the output register.
        head = data.View(self.token_layout, pending.r_data)
        fire = Signal()
        answered = [_unless(needed, port.resp.valid) for port, needed in self._ports(head)]
        m.d.comb += fire.eq(pending.r_rdy & _all(answered) & (~self.o.valid | self.o.ready))
        for port, needed in self._ports(head):
            m.d.comb += port.resp.ready.eq(fire & needed)
        m.d.comb += [pending.r_en.eq(fire), pending.taking.eq(fire)]

        selected = Signal(self.operand_layout)
        operands = Signal(self.operand_layout, reset_less=True)
        q_words = {p: getattr(self, f"q_{p}").resp.payload for p in self.q_parts}
        k_words = {p: getattr(self, f"k_{p}").resp.payload for p in self.parts}
        sel_a, sel_b = self.select(head, q_words, k_words)
        m.d.comb += [selected.token.eq(head), self.o.payload.eq(operands)]
        for lane in range(cfg.lanes):
            m.d.comb += [selected.a[lane].eq(sel_a[lane]), selected.b[lane].eq(sel_b[lane])]
        with m.If(fire):
            m.d.sync += [operands.eq(selected), self.o.valid.eq(1)]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m


class _TokenQueue(wiring.Component):
    """The waiting tokens, with SyncFIFO's port names (`w_*`, `r_*`): a FIFO of `depth`, or for depth 1
    a register that is writable in the cycle its token leaves (`taking`), so one token a cycle passes."""

    def __init__(self, width: int, depth: int):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, not {depth!r}")
        self.depth = depth
        super().__init__({"w_data": In(width), "w_en": In(1), "w_rdy": Out(1), "r_data": Out(width),
                          "r_en": In(1), "r_rdy": Out(1), "taking": In(1)})

    def elaborate(self, platform):
        m = Module()
        if self.depth > 1:
            m.submodules.fifo = fifo = SyncFIFO(width=len(self.w_data), depth=self.depth)
            m.d.comb += [fifo.w_data.eq(self.w_data), fifo.w_en.eq(self.w_en), self.w_rdy.eq(fifo.w_rdy),
                         self.r_data.eq(fifo.r_data), fifo.r_en.eq(self.r_en), self.r_rdy.eq(fifo.r_rdy)]
            return m
        token = Signal.like(self.r_data, reset_less=True)
        m.d.comb += [self.r_data.eq(token), self.w_rdy.eq(~self.r_rdy | self.taking)]
        with m.If(self.w_en):
            m.d.sync += [token.eq(self.w_data), self.r_rdy.eq(1)]
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        return m


def _unless(needed, ready):
    """`ready`, or 1 where the port is not `needed` (`needed`: 1 or a 1-bit value)."""
    return ready if isinstance(needed, int) else ~needed | ready


def _all(terms):
    out = 1
    for t in terms:
        out = out & t
    return out


def nibble_select(token, q_words, k_words):
    """LATTE: q_L or q_H and k_L or k_H per the token's flags (a part the fetch does not read is 0)."""
    def pick(words, low, i):
        if "lsb" not in words:
            return words["msb"][i]
        if "msb" not in words:
            return words["lsb"][i]
        return Mux(low, words["lsb"][i], words["msb"][i])
    lanes = range(len(next(iter(q_words.values()))))
    return [pick(q_words, token.q_low, i) for i in lanes], [pick(k_words, token.k_low, i) for i in lanes]


def round1_select(shift: int):
    """rounds 2: nibble_select, and on a ROUND1 token q_H >> shift and k_H >> shift (their top m1 bits, signed)."""
    def select(token, q_words, k_words):
        first = token.kind == PassKind.ROUND1
        a, b = nibble_select(token, q_words, k_words)
        return [Mux(first, x >> shift, x) for x in a], [Mux(first, x >> shift, x) for x in b]
    return select


def full_select(token, q_words, k_words):
    """Dense: the whole operands."""
    lanes = range(len(q_words["full"]))
    return [q_words["full"][i] for i in lanes], [k_words["full"][i] for i in lanes]
