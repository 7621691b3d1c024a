"""cocotb regression of generated designs on Icarus and Verilator, bit-exact against golden."""

import subprocess
import sys

import numpy as np
import pytest

from latte_rtl.config import LatteConfig
from latte_rtl.design import generate
from latte_rtl.design.netlist import LINT_WAIVERS
from latte_rtl.sim.regression import run_regression
from latte_rtl.sim.runner import prepare_simulator
from latte_rtl.tops import TOPS
from tests.conftest import require_simulator

SEED = 20261122

# Widths 6/8/12/16, msb 2..bits/2, lanes dividing and not dividing dim, lanes = 1 and = dim,
# both threshold modes, one head, a key store of a single key, the unpipelined dot product; a completion
# array (completion_lanes C > 0) in both modes: one lane under a 5-lane word (relative), 2 under 4 (absolute);
# issue 32's centred estimate with window keys (causal limits included), row thresholds (absolute) and a sink
# (relative, rows overlapped); two filter rounds (absolute, 4 beats; relative, a key a beat, m1 = 1; relative in the
# first ATTENTION design).
SWEEP = [
    dict(bits=8, msb_bits=4, dim=16, lanes=4, heads=4, max_keys=32, threshold_mode="relative"),
    dict(bits=8, msb_bits=4, dim=16, lanes=5, heads=4, max_keys=32, threshold_mode="absolute", rounds=2),
    dict(bits=6, msb_bits=2, dim=8, lanes=3, heads=2, max_keys=20, threshold_mode="relative"),
    dict(bits=6, msb_bits=3, dim=9, lanes=9, heads=3, max_keys=24, threshold_mode="absolute", estimate="centred",
         window_keys=2, row_thresholds=True),
    dict(bits=12, msb_bits=6, dim=12, lanes=5, heads=2, max_keys=24, threshold_mode="relative", completion_lanes=1,
         estimate="centred", window_keys=3, sink_keys=1),
    dict(bits=12, msb_bits=3, dim=20, lanes=4, heads=2, max_keys=24, threshold_mode="absolute", completion_lanes=2),
    dict(bits=8, msb_bits=2, dim=7, lanes=1, heads=1, max_keys=16, threshold_mode="relative"),
    dict(bits=8, msb_bits=3, dim=32, lanes=32, heads=2, max_keys=40, threshold_mode="relative", rounds=2),
    dict(bits=16, msb_bits=8, dim=6, lanes=4, heads=2, max_keys=16, threshold_mode="absolute", pipeline=False),
    dict(bits=8, msb_bits=4, dim=5, lanes=2, heads=1, max_keys=1, threshold_mode="relative"),
]


# Attention tops (their score stages are covered by SWEEP): both probability formats, F = 0 and
# F > 0, both threshold modes (absolute: rows that keep nothing), lanes not dividing dim, P·V at
# pv_lanes = lanes (the second) and narrower (the accumulator ring), the softmax's passes one score a
# cycle (the first) and 2 or 4 (4 not dividing max_keys); the last with a one-lane completion array,
# the centred estimate, row thresholds and window keys (absolute mode with a completion array:
# tests/sim/test_native.py).
ATTENTION = [
    dict(bits=8, msb_bits=4, dim=8, lanes=4, heads=2, max_keys=16, threshold_mode="relative", attention=True,
         exp_frac_bits=2, exp_bits=10, prob_bits=8, scale_shift=12, mult_bits=12, pv_lanes=2, rounds=2),
    dict(bits=6, msb_bits=3, dim=7, lanes=3, heads=2, max_keys=12, threshold_mode="absolute", attention=True,
         exp_frac_bits=0, exp_bits=6, prob_bits=7, scale_shift=8, mult_bits=10, prob_format="log2", log_levels=5,
         pipeline=False, softmax_lanes=2),
    dict(bits=8, msb_bits=4, dim=7, lanes=3, heads=2, max_keys=9, threshold_mode="relative", attention=True,
         exp_frac_bits=4, exp_bits=16, prob_bits=12, scale_shift=14, mult_bits=16, vmean=True, completion_lanes=1,
         estimate="centred", row_thresholds=True, window_keys=2, pv_lanes=1, softmax_lanes=4),
]
ATTENTION_TOPS = ("latte_attention_engine", "dense_attention_engine")


def _id(p):
    name = f"b{p['bits']}m{p['msb_bits']}d{p['dim']}l{p['lanes']}n{p['max_keys']}{p['threshold_mode'][:3]}"
    name += f"c{p['completion_lanes']}" if p.get("completion_lanes") else ""
    name += "" if p.get("pipeline", True) else "nopipe"
    name += "cen" if p.get("estimate") == "centred" else ""
    name += "".join(f"{tag}{p[key]}" for key, tag in (("window_keys", "w"), ("sink_keys", "s")) if p.get(key))
    name += "rt" if p.get("row_thresholds") else ""
    name += "r2" if p.get("rounds") == 2 else ""
    name += f"pv{p['pv_lanes']}" if p.get("pv_lanes") else ""
    name += f"sm{p['softmax_lanes']}" if p.get("softmax_lanes", 1) != 1 else ""
    return name + (f"F{p['exp_frac_bits']}{p.get('prob_format', 'linear')}{'vmean' if p.get('vmean') else ''}"
                   if p.get("attention") else "")


