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
from .npzio import atomic_write

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


def default_qk() -> str:
    """The embedded default input: real Q/K of the shipped lm model (layer 1, 4 heads, d = 64)."""
    return str(Path(__file__).resolve().parent / "data" / "default_qk.npz")


def embedded_keep_ratio(cfg: LatteConfig) -> float | None:
    """Kept fraction of the embedded real dump under `cfg` (golden), or None if it does not fit."""
    import golden

    from .npzio import load_qk

    try:
        inp = load_qk(default_qk(), cfg)
    except UserError:
        return None
    return float(golden.score_rows(inp.q, inp.k, inp.heads, inp.thresholds, cfg).kept.mean())


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
        "  engines         " + ", ".join(f"{top} ({e['file']})" for top, e in manifest["engines"].items()),
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
    if args.qk is None:
        args.qk = default_qk()
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
        lines = [line.strip() for line in mismatch.splitlines()]
        first = next((line for line in lines if " row " in line and not line.startswith("assert")), lines[0])
        print(f"latte-rtl: RTL and golden disagree (first mismatch): {first}", file=sys.stderr)
        return 1
    print("RTL matches golden on every row (hh, kept, scores)")
    return 0


def cmd_synth(args) -> int:
    from sim.regression import load_design
    from synth.flows import TARGETS, synthesize
    from synth.report import DEFAULT_KEEP_RATIO, build_report, format_table

    cfg, _ = load_design(args.design_dir)
    targets = _split(args.target, TARGETS, "--target")
    keep = args.keep_ratio
    if keep is None:
        keep = embedded_keep_ratio(cfg) or DEFAULT_KEEP_RATIO
    if not 0.0 <= keep <= 1.0:
        raise UserError(f"--keep-ratio={keep} is out of range: expected 0 ≤ R ≤ 1")
    print(f"synthesizing latte + dense for {', '.join(targets)} ({args.jobs} parallel flows)...")
    results = synthesize(cfg, Path(args.design_dir), targets, workers=args.jobs)
    report = build_report(cfg, results, keep)
    print(format_table(report))
    out = Path(args.json) if args.json else Path(args.design_dir) / "synth_report.json"
    text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    atomic_write(out, lambda f: f.write(text.encode()))
    print(f"report: {out}")
    failed = [f"{k}/{t}" for k in ("latte", "dense") for t, r in report[k].items() if "error" in r]
    if failed:
        print(f"latte-rtl: some flows failed: {', '.join(failed)} (reasons in the report)", file=sys.stderr)
        return 1
    return 0


