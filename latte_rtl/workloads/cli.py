"""Commands `evaluate` (quality vs keys filtered on the shipped models), `calibrate` (thresholds
from a dump) and `dump` (real Q/K rows of a shipped model in the input format)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from ..cli.common import (
    add_config_options,
    add_design_argument,
    add_keep_ratio,
    config_from_args,
    given_config_options,
    int_at_least,
    positive_fraction,
    scheduler_address,
)
from ..design import atomic_write, atomic_write_text, check_output_file
from ..design.cli import design_config
from ..design.manifest import design_inputs
from ..errors import UserError
from .dump import ROUND1_RECALL
from .smollm2_eval import KINDS
from .tasks import WORKLOADS

# keys a row keeps in a SmolLM2 decode dump: Top-θ k 64, the quality work's decode setting (+0.68 % on its slice)
DECODE_KEPT = 64


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate, format_table, plot_curve

    integer = None if args.no_integer else config_from_args(args).attention
    if args.json:
        check_output_file(args.json, "--json")
    if args.plot:
        check_output_file(args.plot, "--plot", {"--json": args.json})
        if Path(args.plot).suffix.lower() != ".png":
            raise UserError(f"--plot {args.plot}: the plot is a PNG image: name the file *.png")
        if args.no_curve:
            raise UserError("--plot draws the trade-off curve, which --no-curve skips: give one of them")
    if (args.context is not None or args.settings is not None) and args.workload != "smollm2":
        raise UserError(f"--context and --settings apply to --workload smollm2; {args.workload} has fixed inputs "
                        "and settings")
    if args.scheduler and args.workload != "smollm2":
        raise UserError(f"--scheduler runs the passes of --workload smollm2 on a Dask cluster; {args.workload} "
                        "runs locally (--jobs)")
    _check_samples(args)
    _check_rounds(args)
    fixed = sorted({"bits", "msb_bits"} & set(given_config_options(args)))
    if args.rounds == 2 and fixed:
        raise UserError(f"--{fixed[0].replace('_', '-')} does not apply to evaluate --rounds 2: the workloads are "
                        "int8 with m = 4, so the first round reads their top 2 bits")
    print(f"evaluate {args.workload} (NumPy inference, LATTE arithmetic through golden/)")
    if args.workload == "smollm2":
        return _evaluate_smollm2(args, args.samples, integer)
    result = evaluate(args.workload, limit=args.samples, calib_limit=args.calib_samples, curve=not args.no_curve,
                      integer=integer, jobs=args.jobs, round1_recall=args.round1_recall if args.rounds == 2 else None)
    print(format_table(result))
    print(f"best LATTE setting: {result['best_setting']}: {result['keys_filtered']:.1%} keys filtered, "
          f"{result['metric']} {result['latte']:.4f} vs int8 dense {result['baseline']:.4f}")
    return _write_results(args, result, plot_curve)


def _check_samples(args) -> None:
    """Before any work: --samples and --calib-samples within what the workload's shipped data holds
    (a larger one would be cut to it without a word)."""
    from .tasks import SAMPLE_UNITS, available_samples

    context = args.context or 512
    available = available_samples(args.workload, context)
    for option, value, most, unit in zip(("--samples", "--calib-samples"), (args.samples, args.calib_samples),
                                         available, SAMPLE_UNITS[args.workload]):
        if value is not None and value > most:
            raise UserError(f"{option} {value}: {args.workload} has {most} {unit.format(context=context)}: "
                            f"expected 1 ≤ N ≤ {most}")


def _evaluate_smollm2(args, limit, integer) -> int:
    from dataclasses import replace

    from . import smollm2_eval as ev

    if integer is not None:  # an LLM needs finer probabilities than the default B = 8 (docs/workloads.md, SmolLM2)
        given = given_config_options(args)
        integer = replace(integer, **{k: v for k, v in ev.INTEGER_DEFAULTS.items() if k not in given})
        print(f"§7 pipeline: B={integer.prob_bits} P={integer.exp_bits} F={integer.exp_frac_bits} "
              f"R={integer.scale_shift} {integer.prob_format}")
    result = ev.evaluate_smollm2(limit, args.calib_samples, integer=integer, curve=not args.no_curve, jobs=args.jobs,
                                 scheduler=args.scheduler, seq=args.context or ev.SEQ, kinds=args.settings,
                                 round1_recall=args.round1_recall if args.rounds == 2 else None)
    print(ev.format_table(result))
    print(f"best setting within +{ev.QUALITY_BUDGET:.0%}: {result['best_setting']}: {result['keys_filtered']:.1%} "
          f"keys filtered, perplexity {result['latte']:.4f} vs int8 dense {result['baseline']:.4f} "
          f"({result['seconds']:.0f} s)")
    return _write_results(args, result, lambda r, path: atomic_write(path, lambda f: ev.plot_curve(r, f), "--plot"))


def _write_results(args, result: dict, plot) -> int:
    """evaluate's --json and --plot (both checked before any work); `plot(result, path)` draws the curve."""
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(result, indent=2) + "\n", "--json")
        print(f"wrote {args.json}")
    if args.plot:
        if "curve" not in result:
            raise UserError(f"--plot {args.plot}: {args.workload} gave no trade-off curve, nothing to plot")
        plot(result, Path(args.plot))
        print(f"wrote {args.plot}")
    return 0


