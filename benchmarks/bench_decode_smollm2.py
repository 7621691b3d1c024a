"""A whole SmolLM2-135M token decoded through the RTL: every layer's KV cache (30 layers x 3 KV heads, G = 3
query heads each) at N context tokens, through both decode tops on the native engine, bit-exact with golden;
bytes, cycles (beside the golden cycle model) and energy per token, LATTE against the dense twin.

    python benchmarks/bench_decode_smollm2.py [--keys 4096] [--kept 64] [--bandwidth 16] [--latency 200]
        [--setting sized|defaults] [--onchip FILE.json] [--out FILE.json]

The token is the last position of `--keys` tokens of SmolLM2's test text (`latte-rtl dump --workload smollm2
--all-layers` for a decode design: Top-θ thresholds per KV head for about `--kept` kept keys a row, calibrated
on the 15 positions before it). Settings as benchmarks/bench_decode_rtl.py: `sized` (128 bursts, 256 rows in
flight, the memory queueing 128 bursts) or the design `defaults` (32, 32, 16).

Energy per token = on-chip + DRAM. DRAM: bytes x 8 x pJ/bit of each class in `latte_rtl/synth/dram.py`
(sources there). On-chip: each top's pJ per key of a decode step from an ihp130 gate-level energy run of the
same tops (`--onchip`: a `latte-rtl synth DIR --target ihp130` report of a decode design with d 64 and G 3)
times the token's keys (N x 90 steps): work-proportional, the idle cycles of a memory-bound step not charged
(which favours the top that waits longest, dense); without it, on-chip energy is left out and said so.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from latte_rtl.design import load_design  # noqa: E402
from latte_rtl.golden.decode import decode_step  # noqa: E402
from latte_rtl.npzio import load_layers  # noqa: E402
from latte_rtl.synth.dram import DEFAULT_DRAM, DRAM_CLASSES, dram_pj, read_onchip  # noqa: E402

G = 3
TOPS = {"latte": "latte_decode_engine", "dense": "dense_decode_engine"}
SETTINGS = {"defaults": ("32", "0", 16), "sized": ("128", "256", 128)}


def cli(*args: str) -> None:
    exe = Path(sys.executable).with_name("latte-rtl")
    done = subprocess.run([str(exe), *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"latte-rtl {' '.join(args)}: {done.stderr.strip()}")


def model_cycles(design: Path, token: Path, engine: str, args, queue: int) -> dict[int, int]:
    """The golden cycle model's cycles per layer (every decode step summed)."""
    cfg, _ = load_design(design)
    spec, out, arrays = cfg.decode_spec(), {}, np.load(token)
    for layer, inp in load_layers(token, cfg.score).items():
        v, mult = arrays[f"layer{layer}.v"], arrays[f"layer{layer}.softmax_mult"]
        out[layer] = sum(decode_step(spec, inp.q[inp.heads == h], inp.k[h], v[h], inp.thresholds[[h] * G],
                                     mult[[h] * G], engine=engine, bandwidth=args.bandwidth, latency=args.latency,
                                     queue=queue)["cycles"]["total"] for h in range(inp.k.shape[0]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keys", type=int, default=4096)
    p.add_argument("--kept", type=int, default=64)
    p.add_argument("--bandwidth", type=float, default=16.0)
    p.add_argument("--latency", type=int, default=200)
    p.add_argument("--setting", choices=tuple(SETTINGS), default="sized")
    p.add_argument("--dump", type=Path, help="reuse this token dump (else made in a temporary directory)")
    p.add_argument("--onchip", type=Path, help="ihp130 synth report of the same tops (on-chip pJ per key)")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    try:
        onchip = read_onchip(args.onchip, TOPS) if args.onchip else None
    except ValueError as exc:
        p.error(str(exc))
    outstanding, rows_in_flight, queue = SETTINGS[args.setting]
    with tempfile.TemporaryDirectory(prefix="bench-smollm2-") as tmp:
        tmp = Path(tmp)
        design = tmp / "design"
        cli("generate", "--kv-memory", "axi", "--group", str(G), "--heads", str(G), "--max-keys", str(args.keys),
            "--kept-buffer", str(args.keys), "--axi-outstanding", outstanding, "--rows-in-flight", rows_in_flight,
            "-o", str(design))
        token = args.dump or tmp / "token.npz"
        if not token.exists():
            cli("dump", str(design), "--workload", "smollm2", "--all-layers", "--keys", str(args.keys),
                "--kept", str(args.kept), "-o", str(token))
        results = {}
        for engine, top in TOPS.items():
            out = tmp / f"{engine}.npz"
            cli("run", str(design), "--top", top, "--qk", str(token), "--mem-latency", str(args.latency),
                "--mem-bytes-per-cycle", str(args.bandwidth), "--mem-queue", str(queue), "-o", str(out))
            r = np.load(out)
            model = model_cycles(design, token, engine, args, queue)
            results[engine] = {layer: {"bytes": int(r[f"layer{layer}.bytes_read"].sum()) // G,
                                       "cycles": int(r[f"layer{layer}.cycles"].sum()) // G,
                                       "model_cycles": model[layer],
                                       "kept": float(r[f"layer{layer}.kept_count"].mean() / args.keys)}
                               for layer in map(int, r["layers"])}
            print(f"{top}: bit-exact with golden on all {len(results[engine])} layers", flush=True)
    report(results, args, onchip)


def report(results: dict, args, onchip: dict | None) -> None:
    lat, den = results["latte"], results["dense"]
    print(f"\nSmolLM2-135M, one token at N {args.keys}, G {G}, Top-θ k {args.kept}; memory {args.bandwidth:g} B/cycle, "
          f"latency {args.latency}, setting {args.setting}\n")
    print("| layer | kept | LATTE bytes | dense bytes | bytes ratio | LATTE cycles (model) | dense cycles (model) "
          "| rows/s LATTE/dense |")
    print("|---|---|---|---|---|---|---|---|")
    for layer in sorted(lat):
        a, b = lat[layer], den[layer]
        print(f"| {layer} | {a['kept']:.3f} | {a['bytes']} | {b['bytes']} | {a['bytes'] / b['bytes']:.3f} | "
              f"{a['cycles']} ({a['model_cycles']}) | {b['cycles']} ({b['model_cycles']}) | "
              f"{b['cycles'] / a['cycles']:.2f} |")
    tot = {e: {k: sum(r[k] for r in results[e].values()) for k in ("bytes", "cycles", "model_cycles")}
           for e in results}
    ratios = [r["cycles"] / r["model_cycles"] for e in results for r in results[e].values()]
    figures = {"keys": args.keys, "kept": args.kept, "setting": args.setting, "bandwidth": args.bandwidth,
               "latency": args.latency, "layers": results, "token": tot,
               "bytes_ratio": tot["latte"]["bytes"] / tot["dense"]["bytes"],
               "rows_per_second_ratio": tot["dense"]["cycles"] / tot["latte"]["cycles"],
               "measured_over_model": [min(ratios), max(ratios)]}
    print(f"\ntoken: bytes LATTE {tot['latte']['bytes']} / dense {tot['dense']['bytes']} = "
          f"{figures['bytes_ratio']:.3f}; "
          f"cycles {tot['latte']['cycles']} / {tot['dense']['cycles']}: rows/s LATTE/dense "
          f"{figures['rows_per_second_ratio']:.2f}; measured/model per layer {min(ratios):.3f} .. {max(ratios):.3f}")
    keys = {e: args.keys * G * len(results[e]) for e in results}        # keys of every decode step: N × 3 KV heads
    onchip_pj = {e: onchip[e] * keys[e] for e in results} if onchip else {e: 0.0 for e in results}
    energy = {}
    for name in DRAM_CLASSES:
        e = {k: dram_pj(tot[k]["bytes"], name) + onchip_pj[k] for k in tot}
        energy[name] = {"latte_uj": e["latte"] / 1e6, "dense_uj": e["dense"] / 1e6, "ratio": e["latte"] / e["dense"]}
        print(f"energy per token, {name} ({DRAM_CLASSES[name].pj_per_bit:g} pJ/bit) "
              f"{'+ on-chip' if onchip else '(DRAM only: no --onchip report)'}: LATTE {e['latte'] / 1e6:.2f} µJ, "
              f"dense {e['dense'] / 1e6:.2f} µJ, ratio {e['latte'] / e['dense']:.3f}"
              + (" (the goal's class)" if name == DEFAULT_DRAM else ""))
    if onchip:
        print(f"on-chip pJ per key of a step (ihp130 gate level, work-proportional): LATTE {onchip['latte']:.1f}, "
              f"dense {onchip['dense']:.1f}; on chip per token LATTE {onchip_pj['latte'] / 1e6:.2f} µJ, dense "
              f"{onchip_pj['dense'] / 1e6:.2f} µJ")
    figures["energy_per_token"] = energy
    figures["onchip_pj_per_key"] = onchip
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