def cmd_sweep(args) -> int:
    from synth.flows import TARGETS
    from synth.sweep import parse_grid, run_sweep

    grid = parse_grid(args)
    targets = _split(args.target, TARGETS, "--target")
    out = Path(args.output)
    n = 1
    for values in grid.values():
        n *= len(values)
    print(f"sweep: {n} points x {', '.join(targets)}, {args.jobs} workers, cache {out / 'cache'}")
    rows = run_sweep(grid, targets, out, jobs=args.jobs, keep_ratio=args.keep_ratio)
    for r in rows:
        if r["status"] == "ok":
            print(f"  point {r['point']:2d} lanes={r['lanes']:<3} msb={r['msb_bits']} dim={r['dim']}: LATTE "
                  f"{r['latte_transistors']} / dense {r['dense_transistors']} transistors, throughput/area "
                  f"x{r['throughput_per_area_ratio']:.2f} at keep {args.keep_ratio:.2f}"
                  + (" (cached)" if r["cached"] else ""))
        else:
            print(f"  point {r['point']:2d} FAILED: {r['error']}")
    print(f"wrote {out / 'sweep.csv'}, {out / 'sweep.json'} and PNG plots in {out}/")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def cmd_flow(args) -> int:
    """The main job: generate → short cocotb simulation → synth → comparison table + plots."""
    from sim.regression import run_regression
    from synth.flows import synthesize
    from synth.plots import plot_design
    from synth.report import DEFAULT_KEEP_RATIO, build_report, format_table

    from .emit import generate

    out = Path(args.output)
    cfg = _config(args)
    print("1/3 generate")
    manifest = generate(cfg, out)
    print(manifest_summary(manifest))
    print(f"2/3 simulate ({args.sim}, both engines, bit-exact against golden)")
    try:
        report = run_regression(out, sims=(args.sim,), seed=1, rows=2)
    except AssertionError as exc:
        print(f"latte-rtl: FAIL: {exc}", file=sys.stderr)
        return 1
    ratio = [r for r in report["runs"] if "cycle_ratio" in r][0]["cycle_ratio"]
    print(f"  cycles measured/ideal (model beats*(N+3*kept)) = {ratio:.3f} on the regression cases")
    keep = DEFAULT_KEEP_RATIO
    if embedded_keep_ratio(cfg) is not None:
        print("  real data: the RTL on the embedded lm dump (layer 1, 4 heads, 64 queries x 192 keys)")
        if cmd_run(argparse.Namespace(design_dir=str(out), qk=None, output=str(out / "embedded_result.npz"),
                                      sim=args.sim, waves=False)) != 0:
            return 1
        import numpy as np

        res = np.load(out / "embedded_result.npz")
        keep = float(res["kept"].mean())
    targets = ["generic", "ecp5"]
    print(f"3/3 synthesize ({', '.join(targets)}); throughput compared at keep ratio {keep:.3f}")
    results = synthesize(cfg, out, targets, workers=2)
    synth = build_report(cfg, results, keep)
    synth["cycle_ratio_measured"] = ratio
    (out / "synth_report.json").write_text(json.dumps(synth, indent=2, sort_keys=True) + "\n")
    print(format_table(synth))
    plots = plot_design(synth, out)
    print("wrote " + ", ".join(str(p) for p in [out / "synth_report.json", *plots]))
    return 0


def cmd_evaluate(args) -> int:
    from .workloads.evaluate import evaluate, format_table, plot_curve

    limit = args.samples
    if limit is not None and limit < 1:
        raise UserError(f"--samples={limit} is out of range: expected ≥ 1")
    print(f"evaluate {args.workload} (NumPy inference, LATTE arithmetic through golden/)")
    result = evaluate(args.workload, limit=limit, calib_limit=args.calib_samples, curve=not args.no_curve)
    print(format_table(result))
    print(f"best LATTE setting: {result['best_setting']}: {result['keys_filtered']:.1%} keys filtered, "
          f"{result['metric']} {result['latte']:.4f} vs int8 dense {result['baseline']:.4f}")
    if args.json:
        text = json.dumps(result, indent=2) + "\n"
        atomic_write(Path(args.json), lambda f: f.write(text.encode()))
        print(f"wrote {args.json}")
    if args.plot and "curve" in result:
        plot_curve(result, Path(args.plot))
        print(f"wrote {args.plot}")
    return 0


def cmd_calibrate(args) -> int:
    from .npzio import load_qk
    from .workloads.dump import calibrate

    if (args.keep is None) == (args.gamma is None):
        raise UserError("give exactly one of --keep R (keep-ratio target) or --gamma G (LATTE's γ)")
    cfg = _design_config(args)
    inp = load_qk(args.qk, cfg)
    result = calibrate(inp, cfg, keep=args.keep, gamma=args.gamma)
    text = json.dumps(result, indent=2) + "\n"
    atomic_write(Path(args.output), lambda f: f.write(text.encode()))
    print(f"thresholds {result['thresholds']} ({cfg.threshold_mode}): kept {result['kept_fraction_all']:.1%} "
          f"of the dump's keys -> {args.output}")
    return 0


