"""Speed of the RTL paths and of the scale-out, in one run:

1. cycles/s of the cocotb and the native engine on the same design (the former default, d = 64, 16 lanes)
   and input (64 queries x 1024 keys, ~10 % kept), both warm (models built before timing; medians
   of repeated runs), their ratio, and Verilator's own speed on that model with an empty harness
   (only the clock);
2. the whole shipped lm through the LATTE attention top (`dump --all-layers`: 4 layers x 4 heads
   x 64 query rows x 192 keys) with -j 1 and -j 2: rows/s and wall time;
3. sweep points per minute on a Dask LocalCluster of 1 and of 2 workers (tiny designs, generic flow).

    python benchmarks/bench_native.py [--out docs/data/bench_native.json] [--skip model,sweep]
"""

import os

# On a shared machine OpenBLAS's threads spin against other processes (a 64 x 1024 golden matmul
# took 30 ms with 2 threads under load, 0.1 ms with 1): one BLAS thread for both engines.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from bench_rtl import relative_threshold  # benchmarks/ is the script's directory

from latte_rtl.config import LatteConfig  # noqa: E402
from latte_rtl.design import generate, load_design  # noqa: E402
from latte_rtl.sim.native import simulate_native  # noqa: E402
from latte_rtl.sim.native_build import build_harness  # noqa: E402
from latte_rtl.sim.runner import simulate  # noqa: E402

TOP = "latte_score_engine"
IDLE_CYCLES = 5_000_000
NATIVE_REPEATS, COCOTB_REPEATS = 5, 3  # medians of these (this machine is shared)


def engines(tmp: Path) -> dict:
    """cocotb vs native cycles/s on one design and input; the empty harness."""
    cfg = LatteConfig.from_params(lanes=16)  # the figures in docs/results/speed.md
    design = tmp / "default"
    generate(cfg, design)
    rng = np.random.default_rng(0)
    q, k = rng.integers(-128, 128, (64, 64)), rng.integers(-128, 128, (1024, 64))
    src = tmp / "in.npz"
    np.savez(src, q=q, k=k, thresholds=np.array([relative_threshold(cfg, q, k, 0.10)]))
    simulate_native(design, [src], [tmp / "warm.npz"], top=TOP)  # builds, untimed
    simulate(design, [src], [tmp / "warm.npz"], top=TOP, sim="verilator")
    native_walls, harness_walls, cocotb_walls = [], [], []
    for _ in range(NATIVE_REPEATS):
        start = time.perf_counter()
        native = simulate_native(design, [src], [tmp / "native.npz"], top=TOP)
        native_walls.append(time.perf_counter() - start)
        harness_walls.append(native["seconds"])
    for _ in range(COCOTB_REPEATS):
        start = time.perf_counter()
        simulate(design, [src], [tmp / "cocotb.npz"], top=TOP, sim="verilator")
        cocotb_walls.append(time.perf_counter() - start)
    a, b = np.load(tmp / "native.npz"), np.load(tmp / "cocotb.npz")
    assert all(np.array_equal(a[n], b[n]) for n in a.files), "native and cocotb results differ"
    cycles = native["cycles"]  # the same edges as cocotb's run: steady traffic is cycle-exact
    exe, _ = build_harness(design.resolve(), TOP, load_design(design)[1])
    idle = [json.loads(subprocess.run([str(exe), "--idle", str(IDLE_CYCLES)], capture_output=True, text=True,
                                      check=True).stdout)["seconds"] for _ in range(NATIVE_REPEATS)]
    cocotb_wall, native_wall, harness_wall = map(statistics.median, (cocotb_walls, native_walls, harness_walls))
    out = {"rows": 64, "keys": 1024, "dim": 64, "kept": float(a["kept"].mean()), "cycles": cycles,
           "cocotb_s": cocotb_wall, "native_s": native_wall, "native_harness_s": harness_wall,
           "cocotb_cycles_per_s": cycles / cocotb_wall, "native_cycles_per_s": cycles / native_wall,
           "native_harness_cycles_per_s": cycles / harness_wall,
           "empty_harness_cycles_per_s": IDLE_CYCLES / statistics.median(idle),
           "native_ratio_range": [min(cocotb_walls) / max(native_walls), max(cocotb_walls) / min(native_walls)],
           "repeats": {"native": NATIVE_REPEATS, "cocotb": COCOTB_REPEATS}}
    out["ratio"] = out["native_cycles_per_s"] / out["cocotb_cycles_per_s"]
    out["harness_ratio"] = out["native_harness_cycles_per_s"] / out["cocotb_cycles_per_s"]
    return out


