"""Stream helpers (fork).
Fixed seeds, printed; random stalls on every stream."""

import random

from amaranth import ClockDomain, Module

from latte_rtl.hw.streams import Fork
from latte_rtl.sim.amaranth_streams import stream_get, stream_put
from tests.amaranth_helpers import pauses, simulate


def test_fork_is_lazy():
    """A beat leaves the fork only when both consumers take it in the same cycle."""
    dut = Fork(8)
    got_a, got_b = [], []

    async def producer(ctx):
        for v in range(20):
            await stream_put(ctx, dut.i, v)

    def consumer(port, out, seed):
        async def take(ctx):
            prng = pauses(random.Random(seed), 0.5)
            for _ in range(20):
                out.append(await stream_get(ctx, port, prng))
        return take

    top = Module()  # the fork is combinational: give the testbench a clock to step on
    top.submodules.fork = dut
    top.domains.sync = ClockDomain("sync")
    simulate(top, producer, consumer(dut.a, got_a, 1), consumer(dut.b, got_b, 2))
    assert got_a == got_b == list(range(20))
