"""IHP SG13G2 energy per row and keys/s per mm² against the keep ratio, LATTE vs dense, on the default
design with the attention tops: each top is mapped and timed once; then, for every keep ratio, the
embedded lm dump's rows run through it with thresholds for that ratio (Verilator, bit-exact against
golden) and OpenSTA gives the logic power with that run's switching activity.

    python benchmarks/bench_ihp130.py [--keep 0.05,0.1,0.2,0.4,1] [--rows-per-head 2] [--tops LIST]
                                      [--out build/bench_ihp130.json] [--plot build/ihp130_energy_vs_keep.png]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from latte_rtl.config import LatteConfig
from latte_rtl.design import generate
from latte_rtl.synth.activity import ENERGY_ROWS_PER_HEAD
from latte_rtl.synth.asic import energy_at, implement, sta_version
from latte_rtl.synth.report import keys_per_s_per_mm2
from latte_rtl.tools import tool_versions

TOPS = ("latte_attention_engine", "dense_attention_engine", "latte_score_engine", "dense_score_engine")


def sweep_top(cfg, design: Path, top: str, keeps: list[float], work: Path, rows_per_head: int) -> dict:
    result, impl = implement(design, top, work)
    if impl is None:
        raise SystemExit(f"bench_ihp130: {result['skipped']}")
    result["by_keep"] = {}
    for keep in keeps:
        energy = energy_at(cfg, impl, keep, rows_per_head=rows_per_head)
        per_mm2 = keys_per_s_per_mm2({**result, "energy": energy})
        result["by_keep"][str(keep)] = {"energy": energy, "keys_per_s_per_mm2": per_mm2}
        print(f"  {top:24s} keep {keep:<5} kept {energy['activity']['keep_ratio']:.3f}: "
              f"{energy['pj_per_row']:>10,.0f} pJ/row, {per_mm2:.3g} keys/s/mm²", flush=True)
    return result


def plot(results: dict, keeps: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for n, (latte, dense) in enumerate(((TOPS[0], TOPS[1]), (TOPS[2], TOPS[3]))):
        for top, style in ((latte, "o-"), (dense, "s--")):
            pts = results[top]["by_keep"]
            left.plot(keeps, [pts[str(k)]["energy"]["pj_per_row"] / 1e3 for k in keeps], style, color=f"C{n}",
                      label=top)
            right.plot(keeps, [pts[str(k)]["keys_per_s_per_mm2"] / 1e6 for k in keeps], style, color=f"C{n}",
                       label=top)
    left.set(xlabel="keep ratio", ylabel="energy per query row (nJ)", title="Energy per row (IHP SG13G2)")
    right.set(xlabel="keep ratio", ylabel="M keys/s per mm² (logic + SRAM macros)", title="Throughput per area")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--keep", default="0.05,0.1,0.2,0.4,1", help="keep ratios, comma list (default %(default)s)")
    ap.add_argument("--rows-per-head", type=int, default=ENERGY_ROWS_PER_HEAD,
                    help="rows of each head in every energy run (default %(default)s, the flows'; 16: layer 1's all)")
    ap.add_argument("--tops", default=",".join(TOPS), help="LATTE/dense pairs of tops (default: all four)")
    ap.add_argument("--out", type=Path, default=Path("build/bench_ihp130.json"), help="JSON (default %(default)s)")
    ap.add_argument("--plot", type=Path, default=Path("build/ihp130_energy_vs_keep.png"),
                    help="plot, when all four tops run (default %(default)s)")
    args = ap.parse_args()
    keeps = [float(k) for k in args.keep.split(",")]
    asked = args.tops.split(",")
    if unknown := set(asked) - set(TOPS):
        ap.error(f"--tops must be a comma list of {', '.join(TOPS)}, not {', '.join(sorted(unknown))}")
    tops = [t for t in TOPS if t in asked]
    cfg = LatteConfig.from_params(attention=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-ihp130-") as tmp:
        design = Path(tmp) / "design"
        generate(cfg, design)
        results = {top: sweep_top(cfg, design, top, keeps, Path(tmp) / top, args.rows_per_head) for top in tops}
    for latte, dense in ((TOPS[0], TOPS[1]), (TOPS[2], TOPS[3])):
        if latte not in results or dense not in results:
            continue
        for k in keeps:
            a, b = results[latte]["by_keep"][str(k)], results[dense]["by_keep"][str(k)]
            energy = a['energy']['pj_per_row'] / b['energy']['pj_per_row']
            print(f"{latte} / {dense} at keep {k}: energy per row x{energy:.3f}, "
                  f"keys/s per mm² x{a['keys_per_s_per_mm2'] / b['keys_per_s_per_mm2']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"params": cfg.params(), "keeps": keeps, "rows_per_head": args.rows_per_head,
                                    "tops": results,
                                    "tool_versions": {**tool_versions(), "opensta": sta_version()},
                                    "seconds": round(time.perf_counter() - start, 1)}, indent=1) + "\n")
    wrote = [args.out]
    if len(results) == len(TOPS):
        plot(results, keeps, args.plot)
        wrote.append(args.plot)
    print(f"wrote {' and '.join(map(str, wrote))} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