# The lean matrix: the first two designs on both simulators, the others alternately on one (Icarus' four-state
# X checks and Verilator's two-state model each see half of the feature mixes; every design runs on one).
SWEEP_RUNS = [(p, sim) for i, p in enumerate(SWEEP)
              for sim in (("icarus", "verilator") if i < 2 else ("icarus",) if i % 2 else ("verilator",))]


@pytest.mark.parametrize("params,simulator", SWEEP_RUNS, ids=[f"{sim}-{_id(p)}" for p, sim in SWEEP_RUNS])
def test_regression(params, simulator, tmp_path):
    require_simulator(simulator)
    cfg = LatteConfig.from_params(**params)
    generate(cfg, tmp_path)
    print(f"seed={SEED} config={params}")
    report = run_regression(tmp_path, sims=(simulator,), seed=SEED)
    runs = report["runs"]
    assert len(runs) == 2 * len([t for t in TOPS.values() if not t.attention])
    assert all(r["status"] == "pass" for r in runs)
    for r in runs:
        if "cycle_ratio" in r:
            print(f"{r['top']}: cycles measured/model = {r['cycle_ratio']:.3f} (worst row {r['worst_row_ratio']:.3f})")
        if "overlap" in r:  # relative mode with a completion array: rows streamed back to back
            print(f"{r['top']}: interval measured/model = {r['interval_ratio']:.3f}, "
                  f"Σ latency / Σ interval = {r['overlap']:.3f}")
            assert r["overlap"] > 1.1  # the next row's estimate runs before the last one's record


@pytest.mark.parametrize("params", ATTENTION, ids=_id)
def test_attention_regression(params, simulator, tmp_path):
    """Both attention tops, every case (zero-keep rows, one key, keep all, ties, extremes, causal
    limits, M_h = 0 and the largest M_h, C_h = 0 and > 0), steady and with backpressure."""
    generate(LatteConfig.from_params(**params), tmp_path)
    print(f"seed={SEED} config={params}")
    report = run_regression(tmp_path, sims=(simulator,), seed=SEED, rows=4, tops=ATTENTION_TOPS)
    assert len(report["runs"]) == 4 and all(r["status"] == "pass" for r in report["runs"])
    for r in report["runs"]:
        if "cycle_ratio" in r:
            print(f"{r['top']}: cycles measured/model = {r['cycle_ratio']:.3f}, interval measured/model = "
                  f"{r['interval_ratio']:.3f}, Σ latency / Σ interval = {r['overlap']:.3f}")
            assert r["overlap"] > 1.1  # rows overlap: the next row starts before the last one's record


def test_native_regression_as_flow_runs_it(tmp_path):
    """run_regression(native=True) (flow's step 2 on Verilator): every top of an attention design, steady
    and backpressure, bit-exact, with the cycle report; cocotb-only options are refused."""
    require_simulator("verilator")
    params = ATTENTION[0]
    generate(LatteConfig.from_params(**params), tmp_path)
    print(f"seed={SEED} config={params}")
    report = run_regression(tmp_path, sims=("verilator",), seed=SEED, rows=2, native=True)
    assert len(report["runs"]) == 8 and all(r["status"] == "pass" for r in report["runs"])
    assert all(0.5 < r["cycle_ratio"] < 2 for r in report["runs"] if "cycle_ratio" in r)
    assert (tmp_path / "sim_build" / "latte_attention_engine_native").is_dir()   # the harness step 3 reuses
    with pytest.raises(ValueError):
        run_regression(tmp_path, sims=("icarus",), seed=SEED, rows=2, native=True)


