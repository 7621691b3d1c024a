"""The issue's goal point measured on the RTL: the LATTE and dense decode tops (d 64, 8-bit, m 4, G = 3,
256-bit AXI, absolute thresholds at each row's 0.9 quantile of HH: keep ~0.10) on one decode step of
N = 4096 uniform int8 keys (seed 0), through the native engine with the reactive AXI memory model (16 bytes
per cycle, 200 cycles of latency: benchmarks/bench_decode.py's memory). Both bit-exact with golden.

Two settings of the same pair of designs, one run: the design defaults (32 bursts and 32 rows in flight)
on a memory that queues 16 bursts, and in flight sized to latency × bandwidth (`--outstanding 128
--rows-in-flight 256`, a memory queueing 128 bursts). Each top's cycles per step sit beside the golden cycle
model's (`golden.decode_cycles`, measured / model). With `--sweep` the sized pair runs over bandwidths and
latencies too, and `--plot FILE.png` draws rows per 1000 cycles against bandwidth, one line per latency.

    python benchmarks/bench_decode_rtl.py [--keys 4096] [--bandwidth 16] [--latency 200] [--sweep]
        [--plot FILE.png] [--onchip SYNTH_REPORT.json] [--out FILE.json]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from latte_rtl.config import LatteConfig  # noqa: E402
from latte_rtl.design import generate  # noqa: E402
from latte_rtl.golden.decode import decode_step  # noqa: E402
from latte_rtl.golden.latte import partial_sums  # noqa: E402
from latte_rtl.sim.native import simulate_native  # noqa: E402
from latte_rtl.synth.dram import DEFAULT_DRAM, dram_pj, read_onchip  # noqa: E402

G = 3
MULT = 288
TOPS = {"latte": "latte_decode_engine", "dense": "dense_decode_engine"}
SETTINGS = {"defaults": {"axi_outstanding": 32, "rows_in_flight": 0, "queue": 16},
            "sized": {"axi_outstanding": 128, "rows_in_flight": 256, "queue": 128}}
SWEEP_BANDWIDTHS = (4, 8, 16, 32, 64)
SWEEP_LATENCIES = (0, 100, 200, 400)


def workload(n: int, spec):
    rng = np.random.default_rng(0)
    q, k, v = (rng.integers(-128, 128, s) for s in ((G, 64), (n, 64), (n, 64)))
    hh = partial_sums(q, k, spec)["HH"]
    return q, k, v, np.array([int(np.floor(np.quantile(h, 0.9))) for h in hh])


def measure(design: Path, row: Path, arrays, spec, bandwidth: float, latency: int, queue: int) -> dict:
    """Both tops on one step: bytes, cycles, the model's cycles and what bounds them."""
    out = {}
    for engine, top in TOPS.items():
        simulate_native(design, [row], [row.with_name(f"{top}.npz")], top=top, memory=(latency, bandwidth, queue))
        res = np.load(row.with_name(f"{top}.npz"))
        model = decode_step(spec, *arrays, np.full(G, MULT), engine=engine, bandwidth=bandwidth, latency=latency,
                            queue=queue)["cycles"]
        out[engine] = {"bytes_per_row": int(res["bytes_read"][0]) / G, "step_cycles": int(res["cycles"][0]),
                       "model_cycles": model["total"], "bound": model["bound"],
                       "bytes_per_plane": {p: int(res[f"bytes_read_{p}"][0]) for p in ("k_msb", "k_lsb", "v")}}
        out[engine]["measured_over_model"] = out[engine]["step_cycles"] / model["total"]
    out["rows_per_second_ratio"] = out["dense"]["step_cycles"] / out["latte"]["step_cycles"]
    out["bytes_ratio"] = out["latte"]["bytes_per_row"] / out["dense"]["bytes_per_row"]
    return out


