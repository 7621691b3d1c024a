"""The score half of a LATTE decode step (latte_rtl/stages/decode_score.py) in amaranth.sim, bit-exact
against `golden.decode.decode_step` (kept keys after the buffer's overflow rule, exact scores, kept_count,
overflow, bytes read per plane): G = 1 and G = 3, zero kept, all kept with overflow, ties, extreme operands,
planes at bases that are not 4 KiB aligned, a reactive AXI memory with seeded stalls and latency."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from latte_rtl.golden.decode import decode_step, memory_image, packed_layout
from latte_rtl.golden.latte import partial_sums
from latte_rtl.sim.amaranth_axi import ReactiveMemory
from latte_rtl.stages.decode_score import DecodeScoreStage
from tests.amaranth_helpers import SEED
from tests.decode_helpers import decode_design
from tests.stages.test_decode_fetch import set_layout

DESIGN = decode_design(dim=20, lanes=20, axi_data_width=64, kept_buffer=6, max_keys=64, axi_outstanding=4)
SPEC = DESIGN.decode_spec()
N = 24


def case_data(case, group, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.integers(-128, 128, shape) for shape in ((group, SPEC.dim), (N, SPEC.dim), (N, SPEC.dim)))
    if case == "ties":
        k[:] = k[3]
    if case == "extremes":
        q[:], k[::2], k[1::2] = -128, -128, 127
    hh = partial_sums(q, k, SPEC)["HH"]
    thresholds = {"random": [int(np.quantile(h, 0.8)) for h in hh], "zero_kept": [int(h.max()) + 1 for h in hh],
                  "all_kept": [-SPEC.dim * 64] * group, "ties": [int(h[0]) for h in hh],
                  "extremes": [int(h.max()) for h in hh]}[case]
    return q, k, v, thresholds


def simulate_step(dut, memory, layout, q, thresholds, rng, cycles=20000):
    scores, records = [], []

    async def bench(ctx):
        set_layout(ctx, dut, layout, N)
        for g, t in enumerate(thresholds):
            ctx.set(dut.thresholds[g], t)
        for g, row in enumerate(q):
            ctx.set(dut.q.payload.row, g)
            ctx.set(dut.q.payload.data, sum((int(x) & 0xFF) << (8 * i) for i, x in enumerate(row)))
            ctx.set(dut.q.valid, 1)
            await ctx.tick()
        ctx.set(dut.q.valid, 0)
        started = False
        for cycle in range(cycles):
            ctx.set(dut.start.valid, not started)
            ctx.set(dut.scores.ready, rng.random() < 0.7)
            ctx.set(dut.record.ready, 1)
            memory.drive(ctx, dut.axi, cycle)
            started |= bool(ctx.get(dut.start.ready))
            if ctx.get(dut.scores.valid) and ctx.get(dut.scores.ready):
                kept = ctx.get(dut.scores.payload.kept)
                scores.append((ctx.get(dut.scores.payload.index), kept,
                               [ctx.get(dut.scores.payload.score[g]) if kept >> g & 1 else None
                                for g in range(dut.group)]))
            if ctx.get(dut.record.valid):
                rec = dut.record.payload
                records.append(([ctx.get(rec.kept_count[g]) for g in range(dut.group)],
                                 [ctx.get(rec.overflow[g]) for g in range(dut.group)],
                                 {p: ctx.get(rec.bytes_read[p]) for p in ("k_msb", "k_lsb", "v")}))
            memory.update(ctx, dut.axi, cycle, _MasterLimits)
            await ctx.tick()
            if records:
                break

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return scores, records


class _MasterLimits:
    """The AXI master's burst limit the memory model checks (the design's bus's)."""

    max_burst = DESIGN.bus.max_burst


@pytest.mark.parametrize("case,group", [("random", 3), ("random", 1), ("zero_kept", 3), ("all_kept", 3),
                                        ("ties", 1), ("extremes", 3)])
def test_decode_scores_match_golden(case, group):
    seed = SEED + 31 * group + len(case)
    print(f"seed {seed}")
    rng = random.Random(seed)
    q, k, v, thresholds = case_data(case, group, seed)
    want = decode_step(SPEC, q, k, v, thresholds, [400] * group)
    layout = packed_layout(SPEC, N, base=2 * 4096 - 40)
    lo, image = memory_image(SPEC, layout, k, v)
    memory = ReactiveMemory(rng, 8, latency=rng.randrange(2, 10), ar_busy=0.6, r_busy=0.7)
    memory.load(lo, image)
    dut = DecodeScoreStage(DESIGN.replace(group=group), pending=8)
    scores, records = simulate_step(dut, memory, layout, q, thresholds, rng)
    kept = want["kept"]
    expected = [(j, sum(int(kept[g, j]) << g for g in range(group)),
                 [int(want["scores"][g, j]) if kept[g, j] else None for g in range(group)])
                for j in range(N) if kept[:, j].any()]
    assert scores == expected
    print(f"{len(scores)} keys scored, kept per row {want['kept_count'].tolist()}")
    assert records, "no record"
    counts, overflow, bytes_read = records[0]
    assert counts == want["kept_count"].tolist() and overflow == want["overflow"].tolist()
    assert bytes_read == {"k_msb": want["bytes"]["k_msb"], "k_lsb": want["bytes"]["k_lsb"], "v": 0}
    if case == "all_kept":
        assert overflow == [N - SPEC.kept_buffer] * group
    if case == "zero_kept":
        assert counts == [0] * group and bytes_read["k_lsb"] == 0
