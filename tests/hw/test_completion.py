"""The completion unit: HL, LH, LL passes per kept key.
Fixed seeds, printed; random stalls on every stream."""

import random

import pytest

from latte_rtl.hw.completion import PASSES, CompletionUnit
from latte_rtl.sim.amaranth_streams import stream_get, stream_put
from tests.amaranth_helpers import CONFIGS, SEED, pauses, simulate


@pytest.mark.parametrize("config", CONFIGS)
def test_completion_unit_tokens(config):
    """Each kept key becomes HL, LH, LL passes of `beats` tokens with the right flags."""
    cfg = CONFIGS[config]
    print(f"seed={SEED} config={config}")
    rng = random.Random(SEED)
    dut = CompletionUnit(cfg)
    jobs = [(rng.randrange(cfg.max_keys), rng.randint(*cfg.widths.hh_range)) for _ in range(5)]
    expected = [(kind, q_low, k_low, b, int(b == 0 and p != 1), int(b == cfg.beats - 1 and p == 2), index, hh)
                for index, hh in jobs for p, (kind, q_low, k_low) in enumerate(PASSES) for b in range(cfg.beats)]
    got = []

    async def producer(ctx):
        prng = pauses(random.Random(SEED), 0.6)
        for index, hh in jobs:
            await stream_put(ctx, dut.job, {"index": index, "hh": hh}, prng)

    async def consumer(ctx):
        prng = pauses(random.Random(SEED + 1), 0.7)
        for _ in expected:
            t = await stream_get(ctx, dut.o, prng)
            got.append((t.kind, t.q_low, t.k_low, t.beat, t.first, t.last, t.index, t.init))

    simulate(dut, producer, consumer)
    assert got == expected
