"""Each hardware block alone in `amaranth.sim` (no Verilog build), checked against NumPy/golden,
with random stalls on every stream. Fixed seeds, printed."""

import itertools
import random

import numpy as np
import pytest
from amaranth import ClockDomain, Module
from amaranth.lib import stream, wiring
from amaranth.sim import Simulator

from latte_rtl import golden
from latte_rtl.config import LatteConfig, ScoreConfig
from latte_rtl.hw import layouts
from latte_rtl.hw.completion import PASSES, CompletionUnit
from latte_rtl.hw.dot import Accumulator, DotProduct
from latte_rtl.hw.issue import KeyIssuer, TokenArbiter
from latte_rtl.hw.keystore import VectorStore
from latte_rtl.hw.layouts import PassKind
from latte_rtl.hw.multiplier import MultiplierArray
from latte_rtl.hw.sram import simulation_model
from latte_rtl.hw.streams import Fork
from latte_rtl.hw.threshold import ThresholdFilter
from latte_rtl.sim.amaranth_streams import stream_get, stream_put, stream_until

SEED = 20261123
CONFIGS = {
    "rel_b8m4d10l3": ScoreConfig(bits=8, msb_bits=4, dim=10, lanes=3, heads=3, max_keys=12),
    "abs_b12m3d8l8": ScoreConfig(bits=12, msb_bits=3, dim=8, lanes=8, heads=2, max_keys=9, threshold_mode="absolute"),
}


def pauses(rng: random.Random, busy: float):
    """True (stall this cycle) with probability 1 − busy."""
    while True:
        yield rng.random() >= busy


def simulate(dut, *testbenches, cycles: int = 20000):
    with simulation_model():
        sim = Simulator(dut)
    sim.add_clock(1e-6, if_exists=True)
    for tb in testbenches:
        sim.add_testbench(tb)
    sim.run_until(cycles * 1e-6)


def token(cfg, kind, beat, index, *, q_low=0, k_low=0, first=0, last=0, init=0):
    return {"kind": kind, "q_low": q_low, "k_low": k_low, "beat": beat, "first": first, "last": last,
            "index": index, "init": init}


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


@pytest.mark.parametrize("config", CONFIGS)
def test_dot_product_and_accumulator_reuse_hh(config):
    """HH, HL, LH, LL passes through multiply + adder tree + accumulator give HH, then exactly
    q·k, with the output stalled at random."""
    cfg, w = CONFIGS[config], CONFIGS[config].widths
    print(f"seed={SEED} config={config}")
    rng = np.random.default_rng(SEED)
    tok_layout = layouts.token(cfg, w.hh_width)
    dot = DotProduct(operand_layout=layouts.operands(cfg, tok_layout, w.nibble_width), sum_width=w.beat_sum_width,
                     operand_width=w.nibble_width, lanes=cfg.lanes)
    acc = Accumulator(beat_layout=dot.o.payload.shape(), acc_width=w.accumulator_width, lsb_bits=w.lsb_bits,
                      result_layout=layouts.acc_result(cfg, w.accumulator_width, w.hh_width))

    class Pair(wiring.Component):
        def __init__(self):
            super().__init__({"i": wiring.In(stream.Signature(dot.i.payload.shape())),
                              "o": wiring.Out(stream.Signature(acc.o.payload.shape()))})

        def elaborate(self, platform):
            m = Module()
            m.submodules.dot, m.submodules.acc = dot, acc
            wiring.connect(m, wiring.flipped(self.i), dot.i)
            wiring.connect(m, dot.o, acc.i)
            wiring.connect(m, acc.o, wiring.flipped(self.o))
            return m

    dut = Pair()
    lo, hi = cfg.operand_range
    trials = []
    for t in range(8):
        q = rng.integers(lo, hi + 1, cfg.dim) if t else np.full(cfg.dim, lo)
        k = rng.integers(lo, hi + 1, cfg.dim) if t else np.full(cfg.dim, lo)
        trials.append((q, k))
    want = []
    beats = []
    for t, (q, k) in enumerate(trials):
        qh, ql = golden.split(q, cfg.bits, cfg.msb_bits)
        kh, kl = golden.split(k, cfg.bits, cfg.msb_bits)
        hh = int(qh @ kh)
        want += [(PassKind.HH, t, hh), (PassKind.LOW, t, int(q @ k))]
        for kind, qa, kb, first_pass in ((PassKind.HH, qh, kh, True), (PassKind.MID, qh, kl, True),
                                         (PassKind.MID, ql, kh, False), (PassKind.LOW, ql, kl, True)):
            for b in range(cfg.beats):
                sl = slice(b * cfg.lanes, (b + 1) * cfg.lanes)
                pad = cfg.lanes - len(qa[sl])
                beats.append({"token": token(cfg, kind, b, t, first=int(first_pass and b == 0),
                                             last=int(b == cfg.beats - 1 and kind != PassKind.MID), init=hh),
                              "a": list(qa[sl]) + [0] * pad, "b": list(kb[sl]) + [0] * pad})
    got = []

    async def producer(ctx):
        prng = pauses(random.Random(SEED), 0.7)
        for beat in beats:
            await stream_put(ctx, dut.i, beat, prng)

    async def consumer(ctx):
        prng = pauses(random.Random(SEED + 1), 0.5)
        for _ in want:
            r = await stream_get(ctx, dut.o, prng)
            got.append((r.kind, r.index, r.value))

    simulate(dut, producer, consumer)
    assert got == want


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


