"""The P·V stage in amaranth.sim against golden.pv_rows.
Fixed seeds, printed; random stalls on every stream."""

import random

import numpy as np
import pytest
from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from latte_rtl import golden
from latte_rtl.config import LatteConfig
from latte_rtl.hw.keystore import BankReadSignature
from latte_rtl.hw.readport import ReadPortSignature, SRAMReadPort
from latte_rtl.sim.amaranth_streams import stream_get, stream_put
from tests.amaranth_helpers import ATTENTION, SEED, pauses, simulate


class _SlowReadPort(wiring.Component):
    """A V store that answers late: the SRAM adapter, then STAGES register stages that hold their word
    on pseudo-random cycles (a 16-bit LFSR seeded with `seed`), and requests refused on others, so
    every word takes 1 + STAGES cycles or more (random)."""

    STAGES = 2

    def __init__(self, addr_width, data_shape, *, seed):
        self.seed = seed
        super().__init__({"port": In(ReadPortSignature(addr_width, data_shape)),
                          "ram": Out(BankReadSignature(addr_width, data_shape))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.adapter = adapter = SRAMReadPort(len(self.ram.addr), self.port.resp.payload.shape())
        wiring.connect(m, adapter.ram, wiring.flipped(self.ram))
        lfsr = Signal(16, init=self.seed & 0xFFFF or 1)
        m.d.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[2] ^ lfsr[3] ^ lfsr[5]))
        hold_req = lfsr[7] & lfsr[11]  # about a quarter of the cycles
        req = self.port.req
        m.d.comb += [adapter.port.req.valid.eq(req.valid & ~hold_req), adapter.port.req.payload.eq(req.payload),
                     req.ready.eq(adapter.port.req.ready & ~hold_req)]
        src = adapter.port.resp
        for k in range(self.STAGES):
            valid, payload = Signal(name=f"valid{k}"), Signal.like(src.payload, name=f"word{k}")
            hold = lfsr[k] & lfsr[k + 4]
            dst_ready = Signal(name=f"ready{k}")
            m.d.comb += src.ready.eq(~valid | (dst_ready & ~hold))
            with m.If(src.ready):
                m.d.sync += [valid.eq(src.valid), payload.eq(src.payload)]
            out = stream.Signature(src.payload.shape()).create(path=(f"stage{k}",))
            m.d.comb += [out.valid.eq(valid & ~hold), out.payload.eq(payload), dst_ready.eq(out.ready)]
            src = out
        wiring.connect(m, src, wiring.flipped(self.port.resp))
        return m


@pytest.mark.parametrize("config,store,pv_lanes", [(c, "sram", 0) for c in ATTENTION] + [
    ("linear_f2", "slow", 0), ("linear_f2", "sram", 2), ("log2_f0", "slow", 1), ("vmean_d7l3", "sram", 1)])
def test_pv_stage(config, store, pv_lanes):
    """V loaded, then per row (index, p) beats and the summary: o against golden.pv_rows, V rows
    read only where p > 0, rows with no probability, random stalls on every stream; `slow`: the V
    store answers after 3 or more cycles (random), through the same read port; pv_lanes < lanes: the
    accumulator ring, a V word over lanes / pv_lanes cycles."""
    from latte_rtl.stages.pv import PVStage

    cfg = LatteConfig.from_params(**ATTENTION[config], pv_lanes=pv_lanes)
    sc, a = cfg.score, cfg.attention
    print(f"seed={SEED} config={config} store={store} pv_lanes={pv_lanes}")
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
    dut = PVStage(cfg) if store == "sram" else \
        PVStage(cfg, v_port=lambda aw, shape: _SlowReadPort(aw, shape, seed=SEED), reads_in_flight=3)
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
