"""Vector store: vectors loaded once as beats, kept in one SRAM bank per part (MSB / LSB / full)."""

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import ScoreConfig
from . import layouts
from .sram import SRAM

PARTS = ("msb", "lsb", "full")


def part_shape(cfg: ScoreConfig, part: str):
    """msb: x_H = x >> l (signed m bits); lsb: x_L (unsigned l bits); full: x."""
    return {"msb": signed(cfg.msb_bits), "lsb": unsigned(cfg.lsb_bits), "full": signed(cfg.bits)}[part]


class BankReadSignature(wiring.Signature):
    """A registered read port, from the reader's side: raise `en` with `addr`; `data` shows the
    word on the next cycle and holds it until the next read."""

    def __init__(self, addr_width: int, data_shape):
        super().__init__({"addr": Out(addr_width), "en": Out(1), "data": In(data_shape)})


class VectorStore(wiring.Component):
    """Holds up to `capacity` vectors of `dim` elements, `lanes` per word, `beats` words each.

    Load: one beat per `load` transfer (always ready); `last` ends the set and sets `n_keys`
    (the vector holding the last beat counts). Lanes past `dim` on a vector's final beat are
    stored as zero whatever was sent. Beats past `capacity` vectors are dropped.

    Read: one port per part (`msb`, `lsb`, `full`), word address = vector · beats + beat.
    With `counter_bits`, `<part>_reads` counts the word reads of each bank since reset (monitor;
    the LATTE engine reads its LSB bank only for kept keys).
    """

    def __init__(self, cfg: ScoreConfig, *, parts: tuple[str, ...], capacity: int, counter_bits: int | None = None):
        for part in parts:
            if part not in PARTS:
                raise ValueError(f"part must be one of {PARTS}, not {part!r}")
        self.cfg, self.parts, self.capacity, self.counter_bits = cfg, tuple(parts), capacity, counter_bits
        self.depth = capacity * cfg.beats
        self.addr_width = max(1, (self.depth - 1).bit_length())
        members = {
            "load": In(stream.Signature(layouts.key_beat(cfg))),
            "n_keys": Out(capacity.bit_length()),
        }
        for part in self.parts:
            lanes = data.ArrayLayout(part_shape(cfg, part), cfg.lanes)
            members[part] = In(BankReadSignature(self.addr_width, lanes))
            if counter_bits:
                members[f"{part}_reads"] = Out(counter_bits)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        beats, capacity, l, tail = cfg.beats, self.capacity, cfg.lsb_bits, cfg.widths.tail_lanes
        beat = Signal(range(max(2, beats)))
        count = Signal(range(capacity + 1))
        waddr = Signal(self.addr_width)
        full = Signal()
        accept = Signal()
        m.d.comb += [full.eq(count == capacity), self.load.ready.eq(1), accept.eq(self.load.valid)]

        masked = Signal(layouts.vector(cfg))  # lanes past `dim` on a vector's final beat → 0
        for lane in range(cfg.lanes):
            value = self.load.payload.data[lane]
            m.d.comb += masked[lane].eq(Mux(beat == beats - 1, 0, value) if lane >= tail else value)

        part_bits = {"msb": lambda x: x[l:], "lsb": lambda x: x[:l], "full": lambda x: x}
        for part in self.parts:
            bank = SRAM(width=part_shape(cfg, part).width * cfg.lanes, depth=self.depth)
            m.submodules[f"{part}_bank"] = bank
            port = getattr(self, part)
            m.d.comb += [
                bank.waddr.eq(waddr),
                bank.wdata.eq(Cat(*(part_bits[part](masked[lane]) for lane in range(cfg.lanes)))),
                bank.wen.eq(accept & ~full),
                bank.raddr.eq(port.addr),
                bank.ren.eq(port.en),
                port.data.eq(bank.rdata),
            ]
            if self.counter_bits:
                reads = getattr(self, f"{part}_reads")
                with m.If(port.en):
                    m.d.sync += reads.eq(reads + 1)

        with m.If(accept):
            with m.If(self.load.payload.last):
                m.d.sync += [self.n_keys.eq(count + ~full), beat.eq(0), count.eq(0), waddr.eq(0)]
            with m.Else():
                with m.If(~full):
                    m.d.sync += waddr.eq(waddr + 1)
                with m.If(beat == beats - 1):
                    m.d.sync += [beat.eq(0), count.eq(count + ~full)]
                with m.Else():
                    m.d.sync += beat.eq(beat + 1)
        return m
