"""Commands `synth` (cost of every top of a design), `sweep` (a grid of designs) and `flow`
(the main job: generate → simulate → run on real data → synthesize → compare)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from latte_rtl.cli.common import (
    add_config_options,
    add_design_argument,
    add_keep_ratio,
    embedded_keep_ratio,
    int_at_least,
    one_simulator,
    required_design,
    scheduler_address,
    split_list,
)
from latte_rtl.errors import RunFailed, UserError
from latte_rtl.executor import bounded_jobs
from latte_rtl.textfmt import wrap

from .flows import TARGETS
from .report import DEFAULT_KEEP_RATIO


def _synth_report(cfg, manifest, units: list, keep: float, jobs: int, rtl_estimate: bool) -> dict:
    """Every flow of `units` (flows.Unit: the design's tops, and in the main job the right-sized dense engine,
    whose results go under `right_sized_dense`; the tools' temporary files in a private TMPDIR, removed after,
    also on a signal) and its report; `rtl_estimate`: the RTL-activity energy beside the gate-level one."""
    from latte_rtl.design.files import private_tmpdir

    from .flows import synthesize_units
    from .report import build_report
    from .right_sized import KEY

    with private_tmpdir("latte-synth-"):
        results = synthesize_units(units, workers=jobs, keep_ratio=keep, rtl_estimate=rtl_estimate)
    right = results.pop(KEY, None)
    report = build_report(cfg, manifest, results, keep)
    if right is not None:
        report["right_sized_dense"] = right
    return report


def cmd_synth(args) -> int:
    from latte_rtl.design import atomic_write_text, check_output_file, load_design, verify_design
    from latte_rtl.design.cli import manifest_summary
    from latte_rtl.design.files import check_writable_dir
    from latte_rtl.design.manifest import design_inputs
    from latte_rtl.report_html import Section, Text, write_report

    from .flows import Unit
    from .report import failed_flows, format_table, html_sections

    design = Path(required_design(args))
    cfg, manifest = load_design(design)
    verify_design(design, manifest, allow_modified=args.allow_modified)
    check_writable_dir(design, "the synthesis files")
    targets = split_list(args.target, TARGETS, "--target")
    own = design_inputs(design, manifest)
    out = check_output_file(Path(args.json) if args.json else design / "synth_report.json", "--json", own)
    html = check_output_file(Path(args.html) if args.html else design / "report.html", "--html",
                             {**own, "--json": out})
    keep = args.keep_ratio
    if keep is None:
        keep = embedded_keep_ratio(cfg) or DEFAULT_KEEP_RATIO
    jobs = bounded_jobs(args.jobs, len(manifest["tops"]) * len(targets), "flows", "--jobs")
    print(f"synthesizing {', '.join(manifest['tops'])} for {', '.join(targets)} ({jobs} parallel flows)...")
    units = [Unit(cfg, design, name, tuple(targets)) for name in manifest["tops"]]
    report = _synth_report(cfg, manifest, units, keep, jobs, rtl_estimate=True)
    print(format_table(report))
    atomic_write_text(out, json.dumps(report, indent=2, sort_keys=True) + "\n", "--json")
    write_report(html, f"latte-rtl synth: {design}", [
        Section("Design", [Text(manifest_summary(manifest))]), *html_sections(report)])
    print(f"report: {out}, {html}")
    failed = failed_flows(report)
    if failed:
        print(f"latte-rtl: some flows failed: {', '.join(failed)} (reasons in the report)", file=sys.stderr)
        return 1
    return 0


def cmd_sweep(args) -> int:
    from latte_rtl.design import check_output_dir

    from .sweep import parse_grid, sweep

    grid = parse_grid(args)
    targets = split_list(args.target, TARGETS, "--target")
    out = check_output_dir(args.output)
    n = 1
    for values in grid.values():
        n *= len(values)
    jobs = args.jobs if args.scheduler else bounded_jobs(args.jobs, n, "points", "--jobs")
    where = f"Dask cluster {args.scheduler}" if args.scheduler else f"{jobs} workers"
    print(f"sweep: {n} points x {', '.join(targets)}, {where}, cache {out / 'cache'}")
    rows, plots = sweep(grid, targets, out, jobs=jobs, keep_ratio=args.keep_ratio, scheduler=args.scheduler)
    for r in rows:
        if r["status"] != "ok":
            print(wrap(f"  point {r['point']:2d} FAILED: {r['error']}"))
            continue
        print(wrap(f"  point {r['point']:2d} lanes={r['lanes']:<3} msb={r['msb_bits']} dim={r['dim']}: "
                   f"{_point_summary(r)}" + (" (cached)" if r["cached"] else "")))
    print(wrap(f"wrote {out / 'sweep.csv'}, {out / 'sweep.json'}, {out / 'report.html'}"
               + (f" and {len(plots)} PNG plots in {out}/" if plots else " (no plots: no point has results)")))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def cmd_explore(args) -> int:
    import shlex

    from latte_rtl.design import check_output_dir

    from .explore import ENGINES, FAMILIES, OBJECTIVES, Plan, check_plan, explore, knob_table, parse_values
    from .explore import TARGETS as EXPLORE_TARGETS
    from .explore_out import format_text, write_outputs

    target = split_list(args.target, EXPLORE_TARGETS, "--target")
    objective = split_list(args.objective, OBJECTIVES, "--objective")
    for option, values in (("--target", target), ("--objective", objective)):
        if len(values) != 1:
            raise UserError(f"{option} takes one value, not {len(values)}: {', '.join(values)}")
    families = tuple(dict.fromkeys(split_list(args.family, tuple(FAMILIES), "--family")))
    qk, dim, max_keys, keep, heads = _explore_rows(args)
    grids = {}
    for engine, knobs in knob_table().items():  # lanes first: the completion lanes' defaults depend on them
        grid = grids[engine] = {}
        for knob in knobs:
            grid[knob] = parse_values(engine, knob, getattr(args, f"{engine}_{knob}"), dim, grid.get("lanes", ()))
    plan = Plan(dim=dim, max_keys=max_keys, keep=keep, target=target[0], objective=objective[0],
                families=families, grids=grids, qk=qk, heads=heads)
    check_plan(plan)
    out = check_output_dir(args.output)
    n = len(plan.points())
    jobs = args.jobs if args.scheduler else bounded_jobs(args.jobs, n, "points", "--jobs")
    where = f"Dask cluster {args.scheduler}" if args.scheduler else f"{jobs} workers"
    rows = f"rows of {qk} (keep {keep:.4g} as its thresholds give)" if qk else f"the cycle model at keep {keep:g}"
    print(wrap(f"explore: {n} points ({', '.join(families)} x {', '.join(ENGINES)}), {plan.target}, objective "
               f"{plan.objective}, throughput on {rows}, {where}, cache {out / 'cache'}"))
    points, summary = explore(plan, out, jobs=jobs, scheduler=args.scheduler)
    print(format_text(points, summary))
    command = "latte-rtl " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(wrap("wrote " + ", ".join(map(str, write_outputs(plan, points, summary, out, command)))))
    return 0 if all(p["status"] == "ok" for p in points) else 1


def _explore_rows(args) -> tuple[str | None, int, int, float, int | None]:
    """(qk, dim, max_keys, keep, heads) of `explore`. --keep-ratio: the cycle model at that ratio (--dim and
    --max-keys default 64 and 256). --qk FILE: its rows, whose d and N --dim and --max-keys default to (a
    different d or a smaller N is refused), at the keep its thresholds give. Neither: the embedded lm
    dump's rows, unless --dim or --max-keys do not fit them (then the model at the default keep ratio).
    heads: the rows' head count where it is above the design's default (None otherwise)."""
    from latte_rtl.cli.common import default_qk
    from latte_rtl.config import ScoreConfig

    from .explore import reference_keep

    if args.keep is not None and args.qk:
        raise UserError("--qk and --keep-ratio exclude each other: the throughput comes from the file's rows "
                        "or from the model at one keep ratio, not both")
    model = (None, args.dim or 64, args.max_keys or 256, DEFAULT_KEEP_RATIO if args.keep is None else args.keep,
             None)
    if args.keep is not None:
        return model
    qk = args.qk or default_qk()
    d, n, h = _rows_shape(qk)
    if not args.qk and (args.dim not in (None, d) or (args.max_keys or n) < n):
        return model
    if args.dim not in (None, d):
        raise UserError(f"--dim {args.dim} does not match the rows of {qk}: their d is {d} (leave --dim out)")
    max_keys = args.max_keys or n
    if max_keys < n:
        raise UserError(f"--max-keys {max_keys} is below the {n} keys of {qk}: expected at least {n}")
    heads = h if h > ScoreConfig.heads else None
    base = {"dim": d, "max_keys": max_keys, **({"heads": heads} if heads else {})}
    return qk, d, max_keys, reference_keep(qk, base), heads


def _rows_shape(qk: str) -> tuple[int, int, int]:
    """(d, N, H) of an attention input file (H: its thresholds' heads); UserError if it is not one."""
    import numpy as np

    try:
        with np.load(qk) as z:
            return int(z["q"].shape[-1]), int(z["k"].shape[-2]), int(np.asarray(z["thresholds"]).size)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise UserError(f"--qk {qk} is not an attention input (.npz with 'q' [R, d] and 'k' [N, d] or [H, N, d]): "
                        f"{exc}") from None


def _point_summary(row: dict) -> str:
    """The figures of one sweep point that its targets produced, LATTE and dense side by side."""
    parts = []
    for field, label, spec in (("transistors", "transistors", ""), ("ecp5_fmax_mhz", "ECP5 MHz", ".1f"),
                               ("ihp130_total_um2", "IHP µm²", ",.0f"), ("ihp130_fmax_mhz", "IHP MHz", ".1f"),
                               ("ihp130_pj_per_row", "pJ/row", ",.0f")):
        values = {k[:-len(field) - 1]: v for k, v in row.items() if k.endswith("_" + field) and v is not None}
        if values:
            parts.append(f"{label} " + " / ".join(f"{top} {format(v, spec)}" for top, v in values.items()))
    for key, value in row.items():
        if key.endswith("_ratio") and value is not None and "_vs_" in key and "break_even" not in key:
            parts.append(f"{key} x{value:.2f}")
    return "; ".join(parts)


def cmd_flow(args) -> int:
    """The main job: generate → short cocotb regression → the RTL on every layer of the lm →
    synthesis → the comparison tables, on the terminal and in OUT/report.html."""
    from latte_rtl.cli.common import design_config_from_args
    from latte_rtl.design import check_output_dir, generate
    from latte_rtl.design.cli import manifest_summary
    from latte_rtl.report_html import Paragraph, Section, Table, Text
    from latte_rtl.sim.regression import run_regression
    from latte_rtl.sim.runner import SIMULATORS

    from .report import format_table
    from .right_sized import run_right_sized

    cfg = design_config_from_args(args, attention_default=True)
    targets = split_list(args.target, TARGETS, "--target")
    sim = one_simulator(args.sim, SIMULATORS)
    out = check_output_dir(args.output)
    print("1/4 generate")
    manifest = generate(cfg, out, force=args.force)
    print(wrap(manifest_summary(manifest)))
    sections = [Section("Design", [Text(manifest_summary(manifest))])]
    native = sim == "verilator"      # the native engine: its harness builds serve step 3 too
    print(f"2/4 simulate ({sim}{', native engine' if native else ', cocotb'}, every top, bit-exact against golden)")
    try:
        report = run_regression(out, sims=(sim,), seed=1, rows=2, native=native, log=lambda text: print(wrap(text)))
    except AssertionError as exc:
        raise RunFailed(exc) from None
    ratios = {r["top"]: r["cycle_ratio"] for r in report["runs"] if "cycle_ratio" in r}
    for top, ratio in ratios.items():
        print(f"  {top}: cycles measured/model = {ratio:.3f} on the regression cases")
    sections.append(Section("Simulation", [
        Paragraph(f"Every top bit-exact against golden on {sim} (steady and backpressure traffic)."),
        Table([["top", "cycles measured / model"], *([t, f"{r:.3f}"] for t, r in ratios.items())])]))
    keep, costs, right = DEFAULT_KEEP_RATIO, None, None
    if embedded_keep_ratio(cfg) is not None:
        compared = cfg.attention.attention and not cfg.bus.external
        print(wrap(f"3/4 real data: every top on the whole lm (4 layers x 4 heads x {WHOLE_LM['rows']} queries x "
                   f"{WHOLE_LM['keys']} keys, native engine, 2 processes)"
                   + (", then the right-sized dense attention engine on layer 1" if compared else "")))
        keep, costs, rows, layer1 = _real_data(cfg, manifest, out)
        if costs is None:
            return 1
        sections.append(Section("Real data: the shipped lm, every layer", [Table(rows)]))
        if compared:
            right = run_right_sized(cfg, layer1, out, log=lambda text: print(wrap(text)))
            if right is None:
                return 1
    else:
        print(wrap(f"3/4 real data: skipped, the shipped lm dump (int8, d = 64, 4 heads, {WHOLE_LM['keys']} keys) "
                   "does not fit this design"))
    units = _flow_units(cfg, manifest, out, targets, right)
    plan = "; ".join(f"{unit.name}: {', '.join(unit.targets)}" for unit in units)
    print(wrap(f"4/4 synthesize ({plan}); throughput and energy compared at keep ratio {keep:.3f}"))
    synth = _synth_report(cfg, manifest, units, keep, 2, rtl_estimate=False)
    synth["cycle_ratio_measured"] = ratios
    print(format_table(synth))
    _flow_outputs(synth, costs, right, out, sections)
    return 0


def _flow_units(cfg, manifest: dict, out: Path, targets: list[str], right) -> list:
    """What the main job synthesizes: every top for every target, except ihp130 (gate-level energy, minutes a
    top): beside the right-sized dense engine only on LATTE's attention engine (the product and its best
    baseline; the score engines and the same-lanes dense twin are compared on the other targets)."""
    from .flows import Unit
    from .right_sized import KEY, TOP

    def asic(name: str) -> bool:
        return not right or name == "latte_attention_engine"

    units = [Unit(cfg, out, name, tuple(t for t in targets if t != "ihp130" or asic(name)))
             for name in manifest["tops"]]
    if right:
        units.append(Unit(right.cfg, right.design, TOP, tuple(t for t in targets if t in ("generic", "ihp130")), KEY))
    return units


def _flow_outputs(synth: dict, costs: dict | None, right, out: Path, sections: list) -> None:
    """The end-to-end table, synth_report.json, the plots and report.html of the main job."""
    from latte_rtl.design import atomic_write_text
    from latte_rtl.report_html import Figure, Paragraph, Section, Table, write_report

    from .endtoend import comparison_lines, cost_rows, format_costs
    from .plots import plot_design
    from .report import html_sections

    if costs:
        synth["end_to_end"] = _end_to_end(synth, costs, right)
        print("\nend to end on layer 1 of the lm (the embedded dump; LATTE attention vs dense attention, its "
              "same-lanes twin and right-sized):" if right else
              "\nend to end on layer 1 of the lm (the embedded dump; LATTE attention vs dense attention):")
        print(format_costs(costs, synth["end_to_end"]["comparison"]))
    atomic_write_text(out / "synth_report.json", json.dumps(synth, indent=2, sort_keys=True) + "\n")
    plots = plot_design(synth, out)
    *cost_sections, versions = html_sections(synth)
    sections += cost_sections
    if costs:
        sections.append(Section("End to end on layer 1 of the lm", [
            Table(cost_rows(costs)), *map(Paragraph, comparison_lines(synth["end_to_end"]["comparison"]))]))
    sections.append(Section("Plots", [Figure(p) for p in plots]))
    sections.append(versions)  # tool versions last
    write_report(out / "report.html", f"latte-rtl flow: {out}", sections)
    print(wrap("wrote " + ", ".join(str(p) for p in [out / "synth_report.json", out / "report.html", *plots])))


def _end_to_end(synth: dict, costs: dict, right) -> dict:
    """The report's `end_to_end`: per-row costs of the attention tops (with their generic transistors), the
    right-sized dense engine's beside them, and every comparison (LATTE against the right-sized dense engine
    on ihp130 too: its measured cycles at each top's fmax)."""
    from .endtoend import compare, registered_pairs
    from .report import asic_comparison
    from .right_sized import KEY, TOP, knobs_text

    for name, cost in costs.items():
        cost["transistors"] = synth["tops"].get(name, {}).get("generic", {}).get("transistors")
    if not right:
        return {"per_row": costs, "comparison": compare(costs)}
    costs[KEY] = right.costs
    results = synth.pop("right_sized_dense", {})
    costs[KEY]["transistors"] = results.get("generic", {}).get("transistors")
    comparison = compare(costs, [*registered_pairs(costs), ("latte_attention_engine", KEY)])
    a, b = synth["tops"].get("latte_attention_engine", {}).get("ihp130", {}), results.get("ihp130", {})
    if "total_um2" in a and "total_um2" in b:
        comp = comparison[f"latte_attention_vs_{KEY}"]["ihp130"] = asic_comparison(a, b)
        if a.get("fmax_mhz") and b.get("fmax_mhz"):
            rate = {name: costs[name]["keys_per_cycle"] * r["fmax_mhz"] / r["total_um2"]
                    for name, r in (("latte_attention_engine", a), (KEY, b))}
            comp["keys_per_s_per_mm2_measured_ratio"] = rate["latte_attention_engine"] / rate[KEY]
    return {"per_row": costs, "comparison": comparison,
            "right_sized_dense": {"top": TOP, "design": str(right.design), "knobs": knobs_text(right.cfg),
                                  "params": right.cfg.params(), "synthesis": results}}


WHOLE_LM = {"rows": 16, "keys": 192}  # per head and layer; layer 1 of it is the embedded dump


def _real_data(cfg, manifest: dict, out: Path):
    """Every top on every layer of the shipped lm (`dump --all-layers`, rows sharded over 2
    processes, native engine), checked against golden; returns (the LATTE score top's kept
    fraction, per-row costs of the attention tops), both on layer 1 (the embedded dump), the
    table of runs and layer 1's input; Nones on a mismatch."""
    import time

    import numpy as np

    from latte_rtl.npzio import load_layers
    from latte_rtl.sim.shards import Engine, gather, run_rows
    from latte_rtl.tops import get_top
    from latte_rtl.workloads.dump import dump_all_layers

    from .endtoend import row_costs

    dump = out / "lm_all_layers.npz"
    np.savez(dump, **dump_all_layers("lm", attention=cfg.attention, **WHOLE_LM))
    inputs = load_layers(dump, cfg.score)
    keep, costs = None, {}
    table = [["top", "layers", "rows", "seconds", "rows/s", "layer 1 kept", "layer 1 cycles/row"]]
    for name in manifest["tops"]:
        start = time.perf_counter()
        done = run_rows(out, name, Engine("native"), inputs, jobs=2)
        wall = time.perf_counter() - start
        bad = [d["mismatch"] or "no result" for d in done if d["mismatch"] or d["result"] is None]
        if bad:
            print(f"latte-rtl: RTL and golden disagree on the lm dump: {bad[0]}", file=sys.stderr)
            return None, None, None, None
        raw = gather(done, {layer: inp.q.shape[0] for layer, inp in inputs.items()})
        rows = sum(len(r["cycles"]) for r in raw.values())
        built = ", incl. the harness build" if any(d["built"] for d in done) else ""
        per_row = raw[1]["interval"] if "interval" in raw[1] else raw[1]["cycles"]  # overlapped rows: throughput
        print(wrap(f"  {name}: matches golden on {len(raw)} layers x {rows // len(raw)} rows ({wall:.1f} s{built}, "
                   f"{rows / wall:.0f} rows/s); layer 1: {raw[1]['kept'].mean():.1%} kept, "
                   f"{per_row.mean():.0f} cycles/row"))
        table.append([name, len(raw), rows, f"{wall:.1f}", f"{rows / wall:.0f}", f"{raw[1]['kept'].mean():.1%}",
                      f"{per_row.mean():.0f}"])
        if name == "latte_score_engine":
            keep = float(raw[1]["kept"].mean())
        if get_top(name).attention:
            costs[name] = row_costs(cfg, raw[1])
    return keep, costs, table, inputs[1]


def register(sub) -> None:
    p = sub.add_parser("synth", help="area / fmax of every top with Yosys + nextpnr")
    add_design_argument(p, "generated design directory (its manifest.json and Verilog)")
    p.add_argument("--target", default="generic,ecp5", help="generic, ice40, ecp5, ihp130 (default %(default)s)")
    add_keep_ratio(p, "keep ratio 0..1 for the throughput comparison and the ihp130 energy run's thresholds "
                      "(default: the kept fraction of the embedded real dump when it fits the design, else 0.10)")
    p.add_argument("--json", help="report file (default DIR/synth_report.json)")
    p.add_argument("--html", help="self-contained HTML report: every table, tool versions (default DIR/report.html)")
    p.add_argument("--jobs", type=int_at_least("--jobs", 1), default=2,
                   help="flows run in parallel (default %(default)s; at most one per flow and 2 per CPU core)")
    p.add_argument("--allow-modified", action="store_true", help="synthesize Verilog edited after generation")
    p.set_defaults(func=cmd_synth)

    from .sweep import SWEEPABLE

    p = sub.add_parser("sweep", help="synthesize a grid of designs; CSV, JSON and PNG plots")
    for name in SWEEPABLE:
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, help="comma-separated values")
    p.add_argument("--attention", action="store_true", help="also generate and synthesize the attention tops")
    p.add_argument("--target", default="generic", help="generic, ice40, ecp5, ihp130 (default %(default)s)")
    add_keep_ratio(p, "keep ratio 0..1 for the throughput comparison (default %(default)s)",
                   default=DEFAULT_KEEP_RATIO)
    p.add_argument("--jobs", type=int_at_least("--jobs", 1), default=2,
                   help="worker processes (default %(default)s; at most one per point and 2 per CPU core)")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786", type=scheduler_address,
                   help="run the points on this Dask cluster's workers instead (-o on a filesystem they share)")
    p.add_argument("-o", "--output", default="build/sweep", help="output directory (default %(default)s)")
    p.set_defaults(func=cmd_sweep)

    _register_explore(sub)

    p = sub.add_parser("flow", help="main job: generate, simulate, run on the lm, synthesize, compare LATTE with its "
                                    "same-lanes dense twin and the right-sized dense engine, plot")
    add_config_options(p, defaults={"attention": True})
    p.add_argument("--sim", default="verilator", help="simulator of the regression step, one of icarus, verilator "
                                                      "(default %(default)s)")
    p.add_argument("--target", default="generic,ihp130", help="synthesis targets: generic, ice40, ecp5, ihp130 "
                   "(default %(default)s; where the right-sized dense engine runs, ihp130 runs on it and LATTE's "
                   "attention engine only; add ecp5 for the FPGA figures)")
    p.add_argument("-o", "--output", default="build/flow", help="output directory (default %(default)s)")
    p.add_argument("--force", action="store_true", help="replace another design in the output directory")
    p.set_defaults(func=cmd_flow)


