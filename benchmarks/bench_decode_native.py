"""Native-engine speed on a long decode row: the LATTE decode top (d 64, 16 lanes, G = 3, 256-bit AXI,
kept_buffer 4096) on one decode step of N = 16 384 random keys (seeded) at keep ~0.10 per query row,
its memory the harness's reactive AXI model (latency 0 and 100 cycles, one beat per cycle), bit-exact with
golden on every run. Prints the simulated cycles, the harness's seconds (median of 3, model built before
timing) and cycles/s.

    python benchmarks/bench_decode_native.py [--keys 16384] [--out docs/data/bench_decode_native.json]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from latte_rtl.config import LatteConfig  # noqa: E402
from latte_rtl.design import generate  # noqa: E402
from latte_rtl.golden.latte import partial_sums  # noqa: E402
from latte_rtl.sim.native import simulate_native  # noqa: E402

SEED, REPEATS = 7, 3


def long_row(cfg: LatteConfig, n: int, path: Path) -> None:
    """Three query rows sharing one KV head of n random keys, thresholds at each row's 0.9 quantile of HH."""
    rng = np.random.default_rng(SEED)
    q, k, v = (rng.integers(-128, 128, s) for s in ((3, cfg.score.dim), (n, cfg.score.dim), (n, cfg.score.dim)))
    hh = partial_sums(q, k, cfg.decode_spec())["HH"]
    thresholds = np.array([int(np.floor(np.quantile(h, 0.9))) for h in hh])
    np.savez(path, q=q, k=k, v=v, thresholds=thresholds, heads=np.arange(3), kv_heads=np.zeros(3, np.int64),
             softmax_mult=np.full(3, 2000))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keys", type=int, default=16384)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    cfg = LatteConfig.from_params(kv_memory="axi", attention=True, threshold_mode="absolute", group=3, heads=3,
                                  max_keys=args.keys, kept_buffer=4096)
    figures = {"keys": args.keys, "group": 3, "axi_data_width": 256}
    with tempfile.TemporaryDirectory(prefix="bench-decode-native-") as tmp:
        tmp = Path(tmp)
        generate(cfg, tmp / "design")
        long_row(cfg, args.keys, tmp / "row.npz")
        for latency in (0, 100):
            runs = [simulate_native(tmp / "design", [tmp / "row.npz"], [tmp / "out.npz"], top="latte_decode_engine",
                                    memory=(latency, None)) for _ in range(REPEATS + 1)][1:]  # first: the build
            seconds = statistics.median(r["seconds"] for r in runs)
            cycles = runs[0]["cycles"]
            figures[f"latency_{latency}"] = {"cycles": cycles, "seconds": round(seconds, 3),
                                             "cycles_per_second": round(cycles / seconds)}
            print(f"N {args.keys}, latency {latency}: {cycles} cycles in {seconds:.3f} s = "
                  f"{cycles / seconds / 1e6:.2f} M cycles/s (bit-exact with golden)")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
