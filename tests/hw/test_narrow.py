"""The lane splitter (a word's operand pairs over lanes / C cycles) and the phase-1 key credits.
Fixed seeds, printed; random stalls."""

import random

import pytest

from latte_rtl.config import ScoreConfig
from latte_rtl.hw import layouts
from latte_rtl.hw.issue import KeyCredits
from latte_rtl.hw.layouts import PassKind
from latte_rtl.hw.narrow import LaneSplitter
from latte_rtl.sim.amaranth_streams import stream_get, stream_put
from tests.amaranth_helpers import SEED, pauses, simulate, token

CFG = ScoreConfig(bits=8, msb_bits=4, dim=12, lanes=6, heads=1, max_keys=8)
TOKEN = layouts.token(CFG, CFG.widths.hh_width)


@pytest.mark.parametrize("out_lanes", [1, 2, 6])
def test_splitter_offers_each_slice_with_first_and_last_once(out_lanes):
    print(f"seed={SEED} out_lanes={out_lanes}")
    rng = random.Random(SEED)
    dut = LaneSplitter(CFG, token_layout=TOKEN, operand_width=5, out_lanes=out_lanes)
    beats = [{"token": token(CFG, PassKind.MID, 0, rng.randrange(8), first=rng.randrange(2), last=rng.randrange(2)),
              "a": [rng.randint(-16, 15) for _ in range(6)], "b": [rng.randint(-16, 15) for _ in range(6)]}
             for _ in range(12)]
    steps = 6 // out_lanes
    got = []

    async def producer(ctx):
        for b in beats:
            await stream_put(ctx, dut.i, b, pauses(rng, 0.7))

    async def consumer(ctx):
        prng = pauses(random.Random(SEED + 1), 0.6)
        for _ in range(len(beats) * steps):
            got.append(await stream_get(ctx, dut.o, prng))

    simulate(dut, producer, consumer, cycles=1000)
    assert len(got) == len(beats) * steps
    for n, b in enumerate(beats):
        for s in range(steps):
            out = got[n * steps + s]
            lanes = range(s * out_lanes, (s + 1) * out_lanes)
            assert [out.a[i] for i in range(out_lanes)] == [b["a"][i] for i in lanes]
            assert [out.b[i] for i in range(out_lanes)] == [b["b"][i] for i in lanes]
            assert out.token.first == (b["token"]["first"] and s == 0)
            assert out.token.last == (b["token"]["last"] and s == steps - 1)
            assert out.token.index == b["token"]["index"]


def test_splitter_refuses_a_non_divisor():
    with pytest.raises(ValueError, match="out_lanes must be a divisor of lanes = 6, not 4"):
        LaneSplitter(CFG, token_layout=TOKEN, operand_width=5, out_lanes=4)


def test_credits_bound_keys_in_flight_plus_queued():
    """First tokens pass only while in flight + queued < capacity; returns free credits; other tokens
    always pass."""
    print(f"seed={SEED}")
    rng = random.Random(SEED)
    cap = 3
    dut = KeyCredits(TOKEN, cap)
    seen = []

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        model = 0
        for _ in range(300):
            first, queued, ret = rng.randrange(2), rng.randrange(cap + 1), int(model > 0 and rng.random() < 0.3)
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, token(CFG, PassKind.HH, 0, 0, first=first))
            ctx.set(dut.queued, queued)
            ctx.set(dut.returned, ret)
            _, _, passed = await ctx.tick().sample(dut.o.valid)
            assert passed == (not first or model + queued < cap), (model, queued, first)
            model += int(bool(passed) and bool(first)) - ret
            seen.append(passed)

    simulate(dut, tb, cycles=400)
    assert 0 < sum(seen) < len(seen)
