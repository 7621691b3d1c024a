"""The decode tops (latte_rtl/tops/decode.py) in amaranth.sim, bit-exact against `golden.decode.decode_step`:
out of every query row, kept_count, overflow and the bytes read per plane, through the `config` / `query` /
`start` ports, with a reactive AXI memory (seeded AR/R stalls and latency) and a stalling consumer. LATTE:
G = 1 and 3, zero kept, all kept with overflow, ties, extreme operands, N = 1, log2 probabilities, planes at
bases that are not 4 KiB aligned; dense: every key, every V row."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from latte_rtl.golden.decode import Plane, decode_step, memory_image, packed_layout
from latte_rtl.golden.latte import estimates, keep_mask, partial_sums
from latte_rtl.hw.sram import simulation_model
from latte_rtl.sim.amaranth_axi import ReactiveMemory
from latte_rtl.tops.decode import DecodeReg, DenseDecodeEngine, LatteDecodeEngine
from tests.amaranth_helpers import SEED
from tests.decode_helpers import decode_design

DESIGN = decode_design(dim=16, lanes=16, axi_data_width=64, kept_buffer=6, max_keys=64)
SPEC = DESIGN.decode_spec()
N = 24
_LAYOUT = {"k_msb": (DecodeReg.BASE_MSB, DecodeReg.STRIDE_MSB), "k_lsb": (DecodeReg.BASE_LSB, DecodeReg.STRIDE_LSB),
           "v": (DecodeReg.BASE_V, DecodeReg.STRIDE_V)}


def register_writes(layout, n, thresholds, mult, comp):
    """(reg, head, value) of one step: the layout, N, and T_g, M_g, C_g of every query row."""
    writes = [(regs[0], 0, layout[p].base) for p, regs in _LAYOUT.items()]
    writes += [(regs[1], 0, layout[p].stride) for p, regs in _LAYOUT.items()] + [(DecodeReg.N_KEYS, 0, n)]
    for g in range(len(mult)):
        writes += [(DecodeReg.THRESHOLD, g, int(thresholds[g])), (DecodeReg.MULT, g, int(mult[g])),
                   (DecodeReg.COMP, g, int(comp[g]))]
    return writes


def pack(row, bits):
    return sum((int(x) & ((1 << bits) - 1)) << (bits * i) for i, x in enumerate(row))


def run_steps(dut, memory, steps, rng, *, out_busy=0.7, cycles=60000, max_burst=16):
    """Decode steps back to back through the top's ports, steps [(register writes, q)]. Returns per step
    (out rows [G][d], record dict)."""
    results = []
    mask = (1 << dut.value_width) - 1

    async def stream_in(ctx, port, payloads):
        for payload in payloads:
            ctx.set(port.payload, payload)
            ctx.set(port.valid, 1)
            await ctx.tick().until(port.ready)
        ctx.set(port.valid, 0)

    async def bench(ctx):
        now = 0                       # the memory model's clock: monotonic over the steps
        for writes, q in steps:
            await stream_in(ctx, dut.config, [{"reg": reg, "head": head, "value": value & mask}
                                              for reg, head, value in writes])
            await stream_in(ctx, dut.query, [{"row": g, "data": pack(row, dut.spec.bits)} for g, row in enumerate(q)])
            outs, record, started = {}, {}, False
            for _ in range(cycles):
                now += 1
                ctx.set(dut.start.valid, not started)
                ctx.set(dut.out.ready, rng.random() < out_busy)
                ctx.set(dut.rows.ready, rng.random() < out_busy)
                memory.drive(ctx, dut.axi, now)
                started |= bool(ctx.get(dut.start.ready))
                if ctx.get(dut.out.valid) and ctx.get(dut.out.ready):
                    outs[ctx.get(dut.out.payload.row)] = [ctx.get(dut.out.payload.data[i]) for i in range(dut.spec.dim)]
                if ctx.get(dut.rows.valid) and ctx.get(dut.rows.ready):
                    rec = dut.rows.payload
                    record.update(kept_count=[ctx.get(rec.kept_count[g]) for g in range(dut.group)],
                                  overflow=[ctx.get(rec.overflow[g]) for g in range(dut.group)],
                                  bytes={p: ctx.get(rec.bytes_read[p]) for p in ("k_msb", "k_lsb", "v")},
                                  cycles=ctx.get(rec.cycles))
                memory.update(ctx, dut.axi, now, _Limits(max_burst))
                await ctx.tick()
                if record and len(outs) == dut.group and not ctx.get(dut.busy):
                    break
            ctx.set(dut.start.valid, 0)
            results.append(([outs.get(g) for g in range(dut.group)], record))

    with simulation_model():
        sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return results


class _Limits:
    def __init__(self, max_burst):
        self.max_burst = max_burst


def case_data(spec, case, group, n, seed):
    """q [G, d], k, v [N, d], thresholds, mult, comp [G] of an adversarial case."""
    rng = np.random.default_rng(seed)
    lim = 1 << (spec.bits - 1)
    q, k, v = (rng.integers(-lim, lim, shape) for shape in ((group, spec.dim), (n, spec.dim), (n, spec.dim)))
    mult, comp = rng.integers(50, 3000, group), rng.integers(0, 4096, group)
    comp[0] = 0
    if case == "ties":
        k[:] = k[3]
    if case == "extremes":
        q[:], k[::2], k[1::2], v[::2], v[1::2] = -lim, -lim, lim - 1, -lim, lim - 1
        mult[:] = (1 << spec.mult_bits) - 1
    hh = partial_sums(q, k, spec)["HH"]
    thresholds = {"random": [int(np.quantile(h, 0.85)) for h in hh], "overflow": [int(np.quantile(h, 0.6)) for h in hh],
                  "zero_kept": [int(h.max()) + 1 for h in hh],
                  "all_kept": [-spec.dim * (1 << 2 * (spec.msb_bits - 1))] * group, "ties": [int(h[0]) for h in hh],
                  "extremes": [int(h.max()) for h in hh], "one": [int(h.min()) for h in hh]}[case]
    return q, k, v, thresholds, mult, comp


def check_step(top, design, case, group, n, seed, base, engine, **build):
    print(f"seed {seed} case {case} group {group} N {n} engine {engine}")
    return check_step_with(top, design, case_data(design.decode_spec(), case, group, n, seed), seed, base, engine,
                           **build)


def check_step_with(top, design, inputs, seed, base, engine, v_pad=0, **build):
    """One step of `top` built from `design` (group: the inputs' query rows; `build`: the top's keywords)."""
    rng = random.Random(seed)
    q, k, v, thresholds, mult, comp = inputs
    group, n = q.shape[0], k.shape[0]
    spec = design.decode_spec()
    want = decode_step(spec, q, k, v, thresholds, mult, comp, engine=engine)
    layout = packed_layout(spec, n, base=base)
    if v_pad:       # V rows v_pad bytes apart beyond their beats: the plane is not packed, one row a request
        layout["v"] = Plane(layout["v"].base, layout["v"].stride + v_pad)
    lo, image = memory_image(spec, layout, k, v)
    memory = ReactiveMemory(rng, spec.bus_bytes, latency=rng.randrange(2, 10), ar_busy=0.6, r_busy=0.7)
    memory.load(lo, image)
    dut = top(design.replace(group=group), **build)
    [(outs, record)] = run_steps(dut, memory, [(register_writes(layout, n, thresholds, mult, comp), q)], rng)
    assert record, "no record"
    print(f"kept {want['kept_count'].tolist()} overflow {want['overflow'].tolist()} V rows "
          f"{int(want['v_rows'].sum())} bytes {want['bytes']} cycles {record['cycles']}")
    print(f"out {want['out'].tolist()}")
    assert outs == want["out"].tolist()
    assert record["kept_count"] == want["kept_count"].tolist()
    assert record["overflow"] == want["overflow"].tolist()
    assert record["bytes"] == {p: want["bytes"][p] for p in ("k_msb", "k_lsb", "v")}
    return want, record


@pytest.mark.parametrize("case,group,n,prob_format", [
    ("random", 3, N, "linear"), ("overflow", 3, N, "linear"), ("random", 1, N, "log2"), ("zero_kept", 3, N, "linear"),
    ("all_kept", 3, N, "linear"), ("ties", 1, N, "linear"), ("extremes", 3, N, "linear"), ("one", 3, 1, "linear")])
def test_latte_decode_top_matches_golden(case, group, n, prob_format):
    design = DESIGN if prob_format == "linear" else DESIGN.replace(prob_format="log2", log_levels=5)
    want, _ = check_step(LatteDecodeEngine, design, case, group, n, SEED + 7 * group + len(case), 2 * 4096 - 40,
                         "latte")
    if case == "all_kept":
        assert want["overflow"].tolist() == [N - SPEC.kept_buffer] * group
    if case == "zero_kept":
        assert want["kept_count"].tolist() == [0] * group and want["bytes"]["v"] == 0


DENSE_DESIGN = decode_design(dim=12, lanes=12, axi_data_width=64, kept_buffer=N, max_keys=64)
DENSE = DENSE_DESIGN.decode_spec()


@pytest.mark.parametrize("case,group,n", [("random", 3, N), ("extremes", 1, N), ("one", 3, 1)])
def test_dense_decode_top_matches_golden(case, group, n):
    want, record = check_step(DenseDecodeEngine, DENSE_DESIGN, case, group, n, SEED + 11 * group + len(case), 4096 - 24,
                              "dense")
    assert record["kept_count"] == [n] * group and record["bytes"]["v"] == n * DENSE.row_beats("v") * 8


def test_dense_v_walk_unpacked_stride():
    """The dense V walk asks for many rows a request only on a packed V plane; a padded stride, one each."""
    seed = SEED + 5
    print(f"seed {seed}")
    want, record = check_step_with(DenseDecodeEngine, DENSE_DESIGN, case_data(DENSE, "random", 3, N, seed), seed,
                                   4096 - 24, "dense", v_pad=DENSE.bus_bytes)
    assert record["bytes"]["v"] == N * DENSE.row_beats("v") * 8


RELATIVE_DESIGN = DESIGN.replace(threshold_mode="relative")
RELATIVE = RELATIVE_DESIGN.decode_spec()


@pytest.mark.parametrize("case,group", [("random", 3), ("max_only", 3), ("overflow", 1), ("all", 3)])
def test_latte_relative_two_msb_passes(case, group):
    """Relative thresholds: keep HH_g >= max HH_g − T_g, the MSB plane read twice (golden msb_passes = 2)."""
    seed = SEED + 13 * group + len(case)
    q, k, v, _, mult, comp = case_data(RELATIVE, "random", group, N, seed)
    hh = partial_sums(q, k, RELATIVE)["HH"]
    thresholds = {"random": [int(h.max() - np.quantile(h, 0.85)) for h in hh], "max_only": [0] * group,
                  "overflow": [int(h.max() - np.quantile(h, 0.5)) for h in hh],
                  "all": [2 * RELATIVE.dim * (1 << 2 * (RELATIVE.msb_bits - 1))] * group}[case]
    print(f"relative thresholds {thresholds}")
    want, _ = check_step_with(LatteDecodeEngine, RELATIVE_DESIGN, (q, k, v, thresholds, mult, comp), seed, 4096 - 8,
                              "latte")
    assert want["bytes"]["k_msb"] == 2 * N * RELATIVE.row_beats("k_msb") * RELATIVE.bus_bytes


@pytest.mark.parametrize("mode,group", [("absolute", 3), ("relative", 1)])
def test_latte_centred_estimate_sinks_and_window(mode, group):
    """The centred estimate E_g with attention sinks (keys 0, 1) and a window (the last 3 keys) kept whatever
    their E: bit-exact; the thresholds (in E units) keep few keys, so sinks and window decide some."""
    design = DESIGN.replace(estimate="centred", sink_keys=2, window_keys=3, threshold_mode=mode)
    spec = design.decode_spec()
    seed = SEED + 17 * group + len(mode)
    q, k, v, _, mult, comp = case_data(spec, "random", group, N, seed)
    est = estimates(partial_sums(q, k, spec)["HH"], q, k, spec)
    thresholds = [int(e.max() - np.quantile(e, 0.9)) if mode == "relative" else int(np.quantile(e, 0.9)) for e in est]
    print(f"thresholds {thresholds}")
    want, _ = check_step_with(LatteDecodeEngine, design, (q, k, v, thresholds, mult, comp), seed, 4096 - 8, "latte")
    by_threshold = keep_mask(est, thresholds, mode)
    assert (want["kept"] & ~by_threshold)[:, [0, 1, N - 3, N - 2, N - 1]].any()  # sinks or window kept a key
    assert not (want["kept"] & ~by_threshold)[:, 2:N - 3].any()


def test_latte_centred_relative_max_below_the_hh_range():
    """Relative thresholds with the centred estimate where every E_g lies below −2^(hh_width − 1) (q all
    −2^(bits−1), k all 2^(bits−1) − 1): the running max starts at the bottom of E's range, not HH's, so
    T = 0 keeps the row's maximum (here every key, tied; the buffer overflows)."""
    design = DESIGN.replace(estimate="centred", threshold_mode="relative")
    spec = design.decode_spec()
    seed = SEED + 23
    q, k, v, _, mult, comp = case_data(spec, "random", 3, N, seed)
    lim = 1 << (spec.bits - 1)
    q[:], k[:] = -lim, lim - 1
    est = estimates(partial_sums(q, k, spec)["HH"], q, k, spec)
    assert est.max() < -(1 << (design.score.widths.hh_width - 1))
    want, _ = check_step_with(LatteDecodeEngine, design, (q, k, v, [0] * 3, mult, comp), seed, 4096 - 8, "latte")
    assert want["kept_count"].tolist() == [spec.kept_buffer] * 3


