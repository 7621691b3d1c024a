"""Key store: vectors loaded once as beats, kept in one SRAM bank per part (MSB / LSB / full)."""

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from . import layouts
from .config import LatteConfig
from .sram import SRAM

PARTS = ("msb", "lsb", "full")


def part_shape(cfg: LatteConfig, part: str):
    """msb: x_H = x >> l (signed m bits); lsb: x_L (unsigned l bits); full: x."""
    return {"msb": signed(cfg.msb_bits), "lsb": unsigned(cfg.lsb_bits), "full": signed(cfg.bits)}[part]


class KeyStore(wiring.Component):
    """Holds up to `capacity` vectors of `dim` elements, `lanes` per word, `beats` words each.

    Load: one beat per `load` transfer (accepted only while `enable`); `last` ends the set and
    sets `n_keys` (the vector holding the last beat counts). Lanes past `dim` on a vector's
    final beat are stored as zero whatever was sent. Beats past `capacity` vectors are dropped.
    `loading` is high between the first beat of a set and its `last`.

    Read: `addr` = vector * beats + beat; `read_<part>` high reads that bank, whose data shows
    the word one cycle later and holds it until the next read. `<part>_reads` counts the word
    reads of each bank since reset (the LATTE engine reads its LSB bank only for kept keys).
    """

    def __init__(self, cfg: LatteConfig, *, parts: tuple[str, ...], capacity: int):
        for part in parts:
            if part not in PARTS:
                raise ValueError(f"KeyStore part {part!r}: expected one of {PARTS}")
        self.cfg, self.parts, self.capacity = cfg, tuple(parts), capacity
        self.depth = capacity * cfg.beats
        self.addr_width = max(1, (self.depth - 1).bit_length())
        members = {
            "load": In(stream.Signature(layouts.key_beat(cfg))),
            "enable": In(1),
            "loading": Out(1),
            "n_keys": Out(capacity.bit_length()),
            "addr": In(self.addr_width),
        }
        for part in self.parts:
            members[f"read_{part}"] = In(1)
            members[part] = Out(data.ArrayLayout(part_shape(cfg, part), cfg.lanes))
            members[f"{part}_reads"] = Out(cfg.cycle_counter_bits)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        beats, capacity, l = cfg.beats, self.capacity, cfg.lsb_bits
        beat = Signal(range(max(2, beats)))
        count = Signal(range(capacity + 1))
        waddr = Signal(self.addr_width)
        full = Signal()
        accept = Signal()
        m.d.comb += [
            full.eq(count == capacity),
            self.load.ready.eq(self.enable),
            accept.eq(self.load.valid & self.enable),
        ]

        masked = Signal(layouts.vector(cfg))  # lanes past `dim` on a vector's final beat → 0
        for lane in range(cfg.lanes):
            value = self.load.payload.data[lane]
            if lane >= cfg.tail_lanes:
                value = Mux(beat == beats - 1, 0, value)
            m.d.comb += masked[lane].eq(value)

        part_bits = {"msb": lambda x: x[l:], "lsb": lambda x: x[:l], "full": lambda x: x}
        for part in self.parts:
            bank = SRAM(width=part_shape(cfg, part).width * cfg.lanes, depth=self.depth)
            m.submodules[f"{part}_bank"] = bank
            read, reads = getattr(self, f"read_{part}"), getattr(self, f"{part}_reads")
            m.d.comb += [
                bank.waddr.eq(waddr),
                bank.wdata.eq(Cat(*(part_bits[part](masked[lane]) for lane in range(cfg.lanes)))),
                bank.wen.eq(accept & ~full),
                bank.raddr.eq(self.addr),
                bank.ren.eq(read),
                getattr(self, part).eq(bank.rdata),
            ]
            with m.If(read):
                m.d.sync += reads.eq(reads + 1)

        with m.If(accept):
            m.d.sync += self.loading.eq(~self.load.payload.last)
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