def cmd_calibrate(args) -> int:
    from dataclasses import replace

    from ..npzio import load_qk
    from .dump import calibrate

    if sum(x is not None for x in (args.keep_ratio, args.gamma, args.kept)) != 1:
        raise UserError("give exactly one of --keep-ratio R (keep-ratio target), --gamma G (LATTE's γ) or --kept K "
                        "(keys kept per row)")
    design = design_config(args)
    cfg = design.score
    _check_rounds(args, cfg.rounds)
    check_output_file(args.output, "-o", {"the input --qk": args.qk, **design_inputs(args.design)})
    cfg = replace(cfg, rounds=1)  # calibrates T (and with rounds 2 then T1): the input needs no T1
    inp = load_qk(args.qk, replace(cfg, row_thresholds=False))  # per-head T: a row-thresholds host sends each row's
    if args.kept is not None:
        from .dump import calibrate_kept

        result = calibrate_kept(inp, cfg, args.kept)
    else:
        result = calibrate(inp, cfg, keep=args.keep_ratio, gamma=args.gamma)
    if args.comp:
        from .dump import denominator_compensation

        if not design.attention.attention:
            raise UserError("--comp calibrates the attention tops' C_h: add --attention (or use --design of an "
                            "attention design)")
        result["denominator_comp"] = denominator_compensation(inp, design, np.array(result["thresholds"]))
    if args.rounds == 2:
        from .dump import calibrate_round1

        rows = result.get("row_thresholds")  # --kept: each row's T
        result.update(calibrate_round1(inp, cfg, result["thresholds"], args.round1_recall,
                                       None if rows is None else np.array(rows, np.int64)))
    atomic_write_text(Path(args.output), json.dumps(result, indent=2) + "\n")
    comp = f", denominator_comp {result['denominator_comp']}" if args.comp else ""
    per_row = f", {result['kept_per_row_mean']:.1f} keys per row" if args.kept is not None else ""
    print(f"thresholds {result['thresholds']} ({cfg.threshold_mode}, estimate {cfg.estimate}){comp}: kept "
          f"{result['kept_fraction_all']:.1%} of the dump's keys{per_row} -> {args.output}")
    if args.rounds == 2:
        print(f"round 1 ({result['round1_msb_bits']}-bit) thresholds {result['round1_thresholds']}: "
              f"{result['round1_survived_fraction_all']:.1%} of the keys survive it; both rounds keep "
              f"{result['kept_fraction_all_two_rounds']:.1%}, {result['one_round_kept_still_kept']:.2%} of the keys "
              f"one round keeps")
    return 0


