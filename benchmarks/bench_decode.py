"""Long-context decode from external memory (docs/spec.md §9, issue 24): bytes read per query row and
cycles per decode step, LATTE vs dense (dense reading every V row, and dense skipping V rows with p = 0),
from the golden model (`latte_rtl.golden.decode`) and its cycle model (`golden/cycles.py`).

    python benchmarks/bench_decode.py [--real build/smollm2_l3_4096.npz]

Prints the two goal ratios (keep 0.10, d 64, N 4096, G 3) first, then sweeps of keep ratio, N, G and
memory bandwidth. Synthetic rows (labelled): q, k, v uniform int8 (seed printed), absolute thresholds at
each query row's own (1 - keep) quantile of HH, M_h = 288 (S_q = S_k = 2.5 / 128, F = 2, R = 20). With
--real: a SmolLM2-135M KV-cache dump (`latte-rtl dump --workload smollm2 --rows 1 --keys N`), its 3 KV
heads x 3 query heads each, thresholds the same way.
"""

from __future__ import annotations

import argparse

import numpy as np

from latte_rtl.config import LatteConfig
from latte_rtl.golden.decode import ENGINES, decode_step
from latte_rtl.golden.latte import partial_sums

SEED = 0
MULT = 288


def thresholds_for(spec, q, k, keep):
    """Absolute T per query row: its own (1 - keep) quantile of HH (oracle calibration)."""
    hh = partial_sums(q, k, spec)["HH"]
    return [int(np.floor(np.quantile(h, 1.0 - keep))) for h in hh]


def step_all(spec, q, k, v, keep, mult, args):
    t = thresholds_for(spec, q, k, keep)
    return {e: decode_step(spec, q, k, v, t, mult, engine=e, bandwidth=args.bandwidth, latency=args.latency,
                           queue=args.queue) for e in ENGINES}


def synthetic(n, g, d, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, (g, d)), rng.integers(-128, 128, (n, d)), rng.integers(-128, 128, (n, d))


def line(label, res, g):
    lat, den, skip = (res[e] for e in ENGINES)
    b = {e: res[e]["bytes"]["total"] / g for e in ENGINES}
    kept = lat["kept_count"].mean() / lat["hh"].shape[1]
    return (f"| {label} | {kept:.3f} | {b['latte']:.0f} | {b['dense']:.0f} | {b['dense_skip']:.0f} | "
            f"{b['latte'] / b['dense']:.3f} | {b['latte'] / b['dense_skip']:.3f} | "
            f"{den['cycles']['total'] / lat['cycles']['total']:.2f} | "
            f"{skip['cycles']['total'] / lat['cycles']['total']:.2f} | "
            f"{lat['cycles']['bound']} / {den['cycles']['bound']} |")