def test_latte_steps_back_to_back():
    """Three steps without a reset on the same KV head (new q, thresholds, M, C each): nothing of one step
    (buffer, maxima, sums, accumulators, counters) leaks into the next."""
    seed = SEED + 5
    print(f"seed {seed}")
    rng = random.Random(seed)
    layout = packed_layout(SPEC, N, base=4096 - 16)
    steps, wants, k0 = [], [], None
    for i, case in enumerate(("overflow", "zero_kept", "random")):
        q, k, v, thresholds, mult, comp = case_data(SPEC, case, 3, N, seed)     # same seed: the same k, v
        q = np.roll(q, i, axis=1)
        k0 = k if k0 is None else k0
        assert np.array_equal(k, k0)
        hh = partial_sums(q, k, SPEC)["HH"]
        if case != "zero_kept":
            thresholds = [int(np.quantile(h, 0.6 if case == "overflow" else 0.85)) for h in hh]
        else:
            thresholds = [int(h.max()) + 1 for h in hh]
        steps.append((register_writes(layout, N, thresholds, mult + i, comp), q))
        wants.append(decode_step(SPEC, q, k, v, thresholds, mult + i, comp))
    lo, image = memory_image(SPEC, layout, k, v)
    memory = ReactiveMemory(rng, SPEC.bus_bytes, latency=3, ar_busy=0.6, r_busy=0.7)
    memory.load(lo, image)
    for (outs, record), want in zip(run_steps(LatteDecodeEngine(DESIGN.replace(group=3)), memory, steps, rng), wants):
        print(f"kept {want['kept_count'].tolist()} overflow {want['overflow'].tolist()}")
        assert outs == want["out"].tolist()
        assert (record["kept_count"], record["overflow"]) == (want["kept_count"].tolist(), want["overflow"].tolist())
        assert record["bytes"] == {p: want["bytes"][p] for p in ("k_msb", "k_lsb", "v")}