def _check_rounds(args, rounds: int | None = None) -> None:
    """--round1-recall only with --rounds 2 (the design parameter, checked with the design; `rounds`: a
    --design's)."""
    args.rounds = rounds or (1 if args.rounds is None else args.rounds)
    if args.rounds not in (1, 2):  # evaluate without the integer pipeline builds no design that would check it
        raise UserError(f"rounds={args.rounds} is out of range: rounds must be an integer 1 ≤ rounds ≤ 2, not "
                        f"{args.rounds}")
    if args.rounds == 1 and args.round1_recall is not None:
        raise UserError("--round1-recall sets the first round of --rounds 2: add --rounds 2")
    if args.round1_recall is None:
        args.round1_recall = ROUND1_RECALL


def add_rounds_options(p) -> None:
    """`--round1-recall` (calibrate, evaluate; `--rounds` is the design parameter: calibrate then adds the
    thresholds T1 per head, evaluate two-round rows beside the calibrated head-wise settings, smollm2's beside
    LATTE k, float softmax)."""
    p.add_argument("--round1-recall", type=positive_fraction("--round1-recall"), default=None, metavar="R",
                   help=f"--rounds 2: the first round's thresholds keep at least this fraction of the keys one round "
                        f"keeps, 0 < R ≤ 1 (default {ROUND1_RECALL})")


def cmd_dump(args) -> int:
    from .dump import dump_all_layers, dump_qk

    cfg = design_config(args)
    _check_dump_fits(args, cfg.score)
    check_output_file(args.output, "-o", design_inputs(args.design))
    attention = cfg.attention
    if args.all_layers and args.layer is not None:
        raise UserError("--layer and --all-layers exclude each other: --all-layers dumps every layer")
    if args.workload == "smollm2":
        return _dump_smollm2(args, cfg)
    if args.kept is not None:
        raise UserError("--kept applies to --workload smollm2 for a decode design (--kv-memory axi)")
    keys = 192 if args.keys is None else args.keys
    common = {"rows": args.rows, "keys": keys, "sample": args.sample, "attention": attention}
    layer = 1 if args.layer is None else args.layer
    arrays = dump_all_layers(args.workload, **common) if args.all_layers else dump_qk(args.workload, layer=layer,
                                                                                       **common)
    if cfg.score.rounds == 2:
        _add_round1_thresholds(arrays, cfg.score)
    atomic_write(Path(args.output), lambda f: np.savez_compressed(f, **arrays))
    if args.all_layers:
        print(f"dump {args.workload} layers {arrays['layers'].tolist()}: q {list(arrays['layer0.q'].shape)}, "
              f"k {list(arrays['layer0.k'].shape)} per layer -> {args.output} "
              f"(use --dim {arrays['layer0.q'].shape[1]})")
        return 0
    print(f"dump {args.workload} layer {layer}: q {list(arrays['q'].shape)}, k {list(arrays['k'].shape)}, "
          f"thresholds {arrays['thresholds'].tolist()} -> {args.output} (a design with --dim {arrays['q'].shape[1]} "
          f"--heads ≥ {len(arrays['thresholds'])} --max-keys ≥ {arrays['k'].shape[-2]})")
    return 0


