"""The integer softmax stage in amaranth.sim against golden.softmax_rows.
Fixed seeds, printed; random stalls on every stream."""

import random

import numpy as np
import pytest

from latte_rtl import golden
from latte_rtl.config import LatteConfig
from latte_rtl.sim.amaranth_streams import stream_put, stream_until
from tests.amaranth_helpers import ATTENTION, SEED, pauses, simulate


@pytest.mark.parametrize("config,lanes", [(c, 1) for c in ATTENTION] + [("linear_f2", 4), ("log2_f0", 5),
                                                                        ("vmean_d7l3", 2)])
def test_softmax_stage(config, lanes):
    """Kept scores and the row record in, probabilities and the row's Σp out, against
    golden.softmax_rows; rows with one key, ties at the max, none kept, C_h > 0; random stalls; rows
    back to back (the next row collected while one is in its passes); softmax_lanes S > 1: rows of
    fewer, exactly S and more than S scores, S not dividing max_keys."""
    from latte_rtl.stages.softmax import SoftmaxStage

    cfg = LatteConfig.from_params(**ATTENTION[config], softmax_lanes=lanes)
    a, sw = cfg.attention, cfg.score.widths
    print(f"seed={SEED} config={config} softmax_lanes={lanes}")
    rng = np.random.default_rng(SEED)
    mults, comps = [int(rng.integers(1, 1 << a.mult_bits)), (1 << a.mult_bits) - 1], [0, 37]
    rows = []
    for n_kept in (5, 1, 0, 12, 3):
        idx = np.sort(rng.choice(cfg.score.max_keys, n_kept, replace=False))
        s = rng.integers(sw.score_range[0], sw.score_range[1] + 1, n_kept)
        if n_kept == 3:
            s[:] = s.max()  # ties at the max
        rows.append((idx, s, len(rows) % 2))
    dut = SoftmaxStage(cfg)
    got, done_before = [], []  # rows whose `done` was out when each record was taken

    async def producer(ctx):
        for h in range(2):
            ctx.set(dut.mult_write.valid, 1)
            ctx.set(dut.mult_write.payload, {"head": h, "value": mults[h]})
            ctx.set(dut.comp_write.valid, 1)
            ctx.set(dut.comp_write.payload, {"head": h, "value": comps[h]})
            await ctx.tick()
        ctx.set(dut.mult_write.valid, 0)
        ctx.set(dut.comp_write.valid, 0)
        prng = pauses(random.Random(SEED), 0.7)
        for idx, s, head in rows:
            for j, score in zip(idx, s):
                await stream_put(ctx, dut.scores, {"index": int(j), "score": int(score), "estimate": 0}, prng)
            await stream_put(ctx, dut.rows, {"summary": {"kept_count": len(idx), "max_estimate": 0}, "head": head,
                                             "cycles": 0})
            done_before.append(len(got))

    async def consumer(ctx):
        prng = pauses(random.Random(SEED + 1), 0.6)
        for _ in rows:
            beats, dp = await stream_until(ctx, dut.probs, dut.done, prng)
            got.append(([(pp.index, pp.prob) for pp in beats], dp.kept_count, dp.prob_sum, dp.head))

    simulate(dut, producer, consumer, cycles=40000)
    assert len(got) == len(rows)
    # double-banked buffer: a row's scores and record go in while the row before is still in its passes
    assert any(n < r for r, n in enumerate(done_before)), done_before
    for (idx, s, head), (probs, count, prob_sum, got_head) in zip(rows, got):
        want = golden.softmax_rows(s[None], np.ones((1, len(s)), bool), np.array([mults[head]]),
                                   np.array([comps[head]]),
                                   **{k: x for k, x in a.golden_params().items() if k != "vmean"})["probs"][0] \
            if len(s) else np.zeros(0, np.int64)
        assert probs == [(int(j), int(p)) for j, p in zip(idx, want)], (idx, s, probs, want)
        assert (count, prob_sum, got_head) == (len(idx), int(want.sum()), head)