def test_key_issuer_and_arbiter_never_split_a_key():
    """Phase-1 tokens of keys 0..N-1 interleaved with completion jobs: every token passes once,
    a key's HH beats and a job's tokens stay contiguous."""
    cfg = ScoreConfig(dim=10, lanes=3, max_keys=12)  # 4 beats
    print(f"seed={SEED}")
    comp = CompletionUnit(cfg)
    issuer, arb = KeyIssuer(cfg, comp.token_layout), TokenArbiter(comp.token_layout)

    class Merge(wiring.Component):
        def __init__(self):
            super().__init__({"job": wiring.In(stream.Signature(issuer.job.payload.shape())),
                              "kept": wiring.In(stream.Signature(comp.job.payload.shape())),
                              "o": wiring.Out(stream.Signature(arb.o.payload.shape()))})

        def elaborate(self, platform):
            m = Module()
            m.submodules += [issuer, arb, comp]
            wiring.connect(m, wiring.flipped(self.job), issuer.job)
            wiring.connect(m, wiring.flipped(self.kept), comp.job)
            wiring.connect(m, issuer.o, arb.phase1)
            wiring.connect(m, comp.o, arb.completion)
            wiring.connect(m, arb.o, wiring.flipped(self.o))
            return m

    dut, n, kept = Merge(), 9, [2, 5, 6]
    got = []

    async def rows(ctx):
        await stream_put(ctx, dut.job, {"head": 0, "n_keys": n})

    async def completions(ctx):
        prng = pauses(random.Random(SEED), 0.3)
        for j in kept:
            await stream_put(ctx, dut.kept, {"index": j, "hh": -j}, prng)

    async def sink(ctx):
        prng = pauses(random.Random(SEED + 1), 0.8)
        for _ in range(cfg.beats * (n + 3 * len(kept))):
            t = await stream_get(ctx, dut.o, prng)
            got.append((t.kind, t.index, t.beat, t.q_low, t.k_low))

    simulate(dut, rows, completions, sink)
    runs = [list(g) for _, g in itertools.groupby(got, key=lambda t: (t[0] == PassKind.HH, t[1]))]
    hh_runs = [r for r in runs if r[0][0] == PassKind.HH]
    assert [r[0][1] for r in hh_runs] == list(range(n))
    assert all([t[2] for t in r] == list(range(cfg.beats)) for r in hh_runs)
    done = [r for r in runs if r[0][0] != PassKind.HH]
    assert [r[0][1] for r in done] == kept and all(len(r) == 3 * cfg.beats for r in done)