def _add_round1_thresholds(arrays: dict, cfg) -> None:
    """A rounds-2 design's dump: each layer's T1 (`round1_thresholds`), calibrate --rounds 2's at the default
    recall against the layer's thresholds, on the dumped rows."""
    from dataclasses import replace

    from ..npzio import LAYERS, layer_prefix, load_layers
    from .dump import calibrate_round1

    one_round = replace(cfg, rounds=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dump.npz"
        np.savez(path, **arrays)
        layers = load_layers(path, one_round)
    for layer, inp in layers.items():
        t1 = calibrate_round1(inp, one_round, inp.thresholds, ROUND1_RECALL)["round1_thresholds"]
        name = "round1_thresholds" if LAYERS not in arrays else layer_prefix(layer) + "round1_thresholds"
        arrays[name] = np.array(t1, np.int64)


def _check_dump_fits(args, cfg) -> None:
    """Before any work: the design the dump is for (--design, or --dim/--bits given) can take it. The dump
    is the model's data: int8 q, k, v of the workload's head dim and its thresholds; of the design only
    softmax_mult's F, R and mult_bits change it, so dim and bits must be the dump's, not ignored."""
    from .tasks import HEAD_DIM

    given = given_config_options(args)
    for name, want, why in (("dim", HEAD_DIM[args.workload], f"the {args.workload} dump has head dim "
                                                             f"{HEAD_DIM[args.workload]}"),
                            ("bits", 8, "the dump's q, k and v are int8")):
        value = getattr(cfg, name)
        if value == want or not (args.design or name in given):
            continue
        if args.design:
            raise UserError(f"--design {args.design} has {name} {value}: {why}: generate a design with --{name} "
                            f"{want} (or dump without --design)")
        raise UserError(f"--{name} {value}: {why}: give --{name} {want} or leave it out")


def _dump_smollm2(args, cfg) -> int:
    from .dump import layers_file
    from .smollm2_dump import decode_arrays, dump_smollm2_layers

    decode = cfg.bus.external
    if args.kept is not None and not decode:
        raise UserError("--kept calibrates a decode design's thresholds: give a design with --kv-memory axi")
    layers = None if args.all_layers else [1 if args.layer is None else args.layer]
    keys = 1024 if args.keys is None else args.keys
    dumps = dump_smollm2_layers(layers=layers, keys=keys, rows=args.rows, sample=args.sample,
                                attention=cfg.attention)
    if decode:
        dumps = {i: decode_arrays(a, cfg.score, args.kept or DECODE_KEPT) for i, a in dumps.items()}
    arrays = layers_file(dumps) if args.all_layers else next(iter(dumps.values()))
    atomic_write(Path(args.output), lambda f: np.savez_compressed(f, **arrays))
    first = next(iter(dumps.values()))
    what = f"layers 0..{len(dumps) - 1}" if args.all_layers else f"layer {layers[0]}"
    rows = (f"the decoded token's q {list(first['q'].shape)} (9 query heads, G = 3), thresholds per KV head for "
            f"about {args.kept or DECODE_KEPT} kept keys ({cfg.score.threshold_mode}, {cfg.score.estimate})"
            if decode else f"q {list(first['q'].shape)} (9 query heads)")
    print(f"dump smollm2 {what}: {rows}, k/v {list(first['k'].shape)} (3 KV heads, causal key_limit) -> "
          f"{args.output} (a design with --dim 64 --heads ≥ 3 --max-keys ≥ {first['k'].shape[1]})")
    return 0


def settings_list(text: str) -> list[str]:
    import argparse

    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated kinds from {', '.join(KINDS)}")
    return kinds


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="quality vs keys filtered on the shipped and pretrained models")
    p.add_argument("--workload", required=True, choices=WORKLOADS, help="model: " + ", ".join(WORKLOADS))
    p.add_argument("--samples", type=int_at_least("--samples", 1), default=None,
                   help="held-out windows / images / pairs (default: lm 64 of 256, vision all 360, minilm 100 of 200, "
                        "smollm2 2 of 512 tokens; its whole test text: 66)")
    p.add_argument("--calib-samples", type=int_at_least("--calib-samples", 1), default=None,
                   help="calibration windows / images / documents (default: lm 32, vision 256, minilm 32, "
                        "smollm2 2 of 512 tokens, at most 29)")
    p.add_argument("--context", type=int, choices=(512, 1024, 2048), default=None,
                   help="smollm2: tokens per window (default 512; 1024: 33 test and 14 calibration windows, "
                        "2048: 16 and 7)")
    p.add_argument("--settings", type=settings_list, default=None, metavar="KIND[,KIND]",
                   help="smollm2: run only these settings (int8 dense, the baseline, always runs): "
                        + ", ".join(KINDS))
    p.add_argument("--no-curve", action="store_true", help="skip the trade-off curve")
    p.add_argument("--jobs", type=int_at_least("--jobs", 1), default=1,
                   help="settings evaluated in parallel processes (same results; at most 2 per CPU core)")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786", type=scheduler_address,
                   help="run the passes on this Dask cluster's workers instead (smollm2: one job per setting and "
                        "test window; same results)")
    p.add_argument("--no-integer", action="store_true",
                   help="skip the §7 integer pipeline settings (softmax and P·V parameters: the options below)")
    add_rounds_options(p)
    add_config_options(p)
    p.add_argument("--json", help="write the result JSON here")
    p.add_argument("--plot", help="write the trade-off curve here (a .png file)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("calibrate", help="per-head thresholds from a Q/K dump")
    add_design_argument(p, "take the parameters from this generated design directory (else the options below)")
    add_config_options(p)
    p.add_argument("--qk", required=True, help="input .npz (docs/spec.md §6; scale_q/scale_k needed for --gamma)")
    add_keep_ratio(p, "keep-ratio target per head, 0 < R ≤ 1", above_zero=True)
    p.add_argument("--gamma", type=float, help="LATTE's γ (keep p ≥ γ·max p), 0 < γ < 1")
    p.add_argument("--kept", type=int_at_least("--kept", 1), default=None,
                   help="keys kept per row: per head and per (head, row-length bucket) thresholds, and each row's "
                        "(row_thresholds, for a --row-thresholds design); relative: mean gap to the K-th largest "
                        "estimate, absolute: Top-θ's mean + 0.1σ of the K-th largest")
    p.add_argument("--comp", action="store_true",
                   help="also calibrate Top-θ's denominator compensation C_h (needs softmax_mult in the input)")
    add_rounds_options(p)
    p.add_argument("-o", "--output", required=True, help="thresholds JSON")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("dump", help="real Q/K/V rows of a workload's model in the input format")
    add_design_argument(p, "the design the dump is for: its dim must be the workload's head dim and its bits 8 "
                           "(int8 q, k, v); softmax_mult takes its F, R and mult_bits (else the options')")
    add_config_options(p)
    p.add_argument("--workload", required=True, choices=WORKLOADS, help="shipped model: " + ", ".join(WORKLOADS))
    p.add_argument("--layer", type=int, default=None, help="layer to dump (default 1)")
    p.add_argument("--all-layers", action="store_true",
                   help="every layer into one file: `layers` [L] and each layer's arrays as `layer<i>.<name>`")
    p.add_argument("--rows", type=int, default=None,
                   help="query rows per head (default: lm 16, smollm2 16 (the last positions); vision, minilm every "
                        "token)")
    p.add_argument("--keys", type=int, default=None,
                   help="keys per head (lm, default 192; smollm2: context tokens 1..8192, default 1024; "
                        "minilm: the document's tokens)")
    p.add_argument("--sample", type=int, default=0,
                   help="held-out window / test image / test document (smollm2: the --keys-token window of its text)")
    p.add_argument("--kept", type=int_at_least("--kept", 1), default=None, metavar="K",
                   help=f"smollm2 for a decode design (--kv-memory axi): thresholds per KV head that keep about K "
                        f"keys a row (calibrate --kept's rule in the design's mode and estimate: Top-θ for absolute), "
                        f"calibrated on the --rows positions before the last; the file holds the last position, the "
                        f"token decoded (default {DECODE_KEPT})")
    p.add_argument("-o", "--output", required=True, help="output .npz (the input format of golden and run)")
    p.set_defaults(func=cmd_dump)
