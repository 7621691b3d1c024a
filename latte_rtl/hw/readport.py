"""Latency-tolerant read ports: a request stream of word addresses out, a response stream of words back.

A reader that speaks `ReadPortSignature` does not know how many cycles a word takes, so the store
behind it can be an on-chip SRAM (`SRAMReadPort`, one cycle) or external memory (an AXI4 read master,
many cycles, bursts, stalls) without changing the reader.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class ReadPortSignature(wiring.Signature):
    """From the reader's side: `req` carries word addresses; `resp` returns the words in request
    order, any number of cycles later. A reader must accept responses (`resp.ready`) for requests it
    has made; it may hold `resp.ready` low, and the port then stops taking requests."""

    def __init__(self, addr_width: int, data_shape):
        if not isinstance(addr_width, int) or addr_width < 1:
            raise TypeError(f"addr_width must be a positive integer, not {addr_width!r}")
        self.addr_width, self.data_shape = addr_width, data_shape
        super().__init__({
            "req": Out(stream.Signature(addr_width)),
            "resp": In(stream.Signature(data_shape)),
        })


class SRAMReadPort(wiring.Component):
    """`port` (`ReadPortSignature`, store side) in front of a registered SRAM read (`ram`: raise `en`
    with `addr`; `data` shows the word on the next cycle and holds it until the next read).

    One word a cycle at full rate; a stalled response holds the SRAM (no new read is issued), so no
    skid buffer is needed: the SRAM's own output register is the response register.
    """

    def __init__(self, addr_width: int, data_shape):
        from .keystore import BankReadSignature

        super().__init__({
            "port": In(ReadPortSignature(addr_width, data_shape)),
            "ram": Out(BankReadSignature(addr_width, data_shape)),
        })

    def elaborate(self, platform):
        m = Module()
        req, resp = self.port.req, self.port.resp
        m.d.comb += [
            req.ready.eq(~resp.valid | resp.ready),
            self.ram.addr.eq(req.payload),
            self.ram.en.eq(req.valid & req.ready),
            resp.payload.eq(self.ram.data),
        ]
        with m.If(req.ready):
            m.d.sync += resp.valid.eq(req.valid)
        return m


class ReadArbiter(wiring.Component):
    """Two readers (`first`, `second`) on one store port `o` (all `ReadPortSignature`), so that a
    single-port SRAM serves both: `first` wins a cycle where both request. One request is in flight
    at a time (its owner is remembered to route the response): one word a cycle from a store that
    answers in one cycle. A reader that holds its response holds the port."""

    def __init__(self, addr_width: int, data_shape):
        sig = ReadPortSignature(addr_width, data_shape)
        super().__init__({"first": In(sig), "second": In(sig), "o": Out(sig)})

    def elaborate(self, platform):
        m = Module()
        first, second, o = self.first, self.second, self.o
        pending, owner_second = Signal(), Signal()  # a request is in flight; whose
        free = Signal()
        m.d.comb += [
            free.eq(~pending | (o.resp.valid & o.resp.ready)),
            o.req.valid.eq(free & (first.req.valid | second.req.valid)),
            o.req.payload.eq(Mux(first.req.valid, first.req.payload, second.req.payload)),
            first.req.ready.eq(free & o.req.ready),
            second.req.ready.eq(free & o.req.ready & ~first.req.valid),
            first.resp.payload.eq(o.resp.payload),
            second.resp.payload.eq(o.resp.payload),
            first.resp.valid.eq(pending & ~owner_second & o.resp.valid),
            second.resp.valid.eq(pending & owner_second & o.resp.valid),
            o.resp.ready.eq(pending & Mux(owner_second, second.resp.ready, first.resp.ready)),
        ]
        with m.If(o.req.valid & o.req.ready):
            m.d.sync += [pending.eq(1), owner_second.eq(~first.req.valid)]
        with m.Elif(o.resp.valid & o.resp.ready):
            m.d.sync += pending.eq(0)
        return m


class ResponseBuffer(wiring.Component):
    """A one-word buffer between a reader (`i`) and a port (`o`): requests pass through, a response
    moves into the buffer as soon as it is empty, so the port is free again one cycle after the
    request even while the reader is still busy with its previous word (a reader with one request
    in flight then holds a shared port one cycle per word). Payload flops load only on a transfer."""

    def __init__(self, addr_width: int, data_shape):
        sig = ReadPortSignature(addr_width, data_shape)
        super().__init__({"i": In(sig), "o": Out(sig)})

    def elaborate(self, platform):
        m = Module()
        word = Signal(self.o.resp.payload.shape(), reset_less=True)
        load = Signal()  # the buffer's clock-gate enable
        m.d.comb += [
            self.o.req.valid.eq(self.i.req.valid), self.o.req.payload.eq(self.i.req.payload),
            self.i.req.ready.eq(self.o.req.ready),
            self.o.resp.ready.eq(~self.i.resp.valid | self.i.resp.ready),
            load.eq(self.o.resp.valid & self.o.resp.ready),
            self.i.resp.payload.eq(word),
        ]
        with m.If(self.o.resp.ready):
            m.d.sync += self.i.resp.valid.eq(self.o.resp.valid)
        with m.If(load):
            m.d.sync += word.eq(self.o.resp.payload)
        return m