def cli(*args) -> str:
    proc = subprocess.run([sys.executable, "-m", "latte_rtl.cli", *map(str, args)], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stdout + proc.stderr)
    return proc.stdout


def whole_model(tmp: Path) -> dict:
    design, dump = tmp / "attention", tmp / "lm_all.npz"
    cli("generate", "--attention", "--lanes", "16", "-o", design)
    cli("dump", "--workload", "lm", "--all-layers", "--rows", 64, "--keys", 192, "-o", dump)
    cli("run", design, "--qk", dump, "-o", tmp / "warm.npz")  # builds the harness, untimed
    out = {}
    for jobs in (1, 2):
        start = time.perf_counter()
        text = cli("run", design, "--qk", dump, "-o", tmp / f"all{jobs}.npz", "-j", jobs)
        wall = time.perf_counter() - start
        result = np.load(tmp / f"all{jobs}.npz")
        rows = sum(result[f"layer{layer}.cycles"].size for layer in result["layers"])
        out[f"j{jobs}"] = {"wall_s": wall, "rows": rows, "rows_per_s": rows / wall, "line": text.splitlines()[0]}
    return out


def sweep(tmp: Path) -> dict:
    from distributed import LocalCluster

    from latte_rtl.synth.flows import warm_up
    from latte_rtl.synth.sweep import run_sweep

    grid = {"bits": [8], "msb_bits": [4], "dim": [8], "lanes": [2, 3, 4, 5], "heads": [2], "max_keys": [16],
            "threshold_mode": ["relative"]}
    warm_up(["generic"])
    out = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster:
            start = time.perf_counter()
            rows = run_sweep(grid, ["generic"], tmp / f"sweep{workers}", scheduler=cluster.scheduler_address)
            wall = time.perf_counter() - start
        assert all(r["status"] == "ok" and not r["cached"] for r in rows)
        out[f"workers{workers}"] = {"points": len(rows), "wall_s": wall, "points_per_min": 60 * len(rows) / wall}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="build/bench_native.json")
    ap.add_argument("--skip", default="", help="comma list of model, sweep")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        e = report["engines"] = engines(tmp)
        print(f"{e['rows']} queries x {e['keys']} keys x d={e['dim']}, {e['kept']:.1%} kept, {e['cycles']} cycles:\n"
              f"  cocotb (Verilator)  {e['cocotb_cycles_per_s']:12,.0f} cycles/s  ({e['cocotb_s']:.2f} s)\n"
              f"  native              {e['native_cycles_per_s']:12,.0f} cycles/s  ({e['native_s']:.2f} s, "
              f"harness loop {e['native_harness_cycles_per_s']:,.0f} cycles/s)\n"
              f"  empty harness       {e['empty_harness_cycles_per_s']:12,.0f} cycles/s  (Verilator's own speed)\n"
              f"  native / cocotb     {e['ratio']:.0f}x end to end (runs: {e['native_ratio_range'][0]:.0f}x.."
              f"{e['native_ratio_range'][1]:.0f}x), {e['harness_ratio']:.0f}x harness loop "
              f"(medians of {NATIVE_REPEATS} native, {COCOTB_REPEATS} cocotb runs)", flush=True)
        if "model" not in skip:
            m = report["whole_model"] = whole_model(tmp)
            for jobs, r in m.items():
                print(f"whole lm ({r['rows']} rows), {jobs}: {r['wall_s']:.1f} s, {r['rows_per_s']:.0f} rows/s",
                      flush=True)
        if "sweep" not in skip:
            s = report["sweep"] = sweep(tmp)
            for workers, r in s.items():
                print(f"sweep on Dask, {workers}: {r['points']} points in {r['wall_s']:.1f} s = "
                      f"{r['points_per_min']:.1f} points/min", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