def test_latte_few_rows_in_flight():
    """rows_in_flight 3 (below the MSB rows of a packed request): the credit caps each request, bit-exact."""
    check_step(LatteDecodeEngine, DESIGN, "random", 3, N, SEED + 5, 4096 - 40, "latte", rows_in_flight=3)


@pytest.mark.parametrize("top,engine,mode", [(LatteDecodeEngine, "latte", "absolute"),
                                             (LatteDecodeEngine, "latte", "relative"),
                                             (DenseDecodeEngine, "dense", "absolute")])
def test_max_keys_below_rows_in_flight(top, engine, mode):
    """max_keys 16 below the 32 rows in flight (issue 29's deadlock: the MSB credit port was index-wide and
    truncated 32 to 0, so no MSB row was ever asked for): the step ends, bit-exact."""
    design = DESIGN.replace(dim=8, lanes=4, max_keys=16, kept_buffer=8 if engine == "latte" else 16,
                            axi_outstanding=32, threshold_mode=mode)
    spec = design.decode_spec()
    assert design.decode.axi_outstanding > spec.max_keys
    seed = SEED + 29
    print(f"seed {seed} {engine} {mode}")
    q, k, v, thresholds, mult, comp = case_data(spec, "random", 3, 16, seed)
    if mode == "relative":
        thresholds = [int(h.max() - np.quantile(h, 0.85)) for h in partial_sums(q, k, spec)["HH"]]
    check_step_with(top, design, (q, k, v, thresholds, mult, comp), seed, 4096 - 24, engine)
