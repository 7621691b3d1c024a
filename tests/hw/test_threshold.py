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
# the centred estimate (E beside HH, E compared) with a window of the last 2 keys (and a sink in absolute mode)
CENTRED = {f"{name}_centred_window2": replace(cfg, estimate="centred", window_keys=2,
                                              sink_keys=int(cfg.threshold_mode == "absolute"))
           for name, cfg in CONFIGS.items()}
FILTERS = {**CONFIGS, **SINKS, **CENTRED}


@pytest.mark.parametrize("config", FILTERS)
def test_threshold_filter(config):
    """Estimates in (one per cycle or with gaps, waiting on ready), kept keys out in index order under
    random ready (both modes: the absolute mode's kept FIFO fills and must stall `estimate`),
    then the row summary; ties, all-equal rows, N = 0, 1 and max_keys. The centred estimate: E (drawn over
    its whole range, ±max_estimate) is compared, HH goes along with each kept key."""
    cfg = FILTERS[config]
    w, centred = cfg.widths, cfg.estimate == "centred"
    print(f"seed={SEED} config={config}")
    rng = np.random.default_rng(SEED)
    dut = ThresholdFilter(cfg)
    lo_t, hi_t = w.threshold_range
    trials = []
    for t, n in enumerate([cfg.max_keys, 1, 0, 5, cfg.max_keys, 7]):
        hh = rng.integers(w.hh_range[0], w.hh_range[1] + 1, n)
        est = rng.integers(-w.max_estimate, w.max_estimate + 1, n) if centred else hh
        if t == 3:
            est[:] = est[0] if n else 0  # all tied
        if t == 4 and centred and n:
            est[:2] = -w.max_estimate, w.max_estimate  # the range's ends
        thr = int(rng.integers(lo_t, hi_t + 1)) if t > 3 else [lo_t, hi_t, 0, 0][t]
        trials.append((hh, est, thr))
    got = []

    async def producer(ctx):
        for hh, est, thr in trials:
            ctx.set(dut.threshold, thr)
            await stream_put(ctx, dut.job, {"n_keys": len(hh)})
            for j in range(len(hh)):
                payload = {"index": j, "hh": int(hh[j])}
                if centred:
                    payload["centred"] = int(est[j])
                await stream_put(ctx, dut.estimate, payload)
                if rng.random() < 0.3:
                    await ctx.tick()
            await ctx.tick().until(dut.job.ready)

    async def consumer(ctx):
        prng = pauses(random.Random(SEED), 0.1)  # kept.ready 10 %: the kept FIFO fills
        for _ in trials:
            kept = []
            while True:
                ready = not next(prng)
                ctx.set(dut.kept.ready, int(ready))
                ctx.set(dut.summary.ready, 1)
                _, _, kv, kp, sv, sp = await ctx.tick().sample(dut.kept.valid, dut.kept.payload, dut.summary.valid,
                                                               dut.summary.payload)
                if kv and ready:
                    kept.append((kp.index, kp.hh, kp.centred if centred else kp.hh))
                if sv:
                    got.append((kept, sp.kept_count, sp.max_estimate))
                    break

    simulate(dut, producer, consumer)
    for (hh, est, thr), (kept, count, mx) in zip(trials, got):
        want = np.flatnonzero(golden.keep_mask(est[None], np.array([thr]), cfg.threshold_mode,
                                               sink_keys=cfg.sink_keys, window_keys=cfg.window_keys)[0]) \
            if len(hh) else []
        assert [i for i, _, _ in kept] == list(want), (thr, kept, list(want))
        assert [(h, e) for _, h, e in kept] == [(int(hh[i]), int(est[i])) for i in want]
        assert count == len(want) and mx == (int(est.max()) if len(hh) else 0)
    assert len(got) == len(trials)


# the golden twin: keep_mask by hand

@pytest.mark.parametrize("config", CONFIGS)
def test_threshold_filter_takes_n_estimates_a_row(config):
    """Issue 35: `estimate` is ready for exactly the job's N estimates (none before the job, none past N, so
    the row's summary stays offered while it waits) and the threshold is sampled as the job is taken (a write
    to it during the row changes nothing)."""
    cfg = CONFIGS[config]
    dut = ThresholdFilter(cfg)
    seen = []

    async def bench(ctx):
        ctx.set(dut.estimate.valid, 1)
        ctx.set(dut.estimate.payload, {"index": 0, "hh": 1})
        _, _, ready = await ctx.tick().sample(dut.estimate.ready)
        seen.append(ready)  # no job yet
        ctx.set(dut.threshold, 0)
        await stream_put(ctx, dut.job, {"n_keys": 2})
        ctx.set(dut.threshold, cfg.widths.threshold_range[1])  # a write during the row
        for j in range(4):
            ctx.set(dut.estimate.payload, {"index": min(j, 1), "hh": 1})
            _, _, ready = await ctx.tick().sample(dut.estimate.ready)
            seen.append(ready)
        ctx.set(dut.estimate.valid, 0)
        ctx.set(dut.kept.ready, 1)
        ctx.set(dut.summary.ready, 0)
        while not ctx.get(dut.summary.valid):
            await ctx.tick()
        summary = ctx.get(dut.summary.payload)
        seen.append((summary.kept_count, summary.max_estimate))
        await ctx.tick().repeat(3)
        seen.append(ctx.get(dut.summary.valid))

    simulate(dut, bench, cycles=100)
    # both estimates equal: kept at T = 0 in either mode (relative: E >= max - 0; absolute: E >= 0)
    assert seen == [0, 1, 1, 0, 0, (2, 1), 1], seen


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


def test_window_keys_are_the_last_of_the_visible_keys():
    """Keys j >= key_limit − W are kept in both modes (key_limit: the row's visible keys), the max still
    counts every visible key, and a window key the row may not see is not kept."""
    est = np.array([[-9, 10, -5, 9, -7], [-9, 10, -5, 9, -7]])
    assert keep_mask(est, np.array([1, 1]), "relative", window_keys=2).tolist() == [[False, True, False, True,
                                                                                     True]] * 2
    assert keep_mask(est, np.array([20, 20]), "absolute", window_keys=1).tolist() == [[False] * 4 + [True]] * 2
    mask = np.array([[True] * 5, [True, True, True, False, False]])
    assert keep_mask(est, np.array([0, 0]), "relative", mask, window_keys=1).tolist() == [
        [False, True, False, False, True], [False, True, True, False, False]]
