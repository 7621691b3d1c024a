"""The issue's goal point measured on the RTL: the LATTE and dense decode tops (d 64, 8-bit, m 4, 16 lanes,
G = 3, 256-bit AXI, absolute thresholds at each row's 0.9 quantile of HH: keep ~0.10) on one decode step of
N = 4096 uniform int8 keys (seed 0), through the native engine with the reactive AXI memory model at
16 bytes per cycle and 200 cycles of latency (benchmarks/bench_decode.py's memory). Both bit-exact with
golden; prints bytes per query row (the step's bytes / G) and step cycles of each top, and both ratios.

    python benchmarks/bench_decode_rtl.py [--keys 4096] [--bandwidth 16] [--latency 200] [--outstanding 32]
        [--out FILE.json]
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
from latte_rtl.golden.latte import partial_sums  # noqa: E402
from latte_rtl.sim.native import simulate_native  # noqa: E402

G = 3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keys", type=int, default=4096)
    p.add_argument("--bandwidth", type=float, default=16.0)
    p.add_argument("--latency", type=int, default=200)
    p.add_argument("--outstanding", type=int, default=32, help="axi_outstanding of both tops")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    n = args.keys
    cfg = LatteConfig.from_params(kv_memory="axi", group=G, heads=G, max_keys=n, kept_buffer=n, attention=True,
                                  threshold_mode="absolute",
                                  axi_outstanding=args.outstanding)
    rng = np.random.default_rng(0)
    q, k, v = (rng.integers(-128, 128, s) for s in ((G, 64), (n, 64), (n, 64)))
    hh = partial_sums(q, k, cfg.decode_spec())["HH"]
    thresholds = np.array([int(np.floor(np.quantile(h, 0.9))) for h in hh])
    figures = {"keys": n, "group": G, "outstanding": args.outstanding, "bandwidth": args.bandwidth,
               "latency": args.latency}
    with tempfile.TemporaryDirectory(prefix="bench-decode-rtl-") as tmp:
        tmp = Path(tmp)
        generate(cfg, tmp / "design")
        np.savez(tmp / "row.npz", q=q, k=k, v=v, thresholds=thresholds, heads=np.arange(G),
                 kv_heads=np.zeros(G, np.int64), softmax_mult=np.full(G, 288))
        for top in ("latte_decode_engine", "dense_decode_engine"):
            simulate_native(tmp / "design", [tmp / "row.npz"], [tmp / f"{top}.npz"], top=top,
                            memory=(args.latency, args.bandwidth))
            res = np.load(tmp / f"{top}.npz")
            figures[top] = {"bytes_per_row": int(res["bytes_read"][0]) / G, "step_cycles": int(res["cycles"][0]),
                            "kept": res["kept_count"].tolist(), "bytes_per_plane": {
                                p: int(res[f"bytes_read_{p}"][0]) for p in ("k_msb", "k_lsb", "v")}}
            print(f"{top}: {figures[top]['bytes_per_row']:.0f} B/row, {figures[top]['step_cycles']} cycles/step, "
                  f"kept {figures[top]['kept']}, bytes {figures[top]['bytes_per_plane']} (bit-exact with golden)")
    latte, dense = figures["latte_decode_engine"], figures["dense_decode_engine"]
    figures["bytes_ratio"] = latte["bytes_per_row"] / dense["bytes_per_row"]
    figures["rows_per_second_ratio"] = dense["step_cycles"] / latte["step_cycles"]
    print(f"RTL, N {n}, G {G}, {args.bandwidth:g} B/cycle, latency {args.latency}: bytes/row LATTE/dense = "
          f"{figures['bytes_ratio']:.3f} (goal <= 0.40), rows/s LATTE/dense = {figures['rows_per_second_ratio']:.2f} "
          "(goal >= 2.5)")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
