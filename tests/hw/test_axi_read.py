"""AXI4 read master (latte_rtl/hw/axi_read.py) in amaranth.sim against a reactive memory model: random
AR and R stalls and per-burst latency (seeded, printed), random request lengths and addresses (4 KiB
crossings, 0-beat and long requests), a stalling consumer. Checks every beat's data and `last`, the AXI
rules (INCR, ARSIZE, burst length, no 4 KiB crossing, AR held stable while stalled, bursts in flight
within max_outstanding) and that outstanding reads hide the latency."""

import random

import pytest
from amaranth.sim import Simulator

from latte_rtl.hw.axi_read import AxiReadMaster
from latte_rtl.sim.amaranth_axi import MEMORY_BYTES, ReactiveMemory
from tests.amaranth_helpers import SEED


def run_master(dut, memory, requests, rng, *, req_busy=1.0, resp_busy=1.0, cycles=40000):
    """Drive `requests` [(addr, beats)], check every response beat; returns (cycles used, memory)."""
    expected = [(memory.word(a + i * dut.bytes), i == n - 1) for a, n in requests for i in range(n)]
    got, done = [], {}

    async def bench(ctx):
        pending, offered, held = list(requests), False, None
        for cycle in range(cycles):
            if not offered and pending and rng.random() < req_busy:
                offered = True
                ctx.set(dut.req.payload.addr, pending[0][0])
                ctx.set(dut.req.payload.beats, pending[0][1])
            ctx.set(dut.req.valid, offered)
            ctx.set(dut.resp.ready, rng.random() < resp_busy)
            memory.drive(ctx, dut.axi, cycle)
            if held is not None:
                assert (ctx.get(dut.axi.araddr), ctx.get(dut.axi.arlen)) == held, "AR changed while stalled"
            held = ((ctx.get(dut.axi.araddr), ctx.get(dut.axi.arlen))
                    if ctx.get(dut.axi.arvalid) and not ctx.get(dut.axi.arready) else None)
            if offered and ctx.get(dut.req.ready):
                offered = False
                pending.pop(0)
                done.setdefault("start", cycle)
            if ctx.get(dut.resp.valid) and ctx.get(dut.resp.ready):
                got.append((ctx.get(dut.resp.payload.data), bool(ctx.get(dut.resp.payload.last))))
            memory.update(ctx, dut.axi, cycle, dut)
            assert len(memory.bursts) <= dut.max_outstanding
            await ctx.tick()
            if len(got) == len(expected) and not pending:
                done["end"] = cycle
                break

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(got) == len(expected), f"{len(got)} of {len(expected)} beats"
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"beat {i}: got {g}, expected {e}"
    return done["end"] - done.get("start", 0), memory


def random_requests(rng, width_bytes, count):
    reqs = [(4096 - 3 * width_bytes, 10), (0, 0), (8192 - width_bytes, 300)]
    for _ in range(count):
        reqs.append((rng.randrange(0, MEMORY_BYTES - 40 * width_bytes, width_bytes), rng.randrange(0, 40)))
    return reqs


@pytest.mark.parametrize("width,burst,outstanding", [(64, 16, 4), (128, 256, 1), (512, 4, 3)])
def test_random_stalls_and_latency(width, burst, outstanding):
    seed = SEED + width + burst
    print(f"seed {seed}")
    rng = random.Random(seed)
    dut = AxiReadMaster(data_width=width, max_burst=burst, max_outstanding=outstanding, len_width=12)
    memory = ReactiveMemory(rng, width // 8, latency=rng.randrange(1, 12), ar_busy=0.6, r_busy=0.7)
    run_master(dut, memory, random_requests(rng, width // 8, 25), rng, req_busy=0.5, resp_busy=0.7)
    assert memory.most_in_flight == outstanding          # the master does use every slot


def test_outstanding_reads_hide_latency():
    """256 beats at latency 30, no stalls: ~one beat per cycle with 4 bursts in flight; one at a time
    pays the latency once per 16-beat burst."""
    measured = {}
    for outstanding in (1, 4):
        rng = random.Random(SEED)
        dut = AxiReadMaster(data_width=64, max_burst=16, max_outstanding=outstanding)
        memory = ReactiveMemory(rng, 8, latency=30, ar_busy=1.0, r_busy=1.0)
        measured[outstanding], _ = run_master(dut, memory, [(0, 256)], rng)
    print(f"cycles for 256 beats at latency 30: {measured}")
    assert measured[4] <= 256 + 30 + 8
    assert measured[1] >= 16 * (16 + 30)
