"""Commands `sim` (cocotb regression of a design) and `run` (the RTL of a top on your tensors)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from latte_rtl.cli.common import (
    add_design_argument,
    default_qk,
    fraction,
    int_at_least,
    one_simulator,
    positive_number,
    required_design,
    scheduler_address,
    split_list,
)
from latte_rtl.design.files import check_output_file, check_writable_dir
from latte_rtl.errors import RunFailed, UserError
from latte_rtl.golden.cycles import MEMORY_QUEUE

from .runner import SIMULATORS, prepare_simulator

WAVE_SUFFIX = {"icarus": ".fst", "verilator": ".vcd"}


def _checked_design(args, tops=None):
    """(config, manifest) of the design, its files checked against the manifest's SHA-256s, and
    the design directory writable (the simulator builds are cached in DIR/sim_build/)."""
    from latte_rtl.design import load_design, verify_design

    cfg, manifest = load_design(required_design(args))
    modified = verify_design(args.design, manifest, tops, allow_modified=args.allow_modified)
    check_writable_dir(args.design, "the simulator build")
    if modified:
        print(f"latte-rtl: warning: using modified {', '.join(modified)} (--allow-modified)", file=sys.stderr)
    return cfg, manifest


def cmd_sim(args) -> int:
    from latte_rtl.design import atomic_write_text

    from .regression import run_regression

    sims = split_list(args.sim, SIMULATORS, "--sim")
    _checked_design(args)
    out = check_output_file(Path(args.design) / "sim_report.json", "the report")
    try:
        report = run_regression(args.design, sims=sims, seed=args.seed, rows=args.rows, waves=args.waves)
    except AssertionError as exc:
        raise RunFailed(exc) from None
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    print(f"all {len(report['runs'])} runs passed; report: {out}")
    for run in report["runs"]:
        if "waves" in run:
            print(f"  waves {run['top']} {run['sim']} {run['traffic']}: {run['waves']}")
    return 0


def _first_mismatch(message: str) -> str:
    lines = [line.strip() for line in message.splitlines()]
    return next((line for line in lines if " row " in line and not line.startswith("assert")), lines[0])


ENGINES = ("native", "cocotb")


def _engine(args, inputs: dict):
    """The engine of `run`: native unless --engine cocotb, or --sim/--waves (cocotb options) without --engine;
    `inputs`: {what: path} of the files --waves must not replace."""
    from .shards import Engine

    args.sim = one_simulator(args.sim, SIMULATORS)
    name = args.engine or ("cocotb" if args.sim or args.waves else "native")
    if name == "native" and (args.sim or args.waves):
        raise UserError(f"{'--sim' if args.sim else '--waves'} applies to --engine cocotb only (native runs the "
                        "Verilator model from a compiled harness)")
    if name == "cocotb" and (args.jobs > 1 or args.scheduler):
        raise UserError("-j and --scheduler need --engine native (cocotb runs share the model's build directory)")
    sim = args.sim or "verilator"
    if args.waves:
        check_output_file(args.waves, "--waves", {**inputs, "-o": args.output})
        if Path(args.waves).suffix != WAVE_SUFFIX[sim]:
            raise UserError(f"--waves {args.waves}: {sim} writes {WAVE_SUFFIX[sim]} waveforms: name the file "
                            f"*{WAVE_SUFFIX[sim]}")
    prepare_simulator(sim)
    memory = (args.mem_latency or 0, args.mem_bytes_per_cycle, args.mem_queue or MEMORY_QUEUE)
    if name == "cocotb" and any(v is not None for v in (args.mem_latency, args.mem_bytes_per_cycle, args.mem_queue)):
        raise UserError("--mem-latency, --mem-bytes-per-cycle and --mem-queue apply to --engine native only "
                        "(cocotb's memory is cocotbext-axi's AxiRamRead, stalled by --valid-prob and --ready-prob)")
    return Engine(name, sim, args.seed, args.valid_prob, args.ready_prob, bool(args.waves), *memory)


MAX_MEM_LATENCY = 65535  # cycles; far inside the harness's hang watchdog (native.stall_limit: ≥ 1 M quiet cycles)


def _check_memory_options(args, top) -> None:
    """--mem-latency and --mem-bytes-per-cycle configure the AXI memory of the decode tops: refused for a top
    without one (an on-chip top takes its K/V as streams), not ignored."""
    if top.decode:
        return
    given = [o for o, v in (("--mem-latency", args.mem_latency), ("--mem-bytes-per-cycle", args.mem_bytes_per_cycle),
                            ("--mem-queue", args.mem_queue)) if v is not None]
    if given:
        raise UserError(f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} to the decode tops "
                        f"(generate --kv-memory axi), not {top.name}: its K and V stream in on chip, with no AXI "
                        "memory to model; leave the option out")


def _inputs(args, cfg, top) -> dict:
    """{layer: validated input} (layer None for a one-layer file), --thresholds applied."""
    from latte_rtl.npzio import load_attention, load_layers, load_qk, load_thresholds_json

    qk = args.qk or default_qk()
    inputs = load_layers(qk, cfg.score)
    if args.thresholds:
        if None not in inputs:
            raise UserError(f"--thresholds applies to a one-layer input: {qk} holds layers "
                            f"{', '.join(map(str, inputs))} (each with its thresholds)")
        inputs = {None: load_qk(qk, cfg.score, load_thresholds_json(args.thresholds, cfg.score))}
    if top.attention:
        for inp in inputs.values():
            load_attention(inp, cfg)
    if top.check_input:
        for inp in inputs.values():
            top.check_input(inp, cfg)
    return inputs


def cmd_run(args) -> int:
    from latte_rtl.design.manifest import design_inputs
    from latte_rtl.executor import bounded_jobs
    from latte_rtl.tops import get_top

    from .shards import gather, run_rows

    cfg, manifest = _checked_design(args)
    top = get_top(manifest["default_top"] if args.top is None else args.top)
    if top.name not in manifest["tops"]:
        raise UserError(f"--top {top.name} is not part of this design: expected one of {', '.join(manifest['tops'])}")
    _check_memory_options(args, top)
    given = {"the input --qk": args.qk, "the input --thresholds": args.thresholds,
             **design_inputs(args.design, manifest)}
    output = check_output_file(args.output, "-o", given)
    check_output_file(output.with_name(f"{output.stem}.mismatch.npz"), "-o (its .mismatch.npz)", given)
    engine = _engine(args, given)
    inputs = _inputs(args, cfg, top)  # validate before anything runs
    rows = sum(inp.q.shape[0] for inp in inputs.values())
    if top.decode and (args.jobs > 1 or args.scheduler):
        raise UserError("-j and --scheduler apply to the on-chip tops: a decode top's rows run as one job (its "
                        "decode steps group rows of a KV head)")
    jobs = args.jobs if args.scheduler else bounded_jobs(args.jobs, rows, "rows")
    start = time.perf_counter()
    done = run_rows(Path(args.design).resolve(), top.name, engine, inputs, jobs, args.scheduler)
    wall = time.perf_counter() - start
    failed = [d for d in done if d["result"] is None]
    if failed:
        raise RunFailed(f"the simulation produced no result: {failed[0]['mismatch']}")
    mismatches = [d["mismatch"] for d in done if d["mismatch"]]
    result = gather(done, {layer: inp.q.shape[0] for layer, inp in inputs.items()})
    path = output if not mismatches else output.with_name(f"{output.stem}.mismatch.npz")
    _save(result, path, cfg, top, engine, manifest)
    if args.waves and done[0]["waves"]:
        shutil.copyfile(done[0]["waves"], args.waves)
    print(_summary(top.name, engine, inputs, done, wall, path, cfg.decode.group if top.decode else 1))
    if top.decode:
        print(_decode_per_layer(done, cfg.decode.group))
    if mismatches:
        print(f"latte-rtl: RTL and golden disagree (first mismatch): {_first_mismatch(mismatches[0])}; the RTL's "
              f"result is in {path}, {args.output} was not written", file=sys.stderr)
        return 1
    print(f"RTL matches golden on every row ({', '.join(_compared(cfg, top))})")
    return 0


def _compared(cfg, top) -> list[str]:
    """What the scoreboard compared: without the monitor port an attention top shows only `out` and
    its row records, a score top the kept keys' scores and their estimates (not every key's HH)."""
    if top.decode:
        return ["out", "row records (kept_count, overflow, bytes read per plane, cycles); a decode top has no "
                "monitor: no hh, kept, scores, probs"]
    if cfg.row.monitor:
        return [*(["out", "probs"] if top.attention else []), "hh", "estimate", "kept", "scores", "row records"]
    if top.attention:
        return ["out", "row records (kept_count, prob_sum, V reads, cycles); --no-monitor: no hh, kept, scores, probs"]
    return ["kept", "scores", "hh of the kept keys", "row records"]


def _summary(top: str, engine, inputs: dict, done: list[dict], wall: float, path: Path, group: int) -> str:
    """`group`: rows sharing one record's cycles (a decode step's G rows each carry the step's), else 1."""
    rows = sum(inp.q.shape[0] for inp in inputs.values())
    keys = sorted({inp.n_keys for inp in inputs.values()})
    kept = sum(d["result"]["kept_count"].sum() for d in done) / max(1, sum(
        d["result"]["kept_count"].size * inputs[d["shard"].layer].n_keys for d in done))
    # rows that overlap (attention tops): the cycles they took together are the sum of the intervals
    cycles = sum(int(d["result"]["interval" if "interval" in d["result"] else "cycles"].sum()) for d in done) // group
    layers = "" if None in inputs else f"{len(inputs)} layers, "
    cached = "" if any(d["built"] for d in done) else " (cached model)"
    return (f"run ({top}, {engine.name if engine.name == 'native' else engine.sim}): {layers}{rows} rows x "
            f"{'/'.join(map(str, keys))} keys, {kept:.1%} kept, {cycles} cycles -> {path}{cached}; "
            f"{len(done)} shard(s), {wall:.1f} s, {rows / wall:.1f} rows/s")