@pytest.mark.parametrize("config", CONFIGS)
def test_threshold_filter(config):
    """Estimates in (one per cycle or with gaps), kept keys out in index order under random ready,
    then the row summary; ties, all-equal rows, N = 0, 1 and max_keys."""
    cfg = CONFIGS[config]
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
                ctx.set(dut.estimate.valid, 1)
                ctx.set(dut.estimate.payload, {"index": j, "hh": int(v)})
                await ctx.tick()
                ctx.set(dut.estimate.valid, 0)
                if rng.random() < 0.3:
                    await ctx.tick()
            await ctx.tick().until(dut.job.ready)

    async def consumer(ctx):
        prng = pauses(random.Random(SEED), 0.6)
        for hh, _ in trials:
            kept = []
            while True:
                ready = not next(prng)
                ctx.set(dut.kept.ready, int(ready or cfg.threshold_mode == "absolute"))
                ctx.set(dut.summary.ready, 1)
                _, _, kv, kp, sv, sp = await ctx.tick().sample(dut.kept.valid, dut.kept.payload, dut.summary.valid,
                                                               dut.summary.payload)
                if kv and (ready or cfg.threshold_mode == "absolute"):
                    kept.append((kp.index, kp.hh))
                if sv:
                    got.append((kept, sp.kept_count, sp.max_estimate))
                    break

    simulate(dut, producer, consumer)
    for (hh, thr), (kept, count, mx) in zip(trials, got):
        want = np.flatnonzero(golden.keep_mask(hh[None], np.array([thr]), cfg.threshold_mode)[0]) if len(hh) else []
        assert [i for i, _ in kept] == list(want), (thr, kept, list(want))
        assert [h for _, h in kept] == [int(hh[i]) for i in want]
        assert count == len(want) and mx == (int(hh.max()) if len(hh) else 0)
    assert len(got) == len(trials)