def cmd_dump(args) -> int:
    import numpy as np

    from .workloads.dump import dump_qk

    arrays = dump_qk(args.workload, layer=args.layer, rows=args.rows, keys=args.keys, sample=args.sample)
    atomic_write(Path(args.output), lambda f: np.savez_compressed(f, **arrays))
    print(f"dump {args.workload} layer {args.layer}: q {list(arrays['q'].shape)}, k {list(arrays['k'].shape)}, "
          f"thresholds {arrays['thresholds'].tolist()} -> {args.output} (use --dim {arrays['q'].shape[1]})")
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
    p.add_argument("--qk", default=None,
                   help="input .npz (q, k, thresholds, heads); default: the embedded real dump (lm, d=64)")
    p.add_argument("-o", "--output", required=True, help="result .npz")
    p.add_argument("--sim", default="verilator", choices=("icarus", "verilator"))
    p.add_argument("--waves", action="store_true")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("synth", help="area / fmax of both engines with Yosys + nextpnr")
    p.add_argument("design_dir")
    p.add_argument("--target", default="generic,ecp5", help="generic, ice40, ecp5 (default %(default)s)")
    p.add_argument("--keep-ratio", type=float, default=None,
                   help="keep ratio for the throughput comparison (default: the kept fraction of the "
                        "embedded real dump when it fits the design, else 0.10)")
    p.add_argument("--json", help="report file (default DIR/synth_report.json)")
    p.add_argument("--jobs", type=int, default=2, help="flows run in parallel (default %(default)s)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("sweep", help="synthesize a grid of designs; CSV, JSON and PNG plots")
    for name in ("bits", "msb_bits", "dim", "lanes", "heads", "max_keys", "threshold_mode"):
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, help="comma-separated values")
    p.add_argument("--target", default="generic", help="generic, ice40, ecp5 (default %(default)s)")
    p.add_argument("--keep-ratio", type=float, default=0.10)
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default %(default)s)")
    p.add_argument("-o", "--output", default="build/sweep", help="output directory (default %(default)s)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("evaluate", help="quality vs keys filtered on the shipped trained models")
    p.add_argument("--workload", required=True, choices=("lm", "vision"))
    p.add_argument("--samples", type=int, default=None, help="held-out windows / images (default: lm 64 of 256, vision all 360)")
    p.add_argument("--calib-samples", type=int, default=None, help="calibration windows / images (default: lm 32, vision 256)")
    p.add_argument("--no-curve", action="store_true", help="skip the trade-off curve")
    p.add_argument("--json", help="write the result JSON here")
    p.add_argument("--plot", help="write the trade-off PNG here")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("calibrate", help="per-head thresholds from a Q/K dump")
    _add_config_options(p)
    p.add_argument("--design", help="take the parameters from this generated design directory instead")
    p.add_argument("--qk", required=True, help="input .npz (SPEC §6; scale_q/scale_k needed for --gamma)")
    p.add_argument("--keep", type=float, help="keep-ratio target per head, 0 < R ≤ 1")
    p.add_argument("--gamma", type=float, help="LATTE's γ (keep p ≥ γ·max p), 0 < γ < 1")
    p.add_argument("-o", "--output", required=True, help="thresholds JSON")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("dump", help="real Q/K rows of a shipped model in the input format")
    p.add_argument("--workload", required=True, choices=("lm", "vision"))
    p.add_argument("--layer", type=int, default=1)
    p.add_argument("--rows", type=int, default=16, help="query rows per head (lm)")
    p.add_argument("--keys", type=int, default=192, help="keys per head (lm)")
    p.add_argument("--sample", type=int, default=0, help="held-out window / test image")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_dump)

    p = sub.add_parser("flow", help="main job: generate, simulate, synthesize, compare, plot")
    _add_config_options(p)
    p.add_argument("--sim", default="verilator", choices=("icarus", "verilator"))
    p.add_argument("-o", "--output", default="build/flow", help="output directory (default %(default)s)")
    p.set_defaults(func=cmd_flow)
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
