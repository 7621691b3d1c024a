"""Commands `generate` (Verilog of every top + manifest) and `golden` (the golden model of a top
on an attention input)."""

from __future__ import annotations

from ..buses import BUSES
from ..cli.common import (
    add_config_options,
    add_design_argument,
    config_from_args,
    design_config_from_args,
    given_config_options,
)
from ..config import LatteConfig
from ..errors import UserError


def design_config(args) -> LatteConfig:
    """The design's config with --design DIR (then no parameter option may be given), else the options'."""
    if getattr(args, "design", None):
        from . import load_design

        given = given_config_options(args)
        if given:
            names = ", ".join(f"--{n.replace('_', '-')}" for n in given)
            raise UserError(f"{names} cannot be combined with --design: the parameters come from the design's manifest")
        return load_design(args.design)[0]
    return config_from_args(args)


def _latte_model(p: dict, beats: int) -> str:
    """The LATTE row's cycle formula for the summary (golden/cycles.py), r = lanes / C."""
    c = p.get("completion_lanes") or 0
    if not c:
        if p.get("rounds") == 2:
            return f"{beats} × (N + S + 3 × kept), S: the keys that pass the first round"
        return f"{beats} × (N + 3 × kept)"
    r = p["lanes"] // c
    if p["threshold_mode"] == "relative":
        return f"max({beats} × (N + kept), {3 * beats * r} × kept) between rows overlapped (golden.score_overlap)"
    return f"max({beats} × (N + kept), {3 * beats * r} × kept) (kept keys spread)"


def manifest_summary(manifest: dict) -> str:
    p, d = manifest["params"], manifest["derived"]
    array, model = _cost_lines(p, d, manifest)
    lines = [
        f"design  bits={p['bits']} msb_bits={p['msb_bits']} dim={p['dim']} lanes={p['lanes']} heads={p['heads']} "
        f"max_keys={p['max_keys']}",
        f"        mode={p['threshold_mode']} cycle_counter_bits={p['cycle_counter_bits']} monitor={p['monitor']}"
        + (" rounds=2" if p.get("rounds") == 2 else ""),
        array,
        f"  widths          HH {d['hh_width']}b  HL/LH {d['hl_width']}b  LL {d['ll_width']}b  "
        f"score {d['score_width']}b  accumulator {d['accumulator_width']}b",
        f"  threshold       {d['threshold_width']}b {'signed' if d['threshold_signed'] else 'unsigned'}, "
        f"range {d['threshold_range'][0]}..{d['threshold_range'][1]} "
        + (f"(maxHH {d['max_hh']})" if p.get("estimate", "hh") == "hh"
           else f"(estimate {p['estimate']} E {d['estimate_width']}b, max |E| {d['max_estimate']})"),
        model,
        *(f"  {'tops' if i == 0 else '':16s}{name} ({t['file']})"
          for i, (name, t) in enumerate(manifest["tops"].items())),
    ]
    if p["attention"]:
        lines.insert(-len(manifest["tops"]), f"  softmax, P·V    F={p['exp_frac_bits']} P={p['exp_bits']} "
                         f"B={p['prob_bits']} "
                         f"R={p['scale_shift']} M_h {p['mult_bits']}b, {p['prob_format']}"
                         + (f" L={p['log_levels']}" if p["prob_format"] == "log2" else "")
                         + (", vmean" if p["vmean"] else "")
                         + (f", P·V {d['pv_width']} lanes" if "pv_width" in d else ""))
    return "\n".join(lines)


def _cost_lines(p: dict, d: dict, manifest: dict) -> tuple[str, str]:
    """The array and cycle-model lines: the on-chip tops' lanes and beats, or the decode tops' memory side
    (an external bus, buses/)."""
    bus = BUSES[p["kv_memory"]]
    if bus.external:
        mem = manifest["memory_layout"]
        rows = ", ".join(f"{name} {plane['row_bytes']} B" for name, plane in mem["planes"].items())
        return (f"  multipliers     {p['group']} x {p['dim']} x {d['nibble_width']}b signed per key row "
                f"(G query rows × d, one key row a cycle)",
                f"  memory          {bus.memory_summary(p)}; row bytes {rows}; kept buffer {p['kept_buffer']}")
    return (f"  multipliers     {p['lanes']} x {d['nibble_width']}b signed "
            f"(dense baseline: {p['lanes']} x {p['bits']}b)",
            f"  cycle model     {d['beats']} beat(s)/key: LATTE cycles/row ≈ {_latte_model(p, d['beats'])}, "
            f"dense {d['beats']} × N")


def cmd_generate(args) -> int:
    from .emit import generate
    from .files import check_output_dir, private_tmpdir

    cfg = design_config_from_args(args)
    check_output_dir(args.output)
    with private_tmpdir("latte-generate-"):     # yowasp's yowasp_* directories, removed on a signal too
        manifest = generate(cfg, args.output, prefix=args.prefix, interface=args.interface, force=args.force)
    print(manifest_summary(manifest))
    print(f"  written to      {args.output}/")
    return 0


def cmd_golden(args) -> int:
    from ..npzio import load_qk, load_thresholds_json, save_result
    from ..tops import default_top, get_top, tops_for
    from .files import check_output_file
    from .manifest import design_inputs

    cfg = design_config(args)
    top = get_top(default_top(cfg) if args.top is None else args.top)
    if top not in tops_for(cfg):
        raise UserError(f"--top {top.name} is not generated for these parameters: expected one of "
                        f"{', '.join(t.name for t in tops_for(cfg))} (the attention tops need attention on, the "
                        "decode tops an external --kv-memory)")
    check_output_file(args.output, "-o", {"the input --qk": args.qk, "the input --thresholds": args.thresholds,
                                          **design_inputs(args.design)})
    thresholds = load_thresholds_json(args.thresholds, cfg.score) if args.thresholds else None
    inp = load_qk(args.qk, cfg.score, thresholds)
    res = top.expected(inp, cfg)
    save_result(args.output, res, {"params": cfg.params(), "top": top.name, "source": "golden"})
    kept = res["kept"].mean()
    print(f"golden ({top.name}): {inp.q.shape[0]} rows x {inp.n_keys} keys, {kept:.1%} kept "
          f"({1 - kept:.1%} filtered) -> {args.output}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("generate", help="write the Verilog of every top + manifest.json")
    add_config_options(p)
    p.add_argument("--prefix", default="", help="start every module name (and file) with this, so that several "
                                                "designs compile together, e.g. cfg_a_ (default: none)")
    p.add_argument("--interface", choices=("native", "axis"), default="native",
                   help="native valid/ready streams (default), or axis: every top as <top>_axis behind AXI-Stream "
                        "ports and an AXI4-Lite register block")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--force", action="store_true", help="replace another design in the output directory (the "
                                                        "files its manifest lists that this design does not write)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("golden", help="run the NumPy golden model of a top on an attention input .npz")
    add_design_argument(p, "take the parameters from this generated design directory (else the options below)")
    add_config_options(p)
    p.add_argument("--top", help="registered top whose golden function runs (default: the design's default top, "
                                 "the manifest's default_top: the LATTE decode top of a decode design, else the LATTE "
                                 "attention top with --attention, else latte_score_engine)")
    p.add_argument("--qk", required=True, help="input .npz (q, k, thresholds, heads)")
    p.add_argument("--thresholds", help="thresholds JSON (as `latte-rtl calibrate` writes) replacing the input's")
    p.add_argument("-o", "--output", required=True, help="result .npz")
    p.set_defaults(func=cmd_golden)
