"""The score stage in amaranth.sim against golden.score_rows. Fixed seeds, printed; random stalls on
every stream."""

import random

import numpy as np
import pytest

from latte_rtl import golden
from latte_rtl.config import LatteConfig
from latte_rtl.sim.amaranth_streams import stream_put, stream_until
from tests.amaranth_helpers import SEED, pauses, simulate


def _beats(sc, v) -> list[list[int]]:
    """A q or k vector as `beats` beats of `lanes` elements, zeros past dim."""
    return [list(v[b * sc.lanes:(b + 1) * sc.lanes]) + [0] * max(0, (b + 1) * sc.lanes - sc.dim)
            for b in range(sc.beats)]


async def _put_rows(ctx, dut, sc, q, heads, key_limit: int, prng=None) -> None:
    """The rows `q` [R, d] of heads `heads` [R], each seeing `key_limit` keys, with the pauses of `prng`."""
    for r in range(len(q)):
        for beat in _beats(sc, q[r]):
            await stream_put(ctx, dut.query, {"data": beat, "head": int(heads[r]), "key_limit": key_limit}, prng)


async def _put_keys(ctx, dut, sc, k, prng=None) -> None:
    """Load the keys `k` [N, d] (`last` on the final beat), with the pauses of `prng`."""
    for j in range(len(k)):
        for b, beat in enumerate(_beats(sc, k[j])):
            await stream_put(ctx, dut.keys, {"data": beat, "last": int(j == len(k) - 1 and b == sc.beats - 1)}, prng)


@pytest.mark.parametrize("mode,completion_lanes,pipeline,estimate", [
    ("relative", 0, True, "hh"), ("absolute", 0, True, "hh"), ("relative", 0, False, "hh"), ("relative", 1, True, "hh"),
    ("absolute", 1, True, "hh"), ("relative", 3, True, "hh"), ("absolute", 3, True, "hh"), ("absolute", 3, False, "hh"),
    ("relative", 0, True, "centred"), ("absolute", 0, False, "centred"), ("relative", 1, True, "centred"),
    ("absolute", 3, True, "centred")])
@pytest.mark.parametrize("lanes", [3])
def test_score_stage_in_amaranth_sim(mode, completion_lanes, pipeline, estimate, lanes):
    """The whole LATTE score stage against golden, random stalls on every port, without Verilog:
    scored keys, row records (the max of the estimate E), every estimate on the monitor and its read
    counters (shared array, completion arrays of one lane and of every lane, with and without the
    product register; both estimates; a key a beat, where LL reuses HL's k_L word)."""
    from latte_rtl.stages.score import LatteScoreStage

    cfg = LatteConfig.from_params(dim=10, lanes=lanes, heads=2, max_keys=12, threshold_mode=mode,
                                  completion_lanes=completion_lanes, pipeline=pipeline, estimate=estimate)
    sc = cfg.score
    print(f"seed={SEED} mode={mode} completion_lanes={completion_lanes} pipeline={pipeline} estimate={estimate} "
          f"lanes={lanes}")
    rng = np.random.default_rng(SEED)
    lo, hi = sc.operand_range
    q, k = rng.integers(lo, hi + 1, (4, sc.dim)), rng.integers(lo, hi + 1, (11, sc.dim))
    q[0] = lo  # extreme operands: a row and a key of the most negative value
    k[3] = lo
    thr = golden.threshold_for_keep(golden.score_rows(q, k, np.zeros(4, int), np.array([0]), sc).estimate, 0.3, mode)
    keep_none_or_all = sc.widths.threshold_range[0 if mode == "absolute" else 1]
    heads, thresholds = np.array([0, 1, 1, 0]), np.array([thr, keep_none_or_all])
    gold = golden.score_rows(q, k, heads, thresholds, sc)
    dut = LatteScoreStage(cfg)
    got, estimates = {}, []

    async def producer(ctx):
        prng = pauses(random.Random(SEED), 0.6)
        for h, t in enumerate(thresholds):
            await stream_put(ctx, dut.thresholds, {"head": h, "value": int(t)})
        await _put_keys(ctx, dut, sc, k, prng)
        await _put_rows(ctx, dut, sc, q, heads, len(k), prng)

    async def consumer(ctx):
        prng = pauses(random.Random(SEED + 1), 0.5)
        for r in range(len(q)):
            beats, rp = await stream_until(ctx, dut.scores, dut.rows, prng)
            scores = [(sp.index, sp.score, sp.estimate) for sp in beats]
            got[r] = (scores, rp.summary.kept_count, rp.summary.max_estimate, ctx.get(dut.monitor.reads.lsb),
                      ctx.get(dut.monitor.reads.msb))

    async def monitor(ctx):
        async for _, _, valid, payload in ctx.tick().sample(dut.monitor.estimate.valid, dut.monitor.estimate.payload):
            if valid:  # rows in order, each its N keys' estimates
                estimates.append((payload.index, payload.hh, payload.centred if estimate == "centred" else payload.hh))

    simulate(dut, producer, consumer, monitor)
    # the next row's estimate reads may run before a record: rows overlapped (relative mode, C > 0) and the
    # shared array's hand-over (C = 0: the next q is taken once the last completion token has been issued)
    _check_rows(sc, gold, got, estimates, len(k), overlap=mode == "relative" or completion_lanes == 0)


