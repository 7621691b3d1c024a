"""latte-rtl command line: generate, golden, sim, run, synth, sweep.

Every user error prints one line `latte-rtl: error: ...` on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from .config import THRESHOLD_MODES, LatteConfig
from .errors import UserError

DEFAULTS = LatteConfig()


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage + message otherwise)
        raise UserError(message)


def _add_config_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("design parameters")
    g.add_argument("--bits", type=int, default=DEFAULTS.bits, help="operand width, 4..16 (default %(default)s)")
    g.add_argument("--msb-bits", type=int, default=DEFAULTS.msb_bits,
                   help="MSB width used by the estimate, 1..bits-1 (default %(default)s)")
    g.add_argument("--dim", type=int, default=DEFAULTS.dim, help="head dimension, 1..1024 (default %(default)s)")
    g.add_argument("--lanes", type=int, default=DEFAULTS.lanes, help="multipliers, 1..dim (default %(default)s)")
    g.add_argument("--heads", type=int, default=DEFAULTS.heads, help="threshold registers, 1..64 (default %(default)s)")
    g.add_argument("--max-keys", type=int, default=DEFAULTS.max_keys,
                   help="key store depth in keys, 1..65536 (default %(default)s)")
    g.add_argument("--threshold-mode", choices=THRESHOLD_MODES, default=DEFAULTS.threshold_mode,
                   help="relative (LATTE, keep HH >= max-T) or absolute (Top-θ, keep HH >= T)")


def _config(args) -> LatteConfig:
    return LatteConfig(bits=args.bits, msb_bits=args.msb_bits, dim=args.dim, lanes=args.lanes, heads=args.heads,
                       max_keys=args.max_keys, threshold_mode=args.threshold_mode)


def manifest_summary(manifest: dict) -> str:
    p, d = manifest["params"], manifest["derived"]
    lines = [
        f"LATTE score engine  bits={p['bits']} msb_bits={p['msb_bits']} dim={p['dim']} lanes={p['lanes']} "
        f"heads={p['heads']} max_keys={p['max_keys']} mode={p['threshold_mode']}",
        f"  multipliers     {p['lanes']} x {d['nibble_width']}b signed (dense baseline: {p['lanes']} x {p['bits']}b)",
        f"  widths          HH {d['hh_width']}b  HL/LH {d['hl_width']}b  LL {d['ll_width']}b  "
        f"score {d['score_width']}b  accumulator {d['accumulator_width']}b",
        f"  threshold       {d['threshold_width']}b {'signed' if d['threshold_signed'] else 'unsigned'}, "
        f"range {d['threshold_range'][0]}..{d['threshold_range'][1]} (maxHH {d['max_hh']})",
        f"  cycle model     {d['beats']} beat(s)/key: cycles/row ≈ {d['beats']} × (N + 3 × kept)",
        f"  engines         " + ", ".join(f"{top} ({e['file']})" for top, e in manifest["engines"].items()),
    ]
    return "\n".join(lines)


# --- commands ----------------------------------------------------------------------------------
def cmd_generate(args) -> int:
    from .emit import generate

    cfg = _config(args)
    manifest = generate(cfg, args.output)
    print(manifest_summary(manifest))
    print(f"  written to      {args.output}/")
    return 0


def cmd_golden(args) -> int:
    import golden

    from .npzio import load_qk, save_result

    cfg = _design_config(args)
    inp = load_qk(args.qk, cfg)
    res = golden.score_rows(inp.q, inp.k, inp.heads, inp.thresholds, cfg)
    save_result(args.output, res.hh, res.kept, res.scores, res.cycles, {"params": cfg.params(), "source": "golden"})
    kept = res.kept.sum() / res.kept.size
    print(f"golden: {inp.q.shape[0]} rows x {inp.n_keys} keys, {kept:.1%} kept ({1 - kept:.1%} filtered) "
          f"-> {args.output}")
    return 0


def _design_config(args) -> LatteConfig:
    if getattr(args, "design", None):
        from sim.regression import load_design

        return load_design(args.design)[0]
    return _config(args)


def cmd_sim(args) -> int:
    from sim.regression import run_regression

    sims = _split(args.sim, ("icarus", "verilator"), "--sim")
    try:
        report = run_regression(args.design_dir, sims=sims, seed=args.seed, rows=args.rows, waves=args.waves)
    except AssertionError as exc:
        print(f"latte-rtl: FAIL: {exc}", file=sys.stderr)
        return 1
    out = Path(args.design_dir) / "sim_report.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"all {len(report['runs'])} runs passed; report: {out}")
    return 0


def cmd_run(args) -> int:
    import numpy as np

    from sim.regression import load_design
    from sim.runner import prepare_simulator, simulate

    from .npzio import load_qk, save_result

    cfg, manifest = load_design(args.design_dir)
    inp = load_qk(args.qk, cfg)  # validate before anything runs
    prepare_simulator(args.sim)
    with tempfile.TemporaryDirectory(prefix="latte-run-") as tmp:
        result = Path(tmp) / "rtl.npz"
        mismatch = None
        try:
            simulate(args.design_dir, [Path(args.qk)], [result], top="latte_score_engine", sim=args.sim,
                     work_dir=Path(tmp), waves=args.waves)
        except AssertionError as exc:
            mismatch = str(exc)
        if not result.is_file():
            print(f"latte-rtl: error: the {args.sim} simulation produced no result: {mismatch}", file=sys.stderr)
            return 1
        out = np.load(result)
        save_result(args.output, out["hh"], out["kept"], out["scores"], out["cycles"],
                    {"params": cfg.params(), "source": f"rtl/{args.sim}", "tool_versions": manifest["tool_versions"]})
    kept = out["kept"].sum() / out["kept"].size
    print(f"run ({args.sim}): {inp.q.shape[0]} rows x {inp.n_keys} keys, {kept:.1%} kept, "
          f"{int(out['cycles'].sum())} cycles -> {args.output}")
    if mismatch:
        print(f"latte-rtl: RTL and golden disagree: {mismatch.splitlines()[-1] if mismatch else ''}", file=sys.stderr)
        return 1
    print("RTL matches golden on every row (hh, kept, scores)")
    return 0


def _split(text: str, allowed: tuple[str, ...], option: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    for item in items:
        if item not in allowed:
            raise UserError(f"{option}: unknown value {item!r}: expected a comma-separated list of {', '.join(allowed)}")
    if not items:
        raise UserError(f"{option} is empty: expected a comma-separated list of {', '.join(allowed)}")
    return items


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="latte-rtl", description="Generate, verify and cost LATTE sparse-attention hardware.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("generate", help="write Verilog of both engines + manifest")
    _add_config_options(p)
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("golden", help="run the NumPy golden model on an attention input .npz")
    _add_config_options(p)
    p.add_argument("--design", help="take the parameters from this generated design directory instead")
    p.add_argument("--qk", required=True, help="input .npz (q, k, thresholds, heads)")
    p.add_argument("-o", "--output", required=True, help="result .npz")
    p.set_defaults(func=cmd_golden)

    p = sub.add_parser("sim", help="cocotb regression of a generated design against golden")
    p.add_argument("design_dir")
    p.add_argument("--sim", default="icarus,verilator", help="simulators (default %(default)s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rows", type=int, default=6, help="query rows per case (default %(default)s)")
    p.add_argument("--waves", action="store_true", help="write waveforms (FST/VCD) under DIR/sim_build")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("run", help="run the generated RTL on your own tensors")
    p.add_argument("design_dir")
    p.add_argument("--qk", required=True, help="input .npz (q, k, thresholds, heads)")
    p.add_argument("-o", "--output", required=True, help="result .npz")
    p.add_argument("--sim", default="verilator", choices=("icarus", "verilator"))
    p.add_argument("--waves", action="store_true")
    p.set_defaults(func=cmd_run)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UserError as exc:
        print(f"latte-rtl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("latte-rtl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
