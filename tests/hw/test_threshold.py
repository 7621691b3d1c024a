"""The threshold filter against golden.keep_mask, and keep_mask itself by hand.
Fixed seeds, printed; random stalls on every stream."""

import random
from dataclasses import replace

import numpy as np
import pytest

from latte_rtl import golden
from latte_rtl.golden import keep_mask
from latte_rtl.hw.threshold import ThresholdFilter
from latte_rtl.sim.amaranth_streams import stream_put
from tests.amaranth_helpers import CONFIGS, SEED, pauses, simulate

SINKS = {f"{name}_sink3": replace(cfg, sink_keys=3) for name, cfg in CONFIGS.items()}


@pytest.mark.parametrize("config", [*CONFIGS, *SINKS])
def test_threshold_filter(config):
    """Estimates in (one per cycle or with gaps, waiting on ready), kept keys out in index order under
    random ready (both modes: the absolute mode's kept FIFO fills and must stall `estimate`),
    then the row summary; ties, all-equal rows, N = 0, 1 and max_keys."""
    cfg = {**CONFIGS, **SINKS}[config]
    w = cfg.widths
    print(f"seed={SEED} config={config}")
    rng = np.random.default_rng(SEED)
    dut = ThresholdFilter(cfg)
    lo_t, hi_t = w.threshold_range
    trials = []
    for t, n in enumerate([cfg.max_keys, 1, 0, 5, cfg.max_keys, 7]):
        hh = rng.integers(w.hh_range[0], w.hh_range[1] + 1, n)
        if t == 3:
            hh[:] = hh[0] if n else 0  # all tied
        thr = int(rng.integers(lo_t, hi_t + 1)) if t > 3 else [lo_t, hi_t, 0, 0][t]
        trials.append((hh, thr))
    got = []

    async def producer(ctx):
        for hh, thr in trials:
            await stream_put(ctx, dut.job, {"n_keys": len(hh), "threshold": thr})
            for j, v in enumerate(hh):
                await stream_put(ctx, dut.estimate, {"index": j, "hh": int(v)})
                if rng.random() < 0.3:
                    await ctx.tick()
            await ctx.tick().until(dut.job.ready)

    async def consumer(ctx):
        prng = pauses(random.Random(SEED), 0.1)  # kept.ready 10 %: the kept FIFO fills
        for _hh, _ in trials:
            kept = []
            while True:
                ready = not next(prng)
                ctx.set(dut.kept.ready, int(ready))
                ctx.set(dut.summary.ready, 1)
                _, _, kv, kp, sv, sp = await ctx.tick().sample(dut.kept.valid, dut.kept.payload, dut.summary.valid,
                                                               dut.summary.payload)
                if kv and ready:
                    kept.append((kp.index, kp.hh))
                if sv:
                    got.append((kept, sp.kept_count, sp.max_estimate))
                    break

    simulate(dut, producer, consumer)
    for (hh, thr), (kept, count, mx) in zip(trials, got):
        want = np.flatnonzero(golden.keep_mask(hh[None], np.array([thr]), cfg.threshold_mode,
                                               sink_keys=cfg.sink_keys)[0]) if len(hh) else []
        assert [i for i, _ in kept] == list(want), (thr, kept, list(want))
        assert [h for _, h in kept] == [int(hh[i]) for i in want]
        assert count == len(want) and mx == (int(hh.max()) if len(hh) else 0)
    assert len(got) == len(trials)


# the golden twin: keep_mask by hand

def test_relative_ties_keep_boundary_and_max():
    hh = np.array([[10, 7, 6, 10, -3]])
    assert keep_mask(hh, np.array([3]), "relative").tolist() == [[True, True, False, True, False]]
    assert keep_mask(hh, np.array([0]), "relative").tolist() == [[True, False, False, True, False]]


def test_absolute_ties_and_zero_keep_rows():
    hh = np.array([[10, 7, 6], [1, 2, 3]])
    assert keep_mask(hh, np.array([7, 7]), "absolute").tolist() == [[True, True, False], [False] * 3]


def test_key_mask_excludes_keys_from_max_and_keep():
    hh = np.array([[10, 7, 6]])
    mask = np.array([[False, True, True]])
    assert keep_mask(hh, np.array([1]), "relative", mask).tolist() == [[False, True, True]]


def test_sink_keys_are_kept_whatever_their_estimate():
    """Keys below sink_keys are kept in both modes, the max still counts every key, and the causal
    mask still wins (a sink the row may not see is not kept)."""
    hh = np.array([[-9, 10, -5, 9], [-9, 10, -5, 9]])
    assert keep_mask(hh, np.array([1, 1]), "relative", sink_keys=2).tolist() == [[True, True, False, True]] * 2
    assert keep_mask(hh, np.array([20, 20]), "absolute", sink_keys=1).tolist() == [[True, False, False, False]] * 2
    mask = np.array([[True, True, True, True], [False, True, True, True]])
    assert keep_mask(hh, np.array([0, 0]), "relative", mask, sink_keys=1).tolist() == [
        [True, True, False, False], [False, True, False, False]]