@pytest.mark.parametrize("mode,completion_lanes,pipeline,estimate", [
    ("relative", 0, True, "hh"), ("absolute", 5, True, "centred"), ("relative", 10, False, "hh")])
def test_score_stage_a_key_a_beat_in_amaranth_sim(mode, completion_lanes, pipeline, estimate):
    """As above with lanes = dim (one beat a key): the LL pass multiplies the k_L word its HL pass read, one
    k_L read per kept key (the read counters), scores still exact (shared array, completion arrays)."""
    test_score_stage_in_amaranth_sim(mode, completion_lanes, pipeline, estimate, lanes=10)


def _check_rows(sc, gold, got, estimates, n, *, overlap):
    """Each row's scored keys, record and N estimates (in row order on the monitor) against golden, and
    the SRAM word reads (`overlap`: row r+1's estimate reads run before row r's record)."""
    lsb_total = msb_total = 0
    for r in range(len(got)):
        scores, count, mx, lsb_reads, msb_reads = got[r]
        kept = np.flatnonzero(gold.kept[r])
        assert scores == [(j, int(gold.scores[r, j]), int(gold.hh[r, j])) for j in kept], r
        assert (count, mx) == (len(kept), int(gold.estimate[r].max()))
        row_estimates = sorted(estimates[r * n:(r + 1) * n])
        assert row_estimates == [(j, int(gold.hh[r, j]), int(gold.estimate[r, j])) for j in range(n)], r
        # every kept key: its `beats` words of k_L twice (HL, LL; once at one beat a key) and of k_H once more (LH)
        row_lsb = (1 if sc.beats == 1 else 2) * sc.beats * len(kept)
        lsb_total += row_lsb
        msb_total += sc.beats * (n + len(kept))
        if overlap and r < len(got) - 1:
            assert lsb_reads == lsb_total and msb_total <= msb_reads <= msb_total + sc.beats * n, r
        else:
            assert (lsb_reads, msb_reads) == (lsb_total, msb_total), r
        assert golden.score_reads(sc.beats, n, len(kept), golden.reads_lsb_once(sc)) == {
            "msb": sc.beats * (n + len(kept)), "lsb": row_lsb}


@pytest.mark.parametrize("mode,completion_lanes,estimate", [("relative", 0, "hh"), ("absolute", 1, "centred"),
                                                            ("relative", 1, "centred")])
