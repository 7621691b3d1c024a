"""The completion unit: HL, LH, LL passes per kept key.
Fixed seeds, printed; random stalls on every stream."""

import random

import pytest

from latte_rtl.hw.completion import CompletionUnit
from latte_rtl.hw.layouts import PassKind
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
    # From the recombination (HH << l) + HL + LH, then << l, + LL (docs/spec.md §2), written out:
    # (kind, q_low, k_low, first beat shifts the accumulator, last beat ends the key)
    passes = [(PassKind.MID, 0, 1, True, False),   # HL = Σ q_H·k_L: starts from HH << l
              (PassKind.MID, 1, 0, False, False),  # LH = Σ q_L·k_H: adds on, no shift
              (PassKind.LOW, 1, 1, True, True)]    # LL = Σ q_L·k_L: shifts by l, then the score is done
    last_beat = cfg.beats - 1
    expected = [(kind, q_low, k_low, b, int(b == 0 and shift), int(b == last_beat and ends), index, hh)
                for index, hh in jobs for kind, q_low, k_low, shift, ends in passes for b in range(cfg.beats)]
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
