"""Stream helpers (fork, skid register).
Fixed seeds, printed; random stalls on every stream."""

import random

import pytest

from latte_rtl.hw.streams import EagerFork, SkidRegister
from latte_rtl.sim.amaranth_streams import stream_get, stream_put
from tests.amaranth_helpers import checked_sink, pauses, simulate


def test_eager_fork_gives_each_consumer_every_beat_once():
    """Each output takes each beat once, in order, in its own cycle (random stalls on all three streams); a
    stalled output keeps its valid and payload whatever the other output does (the stream protocol)."""
    seed = 5
    print(f"seed {seed}")
    dut, got_a, got_b, broken = EagerFork(8), [], [], []

    async def producer(ctx):
        prng = pauses(random.Random(seed), 0.6)
        for v in range(30):
            await stream_put(ctx, dut.i, v, prng)

    def consumer(port, out, seed):
        return checked_sink(port, 30, pauses(random.Random(seed), 0.5), out, broken)

    simulate(dut, producer, consumer(dut.a, got_a, seed + 1), consumer(dut.b, got_b, seed + 2), cycles=600)
    assert got_a == got_b == list(range(30)) and not broken, broken


@pytest.mark.parametrize("busy_in,busy_out", [(1.0, 1.0), (0.7, 0.4), (0.4, 0.9)])
def test_skid_register_keeps_order_at_full_throughput(busy_in, busy_out):
    """Every beat once, in order, under random stalls on both sides."""
    seed = 7 + int(10 * busy_in) + int(100 * busy_out)
    print(f"seed {seed}")
    dut, got = SkidRegister(8), []

    async def producer(ctx):
        prng = pauses(random.Random(seed), busy_in)
        for v in range(40):
            await stream_put(ctx, dut.i, v, prng)

    async def consumer(ctx):
        prng = pauses(random.Random(seed + 1), busy_out)
        for _ in range(40):
            got.append(await stream_get(ctx, dut.o, prng))

    simulate(dut, producer, consumer, cycles=400)
    assert got == list(range(40))


def test_skid_register_ready_is_a_flip_flop():
    """`i.ready` does not follow `o.ready` within a cycle (the long ready path it cuts), and a beat a cycle
    passes while `o` takes every cycle."""
    dut, taken = SkidRegister(8), []

    async def bench(ctx):
        ctx.set(dut.i.valid, 1)
        for cycle in range(24):
            ctx.set(dut.i.payload, cycle)
            ctx.set(dut.o.ready, 0)
            low = ctx.get(dut.i.ready)
            ctx.set(dut.o.ready, 1)
            assert ctx.get(dut.i.ready) == low, cycle
            stall = 4 <= cycle < 8                    # o stalls a while: the skid fills, i.ready drops
            ctx.set(dut.o.ready, not stall)
            if ctx.get(dut.o.valid) and not stall:
                taken.append(cycle)
            await ctx.tick()

    simulate(dut, bench, cycles=30)
    assert [c for c in taken if c >= 10] == list(range(10, 24))      # back to a beat a cycle after the stall
