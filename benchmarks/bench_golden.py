"""Golden-model speed: a 12-head x 1024-query x 1024-key x d=64 layer (target < 10 s).

    python benchmarks/bench_golden.py [--repeat 5]

Prints the median wall time of `golden.score_rows` over the layer (relative mode, per-head keys).
"""

import argparse
import statistics
import time

import numpy as np

from latte_rtl.config import ScoreConfig
from latte_rtl.golden import score_rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--rows", type=int, default=1024)
    ap.add_argument("--keys", type=int, default=1024)
    args = ap.parse_args()
    cfg = ScoreConfig(dim=64, heads=args.heads, max_keys=args.keys)
    rng = np.random.default_rng(0)
    h, r, n = args.heads, args.rows, args.keys
    q = rng.integers(-128, 128, (h * r, 64), dtype=np.int8)
    k = rng.integers(-128, 128, (h, n, 64), dtype=np.int8)
    heads = np.repeat(np.arange(h), r)
    thresholds = np.full(h, 200)
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        res = score_rows(q, k, heads, thresholds, cfg)
        times.append(time.perf_counter() - t)
    print(f"golden.score_rows: {h} heads x {r} queries x {n} keys x d=64: median {statistics.median(times):.2f} s "
          f"over {args.repeat} runs (min {min(times):.2f} s); {res.kept.mean():.1%} kept")


if __name__ == "__main__":
    main()
