"""The key/V vector store.
Fixed seeds, printed; random stalls on every stream."""

import random

import numpy as np
import pytest

from latte_rtl import golden
from latte_rtl.hw.keystore import VectorStore
from latte_rtl.sim.amaranth_streams import stream_put
from tests.amaranth_helpers import CONFIGS, SEED, pauses, simulate


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
