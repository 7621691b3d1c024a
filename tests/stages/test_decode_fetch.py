"""The decode step's memory side (latte_rtl/stages/decode_fetch.py) in amaranth.sim: one KV head's planes
written by the golden model (`golden.decode.memory_image`) into a reactive AXI memory with seeded AR/R
stalls and latency; an MSB pass over every key plus the LSB and V rows the golden decode step fetches,
offered with random gaps to a stalling consumer. Every row must come back once, equal to golden's
planes, and the per-plane byte counters must equal `golden.decode_reads`."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from latte_rtl.golden.decode import (
    Plane,
    decode_step,
    memory_image,
    packed_layout,
    plane_values,
    unpack_rows,
)
from latte_rtl.sim.amaranth_axi import ReactiveMemory
from latte_rtl.stages.decode_fetch import PlaneFetcher, PlaneKind
from tests.amaranth_helpers import SEED
from tests.decode_helpers import decode_design

NAMES = {PlaneKind.K_MSB: "k_msb", PlaneKind.K_LSB: "k_lsb", PlaneKind.V: "v"}


def golden_case(spec, n, base, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.integers(-128, 128, shape) for shape in ((3, spec.dim), (n, spec.dim), (n, spec.dim)))
    step = decode_step(spec, q, k, v, [0, 0, 0], [400, 400, 400])     # absolute T = 0: about half kept
    layout = packed_layout(spec, n, base=base)
    return k, v, step, layout


def set_layout(ctx, dut, layout, n: int) -> None:
    """The decode step's layout registers: base and stride of every plane, and N."""
    for name, plane in layout.items():
        short = name.split("_")[-1]
        ctx.set(getattr(dut.layout, f"base_{short}"), plane.base)
        ctx.set(getattr(dut.layout, f"stride_{short}"), plane.stride)
    ctx.set(dut.layout.n_keys, n)


def run_fetch(dut, memory, layout, n, fetches, rng, cycles=30000, expect=None):
    got, counters = [], {}

    async def bench(ctx):
        set_layout(ctx, dut, layout, n)
        pending, started, offered = list(fetches), False, False
        for cycle in range(cycles):
            ctx.set(dut.start.valid, not started)
            if not offered and pending and rng.random() < 0.3:
                offered = True
                ctx.set(dut.fetch.payload.plane, pending[0][0])
                ctx.set(dut.fetch.payload.index, pending[0][1])
            ctx.set(dut.fetch.valid, offered)
            ctx.set(dut.rows.ready, rng.random() < 0.7)
            memory.drive(ctx, dut.axi, cycle)
            if not started and ctx.get(dut.start.ready):
                started = True
            if offered and ctx.get(dut.fetch.ready):
                offered = False
                pending.pop(0)
            if ctx.get(dut.rows.valid) and ctx.get(dut.rows.ready):
                got.append((PlaneKind(ctx.get(dut.rows.payload.plane)), ctx.get(dut.rows.payload.index),
                            ctx.get(dut.rows.payload.data)))
            memory.update(ctx, dut.axi, cycle, dut)
            await ctx.tick()
            if len(got) == (expect or n + len(fetches)):
                break
        for _ in range(3):
            await ctx.tick()
        counters.update({p: ctx.get(dut.bytes_read[NAMES[p]]) for p in PlaneKind})

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got, counters


@pytest.mark.parametrize("dim,width,base,pad", [(20, 64, 4096 - 48, 0), (64, 256, 3 * 4096 - 64, 0),
                                                (20, 64, 4096 - 40, 8)])
