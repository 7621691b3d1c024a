"""Synthesis sanity of a decode top (latte_rtl/tops/decode.py) outside `latte-rtl`: its Verilog and the
`latte_sram` model through the project's generic Yosys script (latte_rtl/synth/generic.ys; the kept-score
buffer is a black-box memory); prints generic cells, the transistor estimate and flip-flops.

    python benchmarks/decode_top_synth.py [--top latte|dense] [--dim 64] [--group 3] [--work build/decode_synth]
"""

import argparse
import json
import time
from pathlib import Path

from amaranth.back import verilog

from latte_rtl.config import LatteConfig
from latte_rtl.hw.sram import SRAM_VERILOG
from latte_rtl.synth.flows import _render, _yosys
from latte_rtl.tops.decode import DenseDecodeEngine, LatteDecodeEngine


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--top", choices=("latte", "dense"), default="latte")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--group", type=int, default=3)
    p.add_argument("--work", type=Path, default=Path("build/decode_synth"))
    args = p.parse_args()
    work = args.work / args.top
    work.mkdir(parents=True, exist_ok=True)
    cfg = LatteConfig.from_params(kv_memory="axi", dim=args.dim, lanes=min(16, args.dim), max_keys=65536,
                                  group=args.group)
    top = {"latte": LatteDecodeEngine, "dense": DenseDecodeEngine}[args.top](cfg)
    started = time.time()
    (work / "top.v").write_text(verilog.convert(top, name="decode_top"))
    (work / "sram.v").write_text(SRAM_VERILOG)
    _yosys(work, _render("generic.ys", top="decode_top", top_file="top.v", sram_file="sram.v",
                         stat_json="stat.json"), "generic.ys")
    design = json.loads((work / "stat.json").read_text())["design"]
    cells = design["num_cells_by_type"]
    print(json.dumps({"top": args.top, "spec": str(cfg.decode_spec()), "group": args.group, "buffer_depth": top.depth,
                      "cells": sum(n for t, n in cells.items() if t.startswith("$_")),
                      "transistors": design["estimated_num_transistors"],
                      "flip_flops": sum(n for t, n in cells.items() if "DFF" in t),
                      "memories": cells.get("latte_sram", 0), "seconds": round(time.time() - started)}))


if __name__ == "__main__":
    main()