def _register_explore(sub) -> None:
    from .explore import FAMILIES, knob_table

    p = sub.add_parser("explore", help="each engine over its own knobs: Pareto fronts, best-vs-best ratios, "
                                       "JSON and a plot")
    p.add_argument("--qk", metavar="FILE", help="attention input (.npz) whose rows every point's throughput is "
                                                "measured on: its cycle model fed each row's kept and p > 0 counts "
                                                "(default: the embedded lm dump, layer 1, 64 rows x 192 keys)")
    p.add_argument("--dim", type=int_at_least("--dim", 1), help="head dimension d (default: the rows' d; 64 on "
                                                                "the keep-ratio model)")
    p.add_argument("--max-keys", type=int_at_least("--max-keys", 1),
                   help="keys per row N = the key store's size (default: the rows' N; 256 on the keep-ratio model)")
    add_keep_ratio(p, "instead of rows: the cycle model at this keep ratio 0..1 (every kept key with p > 0), also "
                      "the ihp130 energy run's (0.1 where the dimension or the key count given does not fit the "
                      "embedded dump)", dest="keep")
    p.add_argument("--target", default="generic", help="generic (keys/cycle vs transistors) or ihp130 (keys/s vs "
                                                       "mm² incl. SRAM macros) (default %(default)s)")
    p.add_argument("--objective", default="throughput-per-area",
                   help="what the best point maximizes: throughput-per-area, or energy (least pJ per row; "
                        "--target ihp130) (default %(default)s)")
    p.add_argument("--family", default=",".join(FAMILIES),
                   help="engine families: score, attention (comma list, default %(default)s)")
    for engine, knobs in knob_table().items():
        for knob, default in knobs.items():
            shown = ",".join(("on" if v else "off") if isinstance(v, bool) else str(v) for v in default)
            p.add_argument(f"--{engine}-{knob.replace('_', '-')}", dest=f"{engine}_{knob}", metavar="LIST",
                           help=f"the {engine} engine's {knob} values, comma list (default "
                                f"{shown}{'; lanes > --dim left out' if knob == 'lanes' else ''})")
    p.add_argument("--jobs", type=int_at_least("--jobs", 1), default=2,
                   help="worker processes (default %(default)s; at most one per point and 2 per CPU core)")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786", type=scheduler_address,
                   help="run the points on this Dask cluster's workers instead (-o on a filesystem they share)")
    p.add_argument("-o", "--output", default="build/explore", help="output directory; its cache/ makes reruns "
                                                                   "free (default %(default)s)")
    p.set_defaults(func=cmd_explore)