def test_attention_run_matches_golden_cli(tmp_path):
    """`latte-rtl run` and `latte-rtl golden` on a design made with --attention: the LATTE attention
    top by default, identical out, probs, hh, kept, scores."""
    require_simulator("verilator")
    design = tmp_path / "design"
    common = ["--dim", "8", "--lanes", "3", "--heads", "2", "--max-keys", "20", "--scale-shift", "12"]
    cli = [sys.executable, "-m", "latte_rtl.cli"]
    assert subprocess.run([*cli, "generate", *common, "--attention", "-o", design], capture_output=True).returncode == 0
    rng = np.random.default_rng(SEED)
    print(f"seed={SEED}")
    src = tmp_path / "in.npz"
    np.savez(src, q=rng.integers(-128, 128, (4, 8), dtype=np.int8),
             k=rng.integers(-128, 128, (2, 18, 8), dtype=np.int8),
             v=rng.integers(-128, 128, (2, 18, 8), dtype=np.int8), thresholds=np.array([150, 400]),
             heads=np.array([0, 1, 1, 0]), softmax_mult=np.array([40, 90]), denominator_comp=np.array([0, 300]),
             key_limit=np.array([18, 5, 18, 1]))
    rtl, gold = tmp_path / "rtl.npz", tmp_path / "gold.npz"
    proc = subprocess.run([*cli, "run", design, "--qk", src, "-o", rtl], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "latte_attention_engine" in proc.stdout
    proc = subprocess.run([*cli, "golden", "--design", design, "--qk", src, "-o", gold], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    a, b = np.load(rtl), np.load(gold)
    for name in ("out", "probs", "hh", "kept", "scores"):
        assert np.array_equal(a[name], b[name]), name
    assert 0 < a["kept"].sum() < a["kept"].size and a["out"].any()
    assert not a["kept"][3, 1:].any()  # key_limit 1: the row sees key 0 only


def test_run_matches_golden_cli(tmp_path, simulator):
    """`latte-rtl run` (RTL) and `latte-rtl golden` write identical hh, kept, scores."""
    design = tmp_path / "design"
    common = ["--dim", "24", "--lanes", "7", "--heads", "2", "--max-keys", "64"]
    cli = [sys.executable, "-m", "latte_rtl.cli"]
    assert subprocess.run([*cli, "generate", *common, "-o", design], capture_output=True).returncode == 0
    rng = np.random.default_rng(SEED)
    print(f"seed={SEED}")
    src = tmp_path / "in.npz"
    np.savez(src, q=rng.integers(-128, 128, (5, 24), dtype=np.int8),
             k=rng.integers(-128, 128, (2, 50, 24), dtype=np.int8),
             thresholds=np.array([300, 900]), heads=np.array([0, 1, 1, 0, 1]))
    rtl, gold = tmp_path / "rtl.npz", tmp_path / "gold.npz"
    proc = subprocess.run([*cli, "run", design, "--qk", src, "-o", rtl, "--sim", simulator], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run([*cli, "golden", "--design", design, "--qk", src, "-o", gold], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    a, b = np.load(rtl), np.load(gold)
    for name in ("hh", "kept", "scores"):
        assert np.array_equal(a[name], b[name]), name
    assert 0 < a["kept"].sum() < a["kept"].size  # the thresholds filter some keys, not all
    assert np.all(a["cycles"] >= b["cycles"])  # the model is a lower bound


@pytest.mark.parametrize("params", SWEEP[:3] + SWEEP[5:6] + ATTENTION, ids=_id)
def test_verilator_lint(params, tmp_path):
    require_simulator("verilator")
    prepare_simulator("verilator")
    manifest = generate(LatteConfig.from_params(**params), tmp_path)
    for top in manifest["tops"]:
        proc = subprocess.run(
            ["verilator", "--lint-only", "-Wall", *LINT_WAIVERS, "--top-module", top, f"{top}.v", "latte_sram.v"],
            cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]


# The decode tops (--kv-memory axi), lean: one design, both tops, 6-bit operands with a 3-bit MSB half, d 12 on
# 4 lanes, G = 3 on two KV heads, a 24-entry kept buffer that the overflow case fills, a 64-bit AXI bus.
DECODE = dict(kv_memory="axi", attention=True, threshold_mode="absolute", bits=6, msb_bits=3, dim=12, lanes=4,
              heads=6, max_keys=64, kept_buffer=24, group=3, axi_data_width=64, exp_bits=10, scale_shift=12,
              mult_bits=12)


def test_decode_regression(simulator, tmp_path):
    """The decode tops on every decode case (GQA over two KV heads, zero kept, overflow, ties, extremes, one
    key), steady and with AR/R pauses and stream backpressure, memory cocotbext-axi's AxiRamRead: both tops on
    Icarus (absolute thresholds), the LATTE top on Verilator with relative thresholds (two MSB passes), 2
    bursts in flight, the centred estimate, a sink and a window of 2 keys (the dense top's Verilator build would
    double the test's time)."""
    params = DECODE if simulator == "icarus" else {**DECODE, "threshold_mode": "relative", "axi_outstanding": 2,
                                                   "estimate": "centred", "sink_keys": 1, "window_keys": 2}
    generate(LatteConfig.from_params(**params), tmp_path)
    print(f"seed={SEED} config={params}")
    tops = ("latte_decode_engine", "dense_decode_engine") if simulator == "icarus" else ("latte_decode_engine",)
    report = run_regression(tmp_path, sims=(simulator,), seed=SEED, tops=tops)
    assert sorted((r["top"], r["traffic"], r["status"]) for r in report["runs"]) == sorted(
        (top, traffic, "pass") for top in tops for traffic in ("steady", "backpressure"))


def test_decode_axis_regression(tmp_path):
    """`--interface axis`: the decode tops behind AXI4-Lite registers and AXI-Stream query/start/out/rows, the
    AXI4 read manager passed through; every decode case on Icarus, steady and with stalls (cocotbext-axi's
    AxiLiteMaster, AxiStreamSource/Sink and AxiRamRead)."""
    require_simulator("icarus")
    generate(LatteConfig.from_params(**DECODE), tmp_path, interface="axis")
    print(f"seed={SEED} config={DECODE} interface=axis")
    report = run_regression(tmp_path, sims=("icarus",), seed=SEED)
    assert len(report["runs"]) == 4 and all(r["status"] == "pass" for r in report["runs"])
