"""The latency-tolerant read port in front of an SRAM: words come back in request order, one a cycle
at full rate, and a stalled response loses nothing. Fixed seed, printed; random stalls on both streams."""

import random

import pytest
from amaranth import Module
from amaranth.lib import wiring

from latte_rtl.hw.readport import ReadArbiter, ReadPortSignature, ResponseBuffer, SRAMReadPort
from latte_rtl.hw.sram import SRAM
from latte_rtl.sim.amaranth_streams import stream_get, stream_put
from tests.amaranth_helpers import SEED, pauses, simulate

DEPTH, WIDTH = 16, 12


class _PortedSRAM(wiring.Component):
    """An SRAM with a write port and a `ReadPortSignature` read port (the test's store)."""

    def __init__(self):
        super().__init__({"port": wiring.In(ReadPortSignature(4, WIDTH)),
                          "waddr": wiring.In(4), "wdata": wiring.In(WIDTH), "wen": wiring.In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.ram = ram = SRAM(width=WIDTH, depth=DEPTH)
        m.submodules.adapter = adapter = SRAMReadPort(4, WIDTH)
        wiring.connect(m, wiring.flipped(self.port), adapter.port)
        m.d.comb += [ram.waddr.eq(self.waddr), ram.wdata.eq(self.wdata), ram.wen.eq(self.wen),
                     ram.raddr.eq(adapter.ram.addr), ram.ren.eq(adapter.ram.en), adapter.ram.data.eq(ram.rdata)]
        return m


async def _write(ctx, dut, words) -> None:
    """Store `words` at addresses 0.. through the test store's write port."""
    for a, w in enumerate(words):
        ctx.set(dut.waddr, a)
        ctx.set(dut.wdata, w)
        ctx.set(dut.wen, 1)
        await ctx.tick()
    ctx.set(dut.wen, 0)


def _words_in_order(dut, n: int, busy_req: float, busy_resp: float, cycles: int) -> None:
    """Write random words, read `n` random addresses through `dut.port` with random stalls on both
    streams, and check every word comes back in request order."""
    rng = random.Random(SEED)
    words = [rng.randrange(1 << WIDTH) for _ in range(DEPTH)]
    addrs = [rng.randrange(DEPTH) for _ in range(n)]
    got = []

    async def writer_and_requests(ctx):
        await _write(ctx, dut, words)
        for a in addrs:
            await stream_put(ctx, dut.port.req, a, pauses(rng, busy_req))

    async def responses(ctx):
        prng = pauses(random.Random(SEED + 1), busy_resp)
        for _ in addrs:
            got.append(await stream_get(ctx, dut.port.resp, prng))

    simulate(dut, writer_and_requests, responses, cycles=cycles)
    assert got == [words[a] for a in addrs]


@pytest.mark.parametrize("busy", [1.0, 0.5])
def test_sram_read_port_order_and_stalls(busy):
    print(f"seed={SEED} busy={busy}")
    _words_in_order(_PortedSRAM(), 60, busy, busy, 2000)


def test_sram_read_port_full_rate():
    """Without stalls a word comes back every cycle: N requests take N + 1 cycles."""
    dut = _PortedSRAM()
    n = 10
    stamps = []

    async def tb(ctx):
        ctx.set(dut.port.resp.ready, 1)
        ctx.set(dut.port.req.valid, 1)
        for cycle in range(n + 3):
            ctx.set(dut.port.req.valid, int(cycle < n))
            ctx.set(dut.port.req.payload, cycle % DEPTH)
            if ctx.get(dut.port.resp.valid):
                stamps.append(cycle)
            if cycle < n:
                assert ctx.get(dut.port.req.ready)
            await ctx.tick()

    simulate(dut, tb, cycles=100)
    assert stamps == list(range(1, n + 1))


def test_read_port_signature_checks_width():
    with pytest.raises(TypeError, match="addr_width must be a positive integer, not 0"):
        ReadPortSignature(0, 8)


class _SharedSRAM(wiring.Component):
    """Two readers on one single-port SRAM through `ReadArbiter`."""

    def __init__(self):
        sig = ReadPortSignature(4, WIDTH)
        super().__init__({"first": wiring.In(sig), "second": wiring.In(sig),
                          "waddr": wiring.In(4), "wdata": wiring.In(WIDTH), "wen": wiring.In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.store = store = _PortedSRAM()
        m.submodules.arbiter = arb = ReadArbiter(4, WIDTH)
        wiring.connect(m, wiring.flipped(self.first), arb.first)
        wiring.connect(m, wiring.flipped(self.second), arb.second)
        wiring.connect(m, arb.o, store.port)
        m.d.comb += [store.waddr.eq(self.waddr), store.wdata.eq(self.wdata), store.wen.eq(self.wen)]
        return m


def test_arbiter_routes_each_word_to_its_reader():
    """Both readers request at random and stall their responses at random: each gets its own words, in
    order; `first` is never refused in a cycle `second` is granted."""
    print(f"seed={SEED}")
    rng = random.Random(SEED)
    dut = _SharedSRAM()
    words = [rng.randrange(1 << WIDTH) for _ in range(DEPTH)]
    addrs = {r: [rng.randrange(DEPTH) for _ in range(40)] for r in ("first", "second")}
    got = {"first": [], "second": []}
    refused = []

    async def writer(ctx):
        await _write(ctx, dut, words)
        ctx.set(dut.first.req.valid, 0)

    def requests(reader, delay):
        async def run(ctx):
            await ctx.tick().repeat(delay)
            for a in addrs[reader]:
                await stream_put(ctx, getattr(dut, reader).req, a, pauses(random.Random(f"{SEED}{reader}"), 0.6))
        return run

    def responses(reader):
        async def run(ctx):
            prng = pauses(random.Random(f"{SEED}{reader}r"), 0.6)
            for _ in addrs[reader]:
                got[reader].append(await stream_get(ctx, getattr(dut, reader).resp, prng))
        return run

    async def watch(ctx):
        async for _, _, fv, fr, sr in ctx.tick().sample(dut.first.req.valid, dut.first.req.ready,
                                                         dut.second.req.ready):
            if fv and not fr and sr:
                refused.append(1)

    simulate(dut, writer, requests("first", DEPTH + 1), requests("second", DEPTH + 1), responses("first"),
             responses("second"), watch, cycles=1000)
    assert got == {r: [words[a] for a in addrs[r]] for r in addrs}
    assert not refused


class _BufferedSRAM(_PortedSRAM):
    """`_PortedSRAM` read through a `ResponseBuffer`."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = _PortedSRAM()
        m.submodules.buffer = buf = ResponseBuffer(4, WIDTH)
        wiring.connect(m, wiring.flipped(self.port), buf.i)
        wiring.connect(m, buf.o, inner.port)
        m.d.comb += [inner.waddr.eq(self.waddr), inner.wdata.eq(self.wdata), inner.wen.eq(self.wen)]
        return m


def test_response_buffer_keeps_order_under_stalls():
    """Through the one-word buffer: every word in request order, random stalls on both streams."""
    print(f"seed={SEED}")
    _words_in_order(_BufferedSRAM(), 50, 0.6, 0.4, 1500)
