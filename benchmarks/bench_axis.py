"""Cost of the AXI-Stream / AXI4-Lite wrapper (`generate --interface axis`): generic-flow logic
area and flip-flops of each top of the default design, native vs AXI (Yosys, docs/spec.md §5 script).

    python benchmarks/bench_axis.py [--tops latte_score_engine,dense_score_engine] [--out build/bench_axis.json]
"""

import argparse
import json
import tempfile
from pathlib import Path

from latte_rtl.config import LatteConfig
from latte_rtl.design import generate
from latte_rtl.synth.flows import synth_generic
from latte_rtl.tools import tool_versions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tops", default="latte_score_engine,dense_score_engine")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    cfg = LatteConfig.from_params()
    report = {"params": cfg.params(), "tool_versions": tool_versions(), "tops": {}}
    with tempfile.TemporaryDirectory(prefix="bench-axis-") as tmp:
        for interface in ("native", "axis"):
            design = Path(tmp) / interface
            generate(cfg, design, interface=interface)
            for top in args.tops.split(","):
                r = synth_generic(design, top, Path(tmp) / f"{interface}-{top}")
                report["tops"].setdefault(top, {})[interface] = {
                    k: r[k] for k in ("transistors", "flip_flops", "blocks")}
    for top, r in report["tops"].items():
        n, a = r["native"], r["axis"]
        r["overhead"] = {"transistors": a["transistors"] - n["transistors"],
                         "flip_flops": a["flip_flops"] - n["flip_flops"],
                         "ratio": round(a["transistors"] / n["transistors"], 4)}
        print(f"{top:20s} native {n['transistors']:8d} transistors {n['flip_flops']:5d} FFs | "
              f"axis {a['transistors']:8d} "
              f"{a['flip_flops']:5d} FFs | overhead {r['overhead']['transistors']:+d} transistors "
              f"({(r['overhead']['ratio'] - 1) * 100:+.2f} %), {r['overhead']['flip_flops']:+d} FFs")
        print(f"{'':20s} blocks native {n['blocks']}\n{'':20s} blocks axis   {a['blocks']}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