def _decode_per_layer(done: list[dict], group: int) -> str:
    """Bytes read per plane and cycles of a decode top's steps, per layer (each step's G rows carry its
    figures: summed over steps)."""
    lines = []
    for d in sorted(done, key=lambda d: -1 if d["shard"].layer is None else d["shard"].layer):
        r, layer = d["result"], d["shard"].layer
        planes = {p: int(r[f"bytes_read_{p}"].sum()) // group for p in ("k_msb", "k_lsb", "v")}
        lines.append(f"  {'all rows' if layer is None else f'layer {layer}'}: {sum(planes.values())} bytes read "
                     f"(K MSB {planes['k_msb']}, K LSB {planes['k_lsb']}, V {planes['v']}), "
                     f"{int(r['cycles'].sum()) // group} cycles in {r['cycles'].size // group} decode step(s)")
    return "decode steps, per layer:\n" + "\n".join(lines)


def _save(result: dict, output: Path, cfg, top, engine, manifest: dict) -> None:
    from latte_rtl.npzio import save_result

    source = "rtl/native" if engine.name == "native" else f"rtl/{engine.sim}"
    save_result(output, result, {"params": cfg.params(), "top": top.name, "source": source,
                                 "tool_versions": manifest["tool_versions"]})


def register(sub) -> None:
    p = sub.add_parser("sim", help="cocotb regression of a generated design against golden")
    add_design_argument(p, "generated design directory (its manifest.json and Verilog)")
    p.add_argument("--sim", default="icarus,verilator", help="comma-separated simulators: icarus, verilator "
                                                              "(default %(default)s)")
    p.add_argument("--seed", type=int_at_least("--seed", 0), default=1, help="stimulus seed, ≥ 0")
    p.add_argument("--rows", type=int_at_least("--rows", 1), default=6,
                   help="query rows per case, ≥ 1 (default %(default)s)")
    p.add_argument("--waves", action="store_true",
                   help="keep one waveform per run: DIR/sim_build/waves/<top>.<sim>.<traffic>.fst|vcd")
    p.add_argument("--allow-modified", action="store_true", help="simulate Verilog edited after generation")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("run", help="run the generated RTL of a top on your own tensors")
    add_design_argument(p, "generated design directory (its manifest.json and Verilog)")
    p.add_argument("--qk", default=None,
                   help="input .npz (q, k, thresholds, heads); default: the embedded real dump (lm, d=64)")
    p.add_argument("--thresholds", help="thresholds JSON (as `latte-rtl calibrate` writes) replacing the input's")
    p.add_argument("--top", help="registered top to run (default: the manifest's default_top)")
    p.add_argument("-o", "--output", required=True,
                   help="result .npz, written only if the RTL matches golden (else beside it as *.mismatch.npz)")
    p.add_argument("--engine", choices=ENGINES, default=None,
                   help="native: the Verilator model driven by a compiled harness (default); cocotb: the "
                        "verification testbench on --sim (implied by --sim or --waves)")
    p.add_argument("--sim", default=None, help="cocotb engine's simulator, one of icarus, verilator (default "
                                                "verilator)")
    p.add_argument("--waves", metavar="FILE", help="cocotb engine: keep the run's waveform here (.fst with icarus, "
                                                   ".vcd with verilator)")
    p.add_argument("--seed", type=int_at_least("--seed", 0), default=1, help="seed of the stall pattern, ≥ 0")
    p.add_argument("--valid-prob", type=fraction("--valid-prob"), default=1.0,
                   help="fraction of cycles an input stream offers a beat (default 1: no gaps)")
    p.add_argument("--ready-prob", type=fraction("--ready-prob"), default=1.0,
                   help="fraction of cycles an output stream takes a beat (default 1: no stalls)")
    p.add_argument("--mem-latency", type=int_at_least("--mem-latency", 0, MAX_MEM_LATENCY), default=None,
                   metavar="CYCLES",
                   help=f"decode tops, native engine: cycles from an AR to its first R beat in the AXI memory model, "
                        f"0..{MAX_MEM_LATENCY} (default 0; the bound keeps a burst's wait far inside the harness's "
                        "hang watchdog of 1 M cycles without a beat, and well above any DRAM's latency)")
    p.add_argument("--mem-bytes-per-cycle", type=positive_number("--mem-bytes-per-cycle"), default=None, metavar="B",
                   help="decode tops, native engine: the AXI memory model's bandwidth in bytes per cycle, > 0 "
                        "(default: the data width, one beat per cycle)")
    p.add_argument("--mem-queue", type=int_at_least("--mem-queue", 1, 4096), default=None, metavar="BURSTS",
                   help=f"decode tops, native engine: bursts the AXI memory model accepts before it drops ARREADY (a "
                        f"memory controller's read queue), 1..4096 (default {MEMORY_QUEUE}); scattered one-row bursts "
                        "reach the bandwidth only when it covers latency × bytes per cycle / burst bytes")
    p.add_argument("-j", "--jobs", type=int_at_least("-j", 1), default=1,
                   help="local worker processes over which the rows (of every layer) are sharded (at most one per "
                        "row and 2 per CPU core: more is clamped, with a note)")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786", type=scheduler_address,
                   help="shard over the workers of this Dask cluster instead of local processes")
    p.add_argument("--allow-modified", action="store_true", help="run Verilog edited after generation")
    p.set_defaults(func=cmd_run)