HEADER = ("| {} | kept | LATTE B/row | dense B/row | dense-skip B/row | LATTE/dense bytes | LATTE/dense-skip "
          "bytes | rows/s vs dense | rows/s vs dense-skip | bound LATTE / dense |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=float, default=0.10)
    ap.add_argument("--keys", type=int, default=4096)
    ap.add_argument("--group", type=int, default=3, help="query heads per KV head (G)")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--bus-bits", type=int, default=256, help="AXI data width")
    ap.add_argument("--bandwidth", type=float, default=16.0, help="memory bytes per cycle")
    ap.add_argument("--latency", type=int, default=200, help="cycles from AR to first R beat")
    ap.add_argument("--outstanding", type=int, default=128, help="axi_outstanding of the design")
    ap.add_argument("--rows-in-flight", type=int, default=256, help="rows_in_flight of the design")
    ap.add_argument("--queue", type=int, default=128, help="bursts the memory accepts ahead")
    ap.add_argument("--real", help="a SmolLM2 dump (.npz) to measure on as well")
    args = ap.parse_args()
    spec = LatteConfig.from_params(kv_memory="axi", dim=args.dim, axi_data_width=args.bus_bits,
                                   max_keys=65536, kept_buffer=65536, axi_outstanding=args.outstanding,
                                   rows_in_flight=args.rows_in_flight).decode_spec()
    print(f"decode model: d {args.dim}, 8-bit, m 4, AXI {args.bus_bits} bit, {args.outstanding} bursts and "
          f"{args.rows_in_flight} rows in flight, memory {args.bandwidth:g} B/cycle, latency {args.latency} cycles, "
          f"{args.queue} bursts queued, absolute thresholds; synthetic seed {SEED}")
    g, n = args.group, args.keys
    res = step_all(spec, *synthetic(n, g, args.dim, SEED), args.keep, [MULT] * g, args)
    lat, den = res["latte"], res["dense"]
    bytes_ratio = lat["bytes"]["total"] / den["bytes"]["total"]
    rate_ratio = den["cycles"]["total"] / lat["cycles"]["total"]
    print(f"GOAL keep {args.keep}, d {args.dim}, N {n}, G {g} (synthetic): bytes/row LATTE/dense = {bytes_ratio:.3f} "
          f"(goal <= 0.40), rows/s LATTE/dense = {rate_ratio:.2f} (goal >= 2.5); "
          f"LATTE {lat['cycles']['bound']}-bound, dense {den['cycles']['bound']}-bound")
    print("\n" + HEADER.format("keep (N 4096, G 3)"))
    for keep in (0.02, 0.05, 0.10, 0.20, 0.40):
        print(line(f"{keep:.2f}", step_all(spec, *synthetic(n, g, args.dim, SEED), keep, [MULT] * g, args), g))
    print("\n" + HEADER.format("N (keep 0.10, G 3)"))
    for keys in (1024, 4096, 16384, 65536):
        print(line(str(keys), step_all(spec, *synthetic(keys, g, args.dim, SEED), args.keep, [MULT] * g, args), g))
    print("\n" + HEADER.format("G (keep 0.10, N 4096)"))
    for group in (1, 3, 9):
        print(line(str(group), step_all(spec, *synthetic(n, group, args.dim, SEED), args.keep, [MULT] * group,
                                        args), group))
    print("\n" + HEADER.format("B/cycle (keep 0.10, N 4096, G 3)"))
    for bw in (4.0, 16.0, 64.0, 256.0):
        print(line(f"{bw:g}", step_all(spec, *synthetic(n, g, args.dim, SEED), args.keep, [MULT] * g,
                                       _with(args, bandwidth=bw)), g))
    if args.real:
        real(spec, args)


def _with(args, **changes):
    out = argparse.Namespace(**vars(args))
    for key, value in changes.items():
        setattr(out, key, value)
    return out


def real(spec, args):
    data = np.load(args.real)
    k, v, q, heads, mult = data["k"], data["v"], data["q"], data["heads"], data["softmax_mult"]
    print(f"\n{HEADER.format('SmolLM2 KV head (' + args.real + ')')}")
    totals = {e: [0, 0] for e in ENGINES}
    for h in range(k.shape[0]):
        rows = np.flatnonzero(heads == h)
        res = step_all(spec, q[rows].astype(np.int64), k[h].astype(np.int64), v[h].astype(np.int64), args.keep,
                       [int(mult[h])] * rows.size, args)
        print(line(f"KV head {h}, N {k.shape[1]}, G {rows.size}", res, rows.size))
        for e in ENGINES:
            totals[e][0] += res[e]["bytes"]["total"]
            totals[e][1] += res[e]["cycles"]["total"]
    print(f"SmolLM2 all KV heads: bytes LATTE/dense = {totals['latte'][0] / totals['dense'][0]:.3f}, "
          f"LATTE/dense-skip = {totals['latte'][0] / totals['dense_skip'][0]:.3f}; rows/s LATTE/dense = "
          f"{totals['dense'][1] / totals['latte'][1]:.2f}")


if __name__ == "__main__":
    main()
