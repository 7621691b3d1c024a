"""Latency-tolerant read ports: a request stream of word addresses out, a response stream of words back.

A reader that speaks `ReadPortSignature` does not know how many cycles a word takes, so the store
behind it can be an on-chip SRAM (`SRAMReadPort`, one cycle) or external memory (an AXI4 read master,
many cycles, bursts, stalls) without changing the reader.
"""

from amaranth import Module
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
