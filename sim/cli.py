"""Commands `sim` (cocotb regression of a design) and `run` (the RTL of a top on your tensors)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from latte_rtl.cli.common import default_qk, int_at_least, split_list
from latte_rtl.errors import UserError

from .runner import SIMULATORS

WAVE_SUFFIX = {"icarus": ".fst", "verilator": ".vcd"}


def _checked_design(args, tops=None):
    """(config, manifest) of the design, its files checked against the manifest's SHA-256s."""
    from latte_rtl.design import load_design, verify_design

    cfg, manifest = load_design(args.design_dir)
    modified = verify_design(args.design_dir, manifest, tops, allow_modified=args.allow_modified)
    if modified:
        print(f"latte-rtl: warning: using modified {', '.join(modified)} (--allow-modified)", file=sys.stderr)
    return cfg, manifest


def cmd_sim(args) -> int:
    from latte_rtl.design import atomic_write_text

    from .regression import run_regression

    sims = split_list(args.sim, SIMULATORS, "--sim")
    _checked_design(args)
    try:
        report = run_regression(args.design_dir, sims=sims, seed=args.seed, rows=args.rows, waves=args.waves)
    except AssertionError as exc:
        print(f"latte-rtl: FAIL: {exc}", file=sys.stderr)
        return 1
    out = Path(args.design_dir) / "sim_report.json"
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    print(f"all {len(report['runs'])} runs passed; report: {out}")
    for run in report["runs"]:
        if "waves" in run:
            print(f"  waves {run['top']} {run['sim']} {run['traffic']}: {run['waves']}")
    return 0


def _first_mismatch(message: str) -> str:
    lines = [line.strip() for line in message.splitlines()]
    return next((line for line in lines if " row " in line and not line.startswith("assert")), lines[0])


def cmd_run(args) -> int:
    from latte_rtl.design import check_output_file
    from latte_rtl.npzio import load_qk, load_thresholds_json
    from latte_rtl.tops import get_top

    from .runner import prepare_simulator, simulate

    cfg, manifest = _checked_design(args)
    top = get_top(manifest["default_top"] if args.top is None else args.top)
    if top.name not in manifest["tops"]:
        raise UserError(f"--top {top.name} is not part of this design: expected one of {', '.join(manifest['tops'])}")
    output = check_output_file(args.output)
    if args.waves:
        check_output_file(args.waves, "--waves")
        if Path(args.waves).suffix != WAVE_SUFFIX[args.sim]:
            raise UserError(f"--waves {args.waves}: {args.sim} writes {WAVE_SUFFIX[args.sim]} waveforms: name the file "
                            f"*{WAVE_SUFFIX[args.sim]}")
    thresholds = load_thresholds_json(args.thresholds, cfg.score) if args.thresholds else None
    qk = args.qk or default_qk()
    inp = load_qk(qk, cfg.score, thresholds)  # validate before anything runs
    if top.attention:
        from latte_rtl.npzio import load_attention

        load_attention(inp, cfg)
    prepare_simulator(args.sim)
    with tempfile.TemporaryDirectory(prefix="latte-run-") as tmp:
        source, result = Path(tmp) / "input.npz", Path(tmp) / "rtl.npz"
        _write_input(source, inp)
        mismatch, info = None, {}
        try:
            info = simulate(args.design_dir, [source], [result], top=top.name, sim=args.sim, waves=bool(args.waves))
        except AssertionError as exc:
            mismatch = str(exc)
        if not result.is_file():
            print(f"latte-rtl: error: the {args.sim} simulation produced no result: {mismatch}", file=sys.stderr)
            return 1
        written = _save(result, output if not mismatch else output.with_name(f"{output.stem}.mismatch.npz"),
                        cfg, top, args.sim, manifest)
        if args.waves and info.get("waves"):
            shutil.copyfile(info["waves"], args.waves)
    print(f"run ({top.name}, {args.sim}): {inp.q.shape[0]} rows x {inp.n_keys} keys, {written['kept']:.1%} kept, "
          f"{written['cycles']} cycles -> {written['path']}" + ("" if info.get("built", True) else " (cached model)"))
    if mismatch:
        print(f"latte-rtl: RTL and golden disagree (first mismatch): {_first_mismatch(mismatch)}; the RTL's result "
              f"is in {written['path']}, {args.output} was not written", file=sys.stderr)
        return 1
    print("RTL matches golden on every row (" + ("out, probs, " if top.attention else "") +
          "hh, kept, scores, row records)")
    return 0


def _write_input(path: Path, inp) -> None:
    """The validated input (thresholds replaced by --thresholds) for the testbench."""
    import numpy as np

    np.savez(path, q=inp.q, k=inp.k, heads=inp.heads, thresholds=inp.thresholds, key_limit=inp.key_limit,
             **{name: inp.extras[name] for name in ("v", "softmax_mult", "denominator_comp") if name in inp.extras})


def _save(result: Path, output: Path, cfg, top, sim: str, manifest: dict) -> dict:
    import numpy as np

    from latte_rtl.npzio import save_result

    out = dict(np.load(result))
    save_result(output, out, {"params": cfg.params(), "top": top.name, "source": f"rtl/{sim}",
                              "tool_versions": manifest["tool_versions"]})
    return {"path": output, "kept": float(out["kept"].mean()), "cycles": int(out["cycles"].sum())}


def register(sub) -> None:
    p = sub.add_parser("sim", help="cocotb regression of a generated design against golden")
    p.add_argument("design_dir")
    p.add_argument("--sim", default="icarus,verilator", help="simulators (default %(default)s)")
    p.add_argument("--seed", type=int_at_least("--seed", 0), default=1, help="stimulus seed, ≥ 0")
    p.add_argument("--rows", type=int_at_least("--rows", 1), default=6, help="query rows per case, ≥ 1 (default %(default)s)")
    p.add_argument("--waves", action="store_true",
                   help="keep one waveform per run: DIR/sim_build/waves/<top>.<sim>.<traffic>.fst|vcd")
    p.add_argument("--allow-modified", action="store_true", help="simulate Verilog edited after generation")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("run", help="run the generated RTL of a top on your own tensors")
    p.add_argument("design_dir")
    p.add_argument("--qk", default=None,
                   help="input .npz (q, k, thresholds, heads); default: the embedded real dump (lm, d=64)")
    p.add_argument("--thresholds", help="thresholds JSON (as `latte-rtl calibrate` writes) replacing the input's")
    p.add_argument("--top", help="registered top to run (default: the manifest's default_top)")
    p.add_argument("-o", "--output", required=True,
                   help="result .npz, written only if the RTL matches golden (else beside it as *.mismatch.npz)")
    p.add_argument("--sim", default="verilator", choices=SIMULATORS)
    p.add_argument("--waves", metavar="FILE", help="keep the run's waveform here (.fst with icarus, .vcd with verilator)")
    p.add_argument("--allow-modified", action="store_true", help="run Verilog edited after generation")
    p.set_defaults(func=cmd_run)