def test_row_thresholds_and_window_keys_in_amaranth_sim(mode, completion_lanes, estimate):
    """Rows bring their own T on the first q beat (no threshold registers) and the last W = 2 keys each
    row sees are kept: causal key limits (1, a few, all), T at the range's ends and typical, random
    stalls; scored keys and row records against golden.score_rows(row_thresholds=...)."""
    from latte_rtl.stages.score import LatteScoreStage

    cfg = LatteConfig.from_params(dim=10, lanes=3, heads=2, max_keys=12, threshold_mode=mode, estimate=estimate,
                                  completion_lanes=completion_lanes, row_thresholds=True, window_keys=2)
    sc, (lo_t, hi_t) = cfg.score, cfg.score.widths.threshold_range
    print(f"seed={SEED} mode={mode} completion_lanes={completion_lanes} estimate={estimate}")
    rng = np.random.default_rng(SEED + 2)
    lo, hi = sc.operand_range
    q, k = rng.integers(lo, hi + 1, (5, sc.dim)), rng.integers(lo, hi + 1, (12, sc.dim))
    heads, limit = np.array([0, 1, 1, 0, 1]), np.array([12, 4, 1, 12, 7])
    mask = np.arange(12)[None, :] < limit[:, None]
    typical = golden.threshold_for_keep(golden.score_rows(q, k, heads, [0, 0], sc, key_mask=mask).estimate, 0.2,
                                        mode, mask)
    row_t = np.clip([typical, lo_t, hi_t, typical + 3, typical - 3], lo_t, hi_t)
    gold = golden.score_rows(q, k, heads, [0, 0], sc, key_mask=mask, row_thresholds=row_t)
    assert (gold.kept & ~golden.keep_mask(gold.estimate, row_t, mode, mask)).any()  # the window keeps some key
    dut = LatteScoreStage(cfg)
    assert not hasattr(dut, "thresholds")
    got = {}

    async def producer(ctx):
        prng = pauses(random.Random(SEED), 0.6)
        await _put_keys(ctx, dut, sc, k, prng)
        for r in range(len(q)):
            for b, beat in enumerate(_beats(sc, q[r])):  # T on the first beat only: the others carry 0
                await stream_put(ctx, dut.query, {"data": beat, "head": int(heads[r]), "key_limit": int(limit[r]),
                                                  "threshold": int(row_t[r]) if b == 0 else 0}, prng)

    async def consumer(ctx):
        prng = pauses(random.Random(SEED + 1), 0.5)
        for r in range(len(q)):
            scored, rp = await stream_until(ctx, dut.scores, dut.rows, prng)
            got[r] = ([(sp.index, sp.score) for sp in scored], rp.summary.kept_count, rp.summary.max_estimate)

    simulate(dut, producer, consumer)
    for r in range(len(q)):
        kept = np.flatnonzero(gold.kept[r])
        assert got[r] == ([(j, int(gold.scores[r, j])) for j in kept], len(kept),
                          int(gold.estimate[r][mask[r]].max())), r


@pytest.mark.parametrize("dim,lanes,completion_lanes,keep", [(16, 4, 1, 0.15), (8, 8, 2, 0.5), (16, 4, 4, 1.0)])
def test_overlapped_rows_match_the_cycle_model(dim, lanes, completion_lanes, keep):
    """Relative mode with a completion array, rows back to back, no stalls: row r+1's estimate runs
    while row r completes; every record's cycles and every interval between records equal
    golden.score_overlap, and the rows stay bit-exact and in order."""
    from latte_rtl.stages.score import LatteScoreStage

    n, rows = 24, 5
    cfg = LatteConfig.from_params(dim=dim, lanes=lanes, heads=1, max_keys=n, completion_lanes=completion_lanes)
    sc = cfg.score
    print(f"seed={SEED} dim={dim} lanes={lanes} completion_lanes={completion_lanes} keep={keep}")
    rng = np.random.default_rng(SEED)
    lo, hi = sc.operand_range
    q, k = rng.integers(lo, hi + 1, (rows, sc.dim)), rng.integers(lo, hi + 1, (n, sc.dim))
    thr = golden.threshold_for_keep(golden.score_rows(q, k, np.zeros(rows, int), np.array([0]), sc).hh, keep,
                                    "relative")
    gold = golden.score_rows(q, k, np.zeros(rows, int), np.array([thr]), sc)
    latency, interval = golden.score_overlap(sc, n, gold.kept, [np.arange(rows)])
    dut = LatteScoreStage(cfg)
    got = []

    async def producer(ctx):
        await stream_put(ctx, dut.thresholds, {"head": 0, "value": int(thr)})
        await _put_keys(ctx, dut, sc, k[:n])
        await _put_rows(ctx, dut, sc, q[:rows], np.zeros(rows, int), n)

    async def consumer(ctx):
        ctx.set(dut.scores.ready, 1)
        ctx.set(dut.rows.ready, 1)
        cycle, scores = 0, []
        while len(got) < rows:
            _, _, sv, sp, rv, rp = await ctx.tick().sample(dut.scores.valid, dut.scores.payload, dut.rows.valid,
                                                           dut.rows.payload)
            cycle += 1
            if sv:
                scores.append((sp.index, sp.score))
            if rv:
                got.append((scores, rp.cycles, cycle))
                scores = []

    simulate(dut, producer, consumer)
    for r, (scores, cycles, at) in enumerate(got):
        assert scores == [(j, int(gold.scores[r, j])) for j in np.flatnonzero(gold.kept[r])], r
        assert cycles == latency[r], (r, cycles, latency[r])
        if r:
            assert at - got[r - 1][2] == interval[r], (r, at - got[r - 1][2], interval[r])
    assert sum(interval[1:]) < sum(latency[1:])  # the rows overlap


