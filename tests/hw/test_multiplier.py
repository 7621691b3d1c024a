"""The nibble multiplier array alone in amaranth.sim, against exact products.
Fixed seeds, printed; random stalls on every stream."""

import random

from latte_rtl.hw.multiplier import MultiplierArray
from tests.amaranth_helpers import SEED, simulate


def test_multiplier_array_extremes_and_random():
    print(f"seed={SEED}")
    rng = random.Random(SEED)
    dut = MultiplierArray(lanes=4, width=5)
    cases = [([-16] * 4, [-16] * 4), ([15] * 4, [-16] * 4)] + [
        ([rng.randint(-16, 15) for _ in range(4)], [rng.randint(-16, 15) for _ in range(4)]) for _ in range(50)]

    async def tb(ctx):
        for a, b in cases:
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            got = [ctx.get(dut.products[i]) for i in range(4)]
            assert len(got) == 4
            await ctx.delay(1e-6)
            assert got == [x * y for x, y in zip(a, b)], (a, b, got)

    simulate(dut, tb, cycles=10)