@pytest.mark.parametrize("config", CONFIGS)
def test_vector_store(config):
    """Loaded keys read back as their MSB / LSB parts (tail lanes zero whatever was sent);
    n_keys; per-bank read counters."""
    cfg = CONFIGS[config]
    print(f"seed={SEED} config={config}")
    rng = np.random.default_rng(SEED)
    dut = VectorStore(cfg, parts=("msb", "lsb"), capacity=cfg.max_keys, counter_bits=16)
    lo, hi = cfg.operand_range
    lanes, beats = cfg.lanes, cfg.beats

    async def tb(ctx):
        prng = pauses(random.Random(SEED), 0.7)
        for n in (cfg.max_keys, max(1, cfg.max_keys // 3)):
            k = rng.integers(lo, hi + 1, (n, cfg.dim))
            for j in range(n):
                for b in range(beats):
                    chunk = list(k[j, b * lanes:(b + 1) * lanes])
                    chunk += [int(rng.integers(lo, hi + 1)) for _ in range(lanes - len(chunk))]  # must be ignored
                    await stream_put(ctx, dut.load, {"data": chunk, "last": int(j == n - 1 and b == beats - 1)}, prng)
            await ctx.tick()
            assert ctx.get(dut.n_keys) == n
            padded = np.zeros((n, beats * lanes), np.int64)
            padded[:, :cfg.dim] = k
            kh, kl = golden.split(padded, cfg.bits, cfg.msb_bits)
            reads0 = ctx.get(dut.msb_reads), ctx.get(dut.lsb_reads)
            for j in range(n):
                for b in range(beats):
                    for port in (dut.msb, dut.lsb):
                        ctx.set(port.addr, j * beats + b)
                    ctx.set(dut.msb.en, 1)
                    ctx.set(dut.lsb.en, int(b % 2 == 0))
                    await ctx.tick()
                    ctx.set(dut.msb.en, 0)
                    ctx.set(dut.lsb.en, 0)
                    sl = slice(b * lanes, (b + 1) * lanes)
                    assert [ctx.get(dut.msb.data[i]) for i in range(lanes)] == list(kh[j, sl]), (j, b)
                    if b % 2 == 0:
                        assert [ctx.get(dut.lsb.data[i]) for i in range(lanes)] == list(kl[j, sl]), (j, b)
            assert ctx.get(dut.msb_reads) - reads0[0] == n * beats
            assert ctx.get(dut.lsb_reads) - reads0[1] == n * ((beats + 1) // 2)

    simulate(dut, tb)


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


@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_score_stage_in_amaranth_sim(mode):
    """The whole LATTE score stage against golden, random stalls on every port, without Verilog:
    scored keys, row records and the monitor's read counters."""
    from latte_rtl.stages.score import LatteScoreStage

    cfg = LatteConfig.from_params(dim=10, lanes=3, heads=2, max_keys=12, threshold_mode=mode)
    sc = cfg.score
    print(f"seed={SEED} mode={mode}")
    rng = np.random.default_rng(SEED)
    lo, hi = sc.operand_range
    q, k = rng.integers(lo, hi + 1, (4, sc.dim)), rng.integers(lo, hi + 1, (11, sc.dim))
    thr = golden.threshold_for_keep(golden.score_rows(q, k, np.zeros(4, int), np.array([0]), sc).hh, 0.3, mode)
    heads, thresholds = np.array([0, 1, 1, 0]), np.array([thr, sc.widths.threshold_range[0 if mode == "absolute" else 1]])
    gold = golden.score_rows(q, k, heads, thresholds, sc)
    dut = LatteScoreStage(cfg)
    got = {}

    def beats(v):
        return [list(v[b * sc.lanes:(b + 1) * sc.lanes]) + [0] * max(0, (b + 1) * sc.lanes - sc.dim)
                for b in range(sc.beats)]

    async def producer(ctx):
        prng = pauses(random.Random(SEED), 0.6)
        for h, t in enumerate(thresholds):
            await stream_put(ctx, dut.thresholds, {"head": h, "value": int(t)})
        for j in range(len(k)):
            for b, beat in enumerate(beats(k[j])):
                await stream_put(ctx, dut.keys, {"data": beat, "last": int(j == len(k) - 1 and b == sc.beats - 1)}, prng)
        for r in range(len(q)):
            for beat in beats(q[r]):
                await stream_put(ctx, dut.query, {"data": beat, "head": int(heads[r]), "key_limit": len(k)}, prng)

    async def consumer(ctx):
        prng = pauses(random.Random(SEED + 1), 0.5)
        for r in range(len(q)):
            beats, rp = await stream_until(ctx, dut.scores, dut.rows, prng)
            scores = [(sp.index, sp.score, sp.estimate) for sp in beats]
            got[r] = (scores, rp.summary.kept_count, rp.summary.max_estimate, ctx.get(dut.monitor.reads.lsb))

    simulate(dut, producer, consumer)
    lsb_total = 0
    for r in range(len(q)):
        scores, count, mx, lsb_reads = got[r]
        kept = np.flatnonzero(gold.kept[r])
        assert scores == [(j, int(gold.scores[r, j]), int(gold.hh[r, j])) for j in kept], r
        assert (count, mx) == (len(kept), int(gold.hh[r].max()))
        lsb_total += golden.score_reads(sc.beats, len(k), len(kept))["lsb"]
        assert lsb_reads == lsb_total


ATTENTION = {
    "linear_f2": dict(dim=8, lanes=4, heads=2, max_keys=12, attention=True, exp_frac_bits=2, exp_bits=10, prob_bits=8,
                      scale_shift=6, mult_bits=8),
    "log2_f0": dict(dim=8, lanes=4, heads=2, max_keys=12, attention=True, exp_frac_bits=0, exp_bits=6, prob_bits=7,
                    scale_shift=3, mult_bits=6, prob_format="log2", log_levels=5),
    "vmean_d7l3": dict(dim=7, lanes=3, heads=2, max_keys=12, attention=True, exp_frac_bits=1, exp_bits=8, prob_bits=8,
                       scale_shift=6, mult_bits=8, vmean=True),
}


@pytest.mark.parametrize("config", ATTENTION)
def test_softmax_stage(config):
    """Kept scores and the row record in, probabilities and the row's Σp out, against
    golden.softmax_rows; rows with one key, ties at the max, none kept, C_h > 0; random stalls."""
    from latte_rtl.stages.softmax import SoftmaxStage

    cfg = LatteConfig.from_params(**ATTENTION[config])
    a, sw = cfg.attention, cfg.score.widths
    print(f"seed={SEED} config={config}")
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
    got = []

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

    async def consumer(ctx):
        prng = pauses(random.Random(SEED + 1), 0.6)
        for _ in rows:
            beats, dp = await stream_until(ctx, dut.probs, dut.done, prng)
            got.append(([(pp.index, pp.prob) for pp in beats], dp.kept_count, dp.prob_sum, dp.head))

    simulate(dut, producer, consumer, cycles=40000)
    assert len(got) == len(rows)
    for (idx, s, head), (probs, count, prob_sum, got_head) in zip(rows, got):
        want = golden.softmax_rows(s[None], np.ones((1, len(s)), bool), np.array([mults[head]]), np.array([comps[head]]),
                                   **{k: x for k, x in a.golden_params().items() if k != "vmean"})["probs"][0] \
            if len(s) else np.zeros(0, np.int64)
        assert probs == [(int(j), int(p)) for j, p in zip(idx, want)], (idx, s, probs, want)
        assert (count, prob_sum, got_head) == (len(idx), int(want.sum()), head)


@pytest.mark.parametrize("config", ATTENTION)
def test_pv_stage(config):
    """V loaded, then per row (index, p) beats and the summary: o against golden.pv_rows, V rows
    read only where p > 0, rows with no probability, random stalls on every stream."""
    from latte_rtl.stages.pv import PVStage

    cfg = LatteConfig.from_params(**ATTENTION[config])
    sc, a = cfg.score, cfg.attention
    print(f"seed={SEED} config={config}")
    rng = np.random.default_rng(SEED)
    lo, hi = sc.operand_range
    v = rng.integers(lo, hi + 1, (10, sc.dim))
    v[0] = lo  # extreme V row
    rows = []
    for n in (4, 0, 1, 10):
        idx = np.sort(rng.choice(10, n, replace=False))
        p = rng.integers(0, 1 << a.prob_bits, n) if a.prob_format == "linear" else \
            np.where(rng.random(n) < 0.3, 0, 1 << rng.integers(0, a.prob_bits, n))
        if a.vmean:  # Σ p ≤ 2^B − 1, as the softmax guarantees
            p = p * ((1 << a.prob_bits) - 1) // max(1, int(p.sum()) + 1)
        if n == 10:
            p[:] = 0
            p[0] = (1 << a.prob_bits) - 1 if a.prob_format == "linear" else 1 << (a.prob_bits - 1)
        rows.append((idx, p))
    dut = PVStage(cfg)
    got = []

    def beats(vec):
        return [list(vec[b * sc.lanes:(b + 1) * sc.lanes]) + [0] * max(0, (b + 1) * sc.lanes - sc.dim)
                for b in range(sc.beats)]

    async def producer(ctx):
        prng = pauses(random.Random(SEED), 0.6)
        for vset in (v[::-1] + 1, v):  # a first V set, replaced: nothing of it may remain (vmean's column sums)
            for j in range(len(vset)):
                for b, beat in enumerate(beats(vset[j])):
                    last = int(j == len(vset) - 1 and b == sc.beats - 1)
                    await stream_put(ctx, dut.values, {"data": beat, "last": last}, prng)
            while ctx.get(dut.preparing):
                await ctx.tick()
        for idx, p in rows:
            for j, pj in zip(idx, p):
                await stream_put(ctx, dut.probs, {"index": int(j), "prob": int(pj)}, prng)
            await stream_put(ctx, dut.rows, {"kept_count": len(idx), "prob_sum": int(p.sum()) & 0xFF, "head": 1})

    async def consumer(ctx):
        prng = pauses(random.Random(SEED + 1), 0.5)
        for _ in rows:
            out = []
            for _ in range(sc.beats):
                beat = await stream_get(ctx, dut.out, prng)
                out += [beat.data[i] for i in range(sc.lanes)]
            done = await stream_get(ctx, dut.done, prng)
            got.append((out[:sc.dim], done.kept_count, done.v_reads, done.head))

    simulate(dut, producer, consumer, cycles=40000)
    assert len(got) == len(rows)
    for (idx, p), (out, count, v_reads, head) in zip(rows, got):
        probs = np.zeros((1, len(v)), np.int64)
        probs[0, idx] = p
        if p.sum() < (1 << a.prob_bits):
            want = golden.pv_rows(probs, v, prob_bits=a.prob_bits, vmean=golden.vmean_of(v) if a.vmean else None)[0]
        else:  # random linear rows may sum past 2^B - 1: the exact product is still well defined (no vmean)
            assert not a.vmean
            want = probs[0] @ v
        assert out == [int(x) for x in want], (idx, p)
        assert (count, v_reads, head) == (len(idx), int(np.count_nonzero(p)), 1)