def run_setting(name: str, args, tmp: Path) -> dict:
    s = SETTINGS[name]
    cfg = LatteConfig.from_params(kv_memory="axi", group=G, heads=G, max_keys=args.keys, kept_buffer=args.keys,
                                  attention=True, threshold_mode="absolute", axi_outstanding=s["axi_outstanding"],
                                  rows_in_flight=s["rows_in_flight"])
    spec = cfg.decode_spec()
    q, k, v, thresholds = arrays = workload(args.keys, spec)
    generate(cfg, tmp / name)
    row = tmp / f"{name}_row.npz"
    np.savez(row, q=q, k=k, v=v, thresholds=thresholds, heads=np.arange(G), kv_heads=np.zeros(G, np.int64),
             softmax_mult=np.full(G, MULT))
    points = [(args.bandwidth, args.latency)]
    if args.sweep and name == "sized":
        points += [(b, lat) for lat in SWEEP_LATENCIES for b in SWEEP_BANDWIDTHS if (b, lat) != points[0]]
    result = {"setting": s, "points": []}
    for bandwidth, latency in points:
        got = measure(tmp / name, row, arrays, spec, bandwidth, latency, s["queue"])
        result["points"].append({"bandwidth": bandwidth, "latency": latency, **got})
        print(f"{name} ({s['axi_outstanding']} bursts, {s['rows_in_flight'] or 'max(8, bursts)'} rows in flight, "
              f"memory queue {s['queue']}), {bandwidth:g} B/cycle, latency {latency}: "
              + "; ".join(f"{e} {got[e]['step_cycles']} cycles (model {got[e]['model_cycles']}, "
                          f"{got[e]['measured_over_model']:.3f}, {got[e]['bound']})" for e in TOPS)
              + f"; rows/s LATTE/dense {got['rows_per_second_ratio']:.2f}", flush=True)
    return result


def plot(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, latency in enumerate(SWEEP_LATENCIES):
        at = sorted((p for p in points if p["latency"] == latency), key=lambda p: p["bandwidth"])
        bw = [p["bandwidth"] for p in at]
        for engine, style in (("latte", "-o"), ("dense", "--s")):
            ax.plot(bw, [1000 * G / p[engine]["step_cycles"] for p in at], style, color=f"C{i}",
                    label=f"{'LATTE' if engine == 'latte' else 'dense'}, latency {latency}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("memory bandwidth (bytes per cycle)")
    ax.set_ylabel("query rows per 1000 cycles")
    ax.set_title("Decode tops on the RTL: N 4096, G 3, keep 0.10 (flat: compute-bound)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def energy_per_step(point: dict, keys: int, per_key: dict | None) -> dict:
    """pJ per decode step of each top at the goal point: DRAM (the default class) + on chip (`per_key`, pJ per
    key of a step from `--onchip`, × N; else left out)."""
    out = {}
    for engine in TOPS:
        onchip = per_key[engine] * keys if per_key else 0.0
        dram = dram_pj(point[engine]["bytes_per_row"] * G, DEFAULT_DRAM)
        out[engine] = {"onchip_pj": onchip, "dram_pj": dram, "total_pj": onchip + dram}
    out["ratio"] = out["latte"]["total_pj"] / out["dense"]["total_pj"]
    print(f"energy per step ({DEFAULT_DRAM}{' + on chip' if per_key else ', DRAM only: no --onchip report'}): "
          f"LATTE {out['latte']['total_pj'] / 1e3:.0f} nJ, dense {out['dense']['total_pj'] / 1e3:.0f} nJ, "
          f"ratio {out['ratio']:.3f} (goal <= 0.40)")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keys", type=int, default=4096)
    p.add_argument("--bandwidth", type=float, default=16.0)
    p.add_argument("--latency", type=int, default=200)
    p.add_argument("--sweep", action="store_true", help="the sized pair over bandwidths and latencies too")
    p.add_argument("--plot", type=Path, help="with --sweep: rows per 1000 cycles against bandwidth (PNG)")
    p.add_argument("--onchip", type=Path, help="a `synth --target ihp130` report of a d 64, G 3 decode design: "
                                               "on-chip pJ per key, for the energy per step")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    try:
        per_key = read_onchip(args.onchip, TOPS) if args.onchip else None
    except ValueError as exc:
        p.error(str(exc))
    with tempfile.TemporaryDirectory(prefix="bench-decode-rtl-") as tmp:
        figures = {"keys": args.keys, "group": G, **{name: run_setting(name, args, Path(tmp)) for name in SETTINGS}}
    for name in SETTINGS:
        goal = figures[name]["points"][0]
        print(f"GOAL ({name}): bytes/row LATTE/dense = {goal['bytes_ratio']:.3f} (goal <= 0.35), rows/s LATTE/dense "
              f"= {goal['rows_per_second_ratio']:.2f} (goal >= 2.5)")
    figures["energy_per_step"] = energy_per_step(figures["sized"]["points"][0], args.keys, per_key)
    ratios = [p[e]["measured_over_model"] for s in SETTINGS for p in figures[s]["points"] for e in TOPS]
    print(f"measured / model over {len(ratios)} runs: {min(ratios):.3f} .. {max(ratios):.3f} (goal within 1.15)")
    if args.plot and args.sweep:
        plot(figures["sized"]["points"], args.plot)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