def test_rows_and_bytes_match_golden(dim, width, base, pad):
    """pad: extra bytes of MSB stride (an unpacked MSB plane, placed after the others: asked row by row)."""
    seed = SEED + dim
    print(f"seed {seed}")
    rng = random.Random(seed)
    design = decode_design(dim=dim, lanes=dim, axi_data_width=width, max_keys=64, kept_buffer=64, axi_outstanding=3)
    spec = design.decode_spec()
    n = 24
    k, v, step, layout = golden_case(spec, n, base, seed)
    if pad:
        end = max(plane.base + plane.stride * n for plane in layout.values())
        layout["k_msb"] = Plane(end, layout["k_msb"].stride + pad)
    lo, image = memory_image(spec, layout, k, v)
    memory = ReactiveMemory(rng, width // 8, latency=rng.randrange(2, 10), ar_busy=0.6, r_busy=0.7)
    memory.load(lo, image)
    fetches = ([(PlaneKind.K_LSB, int(j)) for j in np.flatnonzero(step["lsb_rows"])]
               + [(PlaneKind.V, int(j)) for j in np.flatnonzero(step["v_rows"])])
    rng.shuffle(fetches)
    assert 0 < len(fetches) < 2 * n
    dut = PlaneFetcher(design)
    got, counters = run_fetch(dut, memory, layout, n, fetches, rng)
    want = {(PlaneKind.K_MSB, j) for j in range(n)} | set(fetches)
    assert sorted((p, j) for p, j, _ in got) == sorted(want)
    values = plane_values(spec, k, v)
    for plane, j, word in got:
        name = NAMES[plane]
        row = np.frombuffer(word.to_bytes(dut.row_width // 8, "little")[:spec.row_bytes(name)], np.uint8)
        unpacked = unpack_rows(row[None], spec.field_bits(name), dim, signed=plane != PlaneKind.K_LSB)
        assert np.array_equal(unpacked[0], values[name][j]), (name, j)
    msb_beats = dut.beats[PlaneKind.K_MSB]
    if pad:          # row by row: no burst longer than the longest plane row
        assert memory.longest <= max(dut.beats.values()), memory.longest
    else:            # packed: MSB rows of one request share bursts
        assert memory.longest > max(dut.beats.values()), (memory.longest, msb_beats)
    assert counters == {PlaneKind.K_MSB: step["bytes"]["k_msb"], PlaneKind.K_LSB: step["bytes"]["k_lsb"],
                        PlaneKind.V: step["bytes"]["v"]}


@pytest.mark.parametrize("room", [3, 64])
def test_stream_k_pairs_lsb_bursts_with_msb(room):
    """stream_k (the dense twin): no fetches; every key's MSB row and then its LSB row come back, the LSB
    rows in bursts of several rows as the MSB rows are, each LSB row after its own MSB row (so a consumer
    holding MSB rows by the credit never waits on an LSB row behind one), within `room` MSB rows asked."""
    seed = SEED + room
    print(f"seed {seed}")
    rng = random.Random(seed)
    design = decode_design(dim=20, lanes=20, axi_data_width=64, max_keys=64, kept_buffer=64, axi_outstanding=3)
    spec = design.decode_spec()
    n = 24
    k, v, step, layout = golden_case(spec, n, 4096 - 48, seed)
    lo, image = memory_image(spec, layout, k, v)
    memory = ReactiveMemory(rng, 8, latency=rng.randrange(2, 10), ar_busy=0.6, r_busy=0.7)
    memory.load(lo, image)
    dut = PlaneFetcher(design, stream_k=True, stream_v=True, max_room=room)
    got, counters = run_fetch(dut, memory, layout, n, [], rng, expect=2 * n)
    order = [(p, j) for p, j, _ in got]
    assert sorted(order) == sorted({(PlaneKind.K_MSB, j) for j in range(n)} | {(PlaneKind.K_LSB, j) for j in range(n)})
    for j in range(n):
        assert order.index((PlaneKind.K_MSB, j)) < order.index((PlaneKind.K_LSB, j)), j
    values = plane_values(spec, k, v)
    for plane, j, word in got:
        name = NAMES[plane]
        row = np.frombuffer(word.to_bytes(dut.row_width // 8, "little")[:spec.row_bytes(name)], np.uint8)
        assert np.array_equal(unpack_rows(row[None], spec.field_bits(name), 20, signed=plane != PlaneKind.K_LSB)[0],
                              values[name][j]), (name, j)
    assert counters[PlaneKind.K_LSB] == n * dut.beats[PlaneKind.K_LSB] * 8
    lsb = layout["k_lsb"]
    lsb_bursts = [beats for addr, beats in memory.requests if lsb.base <= addr < lsb.base + n * lsb.stride]
    assert sum(lsb_bursts) == n * dut.beats[PlaneKind.K_LSB]
    assert max(lsb_bursts) > dut.beats[PlaneKind.K_LSB], lsb_bursts     # several LSB rows a burst
