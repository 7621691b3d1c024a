"""RTL benchmarks through Verilator (cocotb): run time of a 64-query x 1024-key x d=64 row set
(target < 60 s), and measured cycles vs the model beats * (N + 3 * kept) over keep ratios.

    python benchmarks/bench_rtl.py [--out build/bench_rtl.json]
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from latte_rtl.config import LatteConfig
from latte_rtl.design import generate
from latte_rtl.golden import partial_sums, score_rows, threshold_for_keep
from latte_rtl.sim.runner import simulate


def relative_threshold(cfg, q, k, keep):
    """Relative-mode T that keeps about `keep` of the keys of these rows (at least the max)."""
    hh = partial_sums(q, k, cfg.score)["HH"]
    return threshold_for_keep(hh, keep, "relative") if keep > 0 else 0


def run_once(design, cfg, q, k, t, work):
    src = work / "in.npz"
    np.savez(src, q=q, k=k, thresholds=np.array([t]))
    res = work / "res.npz"
    start = time.perf_counter()
    simulate(design, [src], [res], top="latte_score_engine", sim="verilator")
    wall = time.perf_counter() - start
    out = np.load(res)
    gold = score_rows(q, k, np.zeros(len(q), np.int64), np.array([t]), cfg.score)
    assert np.array_equal(out["kept"], gold.kept) and np.array_equal(out["scores"], gold.scores)
    return wall, out, gold


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="build/bench_rtl.json")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    report = {"speed": {}, "cycles": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 1. speed: default design, 64 x 1024 x 64 at ~10 % kept
        cfg = LatteConfig()
        design = tmp / "default"
        generate(cfg, design)
        q = rng.integers(-128, 128, (64, 64))
        k = rng.integers(-128, 128, (1024, 64))
        t = relative_threshold(cfg, q, k, 0.10)
        walls = []
        for i in range(args.repeat):
            wall, out, gold = run_once(design, cfg, q, k, t, tmp)
            walls.append(wall)
            print(f"run {i}: {wall:.1f} s ({'with' if i == 0 else 'without'} the Verilator build)", flush=True)
        report["speed"] = {"rows": 64, "keys": 1024, "dim": 64, "kept": float(gold.kept.mean()),
                           "first_run_s": walls[0], "median_warm_s": statistics.median(walls[1:] or walls)}
        # 2. cycles vs model for lanes 64/16/4 (beats 1/4/16) and keep ratios 0..1
        for lanes in (64, 16, 4):
            cfg = LatteConfig.from_params(lanes=lanes)
            design = tmp / f"lanes{lanes}"
            generate(cfg, design)
            q = rng.integers(-128, 128, (4, 64))
            for keep in (0.0, 0.02, 0.10, 0.5, 1.0):
                t = relative_threshold(cfg, q, k, keep)
                _, out, gold = run_once(design, cfg, q, k, t, tmp)
                ratio = float(out["cycles"].sum() / gold.cycles.sum())
                row = {"lanes": lanes, "beats": cfg.score.beats, "keep_target": keep, "kept": float(gold.kept.mean()),
                       "cycles": int(out["cycles"].sum()), "model": int(gold.cycles.sum()), "ratio": ratio}
                report["cycles"].append(row)
                print(f"lanes {lanes:3d} (beats {cfg.score.beats:2d})  kept {row['kept']:6.1%}  "
                      f"cycles {row['cycles']:7d}  "
                      f"model {row['model']:7d}  measured/model {ratio:.3f}", flush=True)
    s = report["speed"]
    print(f"\n64 queries x 1024 keys x d=64 through Verilator: {s['first_run_s']:.1f} s first run (incl. build), "
          f"median {s['median_warm_s']:.1f} s warm; worst measured/model ratio "
          f"{max(r['ratio'] for r in report['cycles']):.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