@pytest.mark.parametrize("mode,estimate,lanes,pipeline", [
    ("relative", "hh", 3, True), ("absolute", "centred", 3, False), ("relative", "centred", 10, True),
    ("absolute", "hh", 10, True)])
def test_two_rounds_in_amaranth_sim(mode, estimate, lanes, pipeline):
    """rounds 2 on the shared array against golden.score_rows(round1_thresholds=...): a first round on the top
    m1 bits, then HH of its survivors only; T1 per head typical, keep-all and keep-none; random stalls on every
    port. Scored keys, records (the max over the survivors), the monitor's estimates (the survivors')."""
    from latte_rtl.golden.rounds import round1_estimates, round1_threshold_range
    from latte_rtl.stages.score import LatteScoreStage

    cfg = LatteConfig.from_params(dim=10, lanes=lanes, heads=3, max_keys=12, threshold_mode=mode, rounds=2,
                                  estimate=estimate, pipeline=pipeline, sink_keys=1)
    sc = cfg.score
    print(f"seed={SEED} mode={mode} estimate={estimate} lanes={lanes} pipeline={pipeline}")
    rng = np.random.default_rng(SEED + 3)
    lo, hi = sc.operand_range
    q, k = rng.integers(lo, hi + 1, (5, sc.dim)), rng.integers(lo, hi + 1, (11, sc.dim))
    q[0], k[3] = lo, lo
    heads = np.array([0, 1, 2, 0, 1])
    thr = golden.threshold_for_keep(golden.score_rows(q, k, heads, [0] * 3, sc).estimate, 0.3, mode)
    t1_lo, t1_hi = round1_threshold_range(sc, sc.dim)
    typical1 = golden.threshold_for_keep(round1_estimates(q, k, sc), 0.6, mode)
    keep_all1, keep_none1 = (t1_hi, t1_lo) if mode == "relative" else (t1_lo, t1_hi)
    thresholds, thresholds1 = np.array([thr] * 3), np.array([typical1, keep_all1, keep_none1])
    gold = golden.score_rows(q, k, heads, thresholds, sc, round1_thresholds=thresholds1)
    assert gold.survived.sum(axis=1).min() < len(k) and gold.kept.any()
    dut = LatteScoreStage(cfg)
    got, estimates = {}, []

    async def producer(ctx):
        prng = pauses(random.Random(SEED), 0.6)
        for h in range(3):
            await stream_put(ctx, dut.thresholds, {"head": h, "value": int(thresholds[h])})
            await stream_put(ctx, dut.round1_thresholds, {"head": h, "value": int(thresholds1[h])})
        await _put_keys(ctx, dut, sc, k, prng)
        await _put_rows(ctx, dut, sc, q, heads, len(k), prng)

    async def consumer(ctx):
        prng = pauses(random.Random(SEED + 1), 0.5)
        for r in range(len(q)):
            scored, rp = await stream_until(ctx, dut.scores, dut.rows, prng)
            got[r] = ([(sp.index, sp.score, sp.estimate) for sp in scored], rp.summary.kept_count,
                      rp.summary.max_estimate)

    async def monitor(ctx):
        async for _, _, valid, payload in ctx.tick().sample(dut.monitor.estimate.valid, dut.monitor.estimate.payload):
            if valid:
                estimates.append((payload.index, payload.hh))

    simulate(dut, producer, consumer, monitor)
    start = 0
    for r in range(len(q)):
        kept, survived = np.flatnonzero(gold.kept[r]), np.flatnonzero(gold.survived[r])
        top = int(gold.estimate[r][survived].max()) if survived.size else 0
        assert got[r] == ([(j, int(gold.scores[r, j]), int(gold.hh[r, j])) for j in kept], len(kept), top), r
        assert estimates[start:start + survived.size] == [(j, int(gold.hh[r, j])) for j in survived], r
        start += survived.size
    assert start == len(estimates)
