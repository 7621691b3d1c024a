"""Commands `sim` (cocotb regression of a design) and `run` (the RTL of a top on your tensors)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from latte_rtl.cli.common import default_qk, split_list

from .runner import SIMULATORS


def cmd_sim(args) -> int:
    from latte_rtl.design import atomic_write_text

    from .regression import run_regression

    sims = split_list(args.sim, SIMULATORS, "--sim")
    try:
        report = run_regression(args.design_dir, sims=sims, seed=args.seed, rows=args.rows, waves=args.waves)
    except AssertionError as exc:
        print(f"latte-rtl: FAIL: {exc}", file=sys.stderr)
        return 1
    out = Path(args.design_dir) / "sim_report.json"
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    print(f"all {len(report['runs'])} runs passed; report: {out}")
    return 0


def cmd_run(args) -> int:
    import numpy as np

    from latte_rtl.design import load_design
    from latte_rtl.npzio import load_qk, save_result
    from latte_rtl.tops import get_top

    from .runner import prepare_simulator, simulate

    cfg, manifest = load_design(args.design_dir)
    top = get_top(args.top or manifest["default_top"])
    qk = args.qk or default_qk()
    inp = load_qk(qk, cfg.score)  # validate before anything runs
    prepare_simulator(args.sim)
    with tempfile.TemporaryDirectory(prefix="latte-run-") as tmp:
        result = Path(tmp) / "rtl.npz"
        mismatch = None
        try:
            simulate(args.design_dir, [Path(qk)], [result], top=top.name, sim=args.sim, work_dir=Path(tmp),
                     waves=args.waves)
        except AssertionError as exc:
            mismatch = str(exc)
        if not result.is_file():
            print(f"latte-rtl: error: the {args.sim} simulation produced no result: {mismatch}", file=sys.stderr)
            return 1
        out = dict(np.load(result))
        save_result(args.output, out["hh"], out["kept"], out["scores"], out["cycles"],
                    {"params": cfg.params(), "top": top.name, "source": f"rtl/{args.sim}",
                     "tool_versions": manifest["tool_versions"]})
    kept = out["kept"].mean()
    print(f"run ({top.name}, {args.sim}): {inp.q.shape[0]} rows x {inp.n_keys} keys, {kept:.1%} kept, "
          f"{int(out['cycles'].sum())} cycles -> {args.output}")
    if mismatch:
        lines = [line.strip() for line in mismatch.splitlines()]
        first = next((line for line in lines if " row " in line and not line.startswith("assert")), lines[0])
        print(f"latte-rtl: RTL and golden disagree (first mismatch): {first}", file=sys.stderr)
        return 1
    print("RTL matches golden on every row (hh, kept, scores, row records)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("sim", help="cocotb regression of a generated design against golden")
    p.add_argument("design_dir")
    p.add_argument("--sim", default="icarus,verilator", help="simulators (default %(default)s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rows", type=int, default=6, help="query rows per case (default %(default)s)")
    p.add_argument("--waves", action="store_true", help="write waveforms (FST/VCD) under DIR/sim_build")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("run", help="run the generated RTL of a top on your own tensors")
    p.add_argument("design_dir")
    p.add_argument("--qk", default=None,
                   help="input .npz (q, k, thresholds, heads); default: the embedded real dump (lm, d=64)")
    p.add_argument("--top", help="registered top to run (default: the manifest's default_top)")
    p.add_argument("-o", "--output", required=True, help="result .npz")
    p.add_argument("--sim", default="verilator", choices=SIMULATORS)
    p.add_argument("--waves", action="store_true")
    p.set_defaults(func=cmd_run)
