"""Dot product and accumulator: HH reused by the completion passes.
Fixed seeds, printed; random stalls on every stream."""

import random
from dataclasses import replace

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import stream, wiring

from latte_rtl import golden
from latte_rtl.hw import layouts
from latte_rtl.hw.dot import Accumulator, DotProduct, centred_estimate
from latte_rtl.hw.layouts import PassKind
from latte_rtl.sim.amaranth_streams import stream_get, stream_put
from tests.amaranth_helpers import CONFIGS, SEED, pauses, simulate, token


@pytest.mark.parametrize("config,pipeline,centred", [*((c, True, False) for c in CONFIGS),
                                                     (next(iter(CONFIGS)), False, False),
                                                     *((c, p, True) for c in CONFIGS for p in (True, False))])
def test_dot_product_and_accumulator_reuse_hh(config, pipeline, centred):
    """HH, HL, LH, LL passes through multiply + adder tree + accumulator give HH, then exactly
    q·k, with the output stalled at random (with and without the product register). With the operand
    sum (the centred estimate): an HH result's Q + S_j gives golden's E through dot.centred_estimate."""
    cfg = replace(CONFIGS[config], estimate="centred") if centred else CONFIGS[config]
    w = cfg.widths
    print(f"seed={SEED} config={config} pipeline={pipeline} centred={centred}")
    rng = np.random.default_rng(SEED)
    tok_layout = layouts.token(cfg, w.hh_width)
    sum_width = layouts.operand_sum_width(cfg)
    dot = DotProduct(operand_layout=layouts.operands(cfg, tok_layout, w.nibble_width), sum_width=w.beat_sum_width,
                     operand_width=w.nibble_width, lanes=cfg.lanes, pipeline=pipeline, operand_sum_width=sum_width)
    acc = Accumulator(beat_layout=dot.o.payload.shape(), acc_width=w.accumulator_width, lsb_bits=w.lsb_bits,
                      result_layout=layouts.acc_result(cfg, w.accumulator_width, w.hh_width, sum_width))

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
        e = int(golden.estimates(np.array([[hh]]), q[None], k[None], cfg)[0, 0])
        want += [(PassKind.HH, t, hh, e), (PassKind.LOW, t, int(q @ k), None)]
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
        for kind, *_ in want:
            r = await stream_get(ctx, dut.o, prng)
            e = centred_estimate(r.value, r.operand_sum, cfg.lsb_bits) if centred else r.value
            got.append((r.kind, r.index, r.value, e if kind == PassKind.HH else None))

    simulate(dut, producer, consumer)
    assert got == want
