"""Command `prove`: formal proofs (SymbiYosys) of a generated design's own Verilog."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

# (c) and (d) need every key in the solver: by default only for designs this small (any design with --depth).
EQUIV_LIMITS = {"dim": 4, "max_keys": 6, "bits": 8}
LATTE_SCORE_TOP = "latte_score_engine"
PROOFS = ("recombination", "datapath", "protocol", "equivalence", "latency", "liveness")
DEFAULT_DEPTH_CAP = 40  # cycles: a large design's full row is beyond any solver's reach
MAX_STALLS = 8  # --stalls: cycles a handshake of the liveness environment may wait in a row


@dataclass(frozen=True)
class Task:
    """One SymbiYosys run: `name` (one of PROOFS) on `top`."""
    top: str
    name: str
    depth: int
    formal_top: str
    wrapper: str | None  # extra Verilog (the property wrapper), or None
    reset_assumed: bool  # the top's rst is assumed high in cycle 0 only (no wrapper drives it)
    scope: str  # what a pass means, for the report
    mode: str = "bmc"  # SymbiYosys mode: bmc (bounded, `depth` cycles) or prove (k-induction, k = `depth`)
    block: str | None = None  # protocol of this module alone (blocks.py), not of the whole top
    proven: tuple[str, ...] = ()  # modules whose output streams are proven (by their block tasks): not asserted
    extra: tuple[str, ...] = ()  # block tasks: more property lines for the block's module (axi_master.py)
    within: str | None = None  # the enclosing module a block's protocol is proven in (None: alone)
    ancestors: tuple[str, ...] = ()  # block tasks: the enclosing modules still to try, parent first
    free: tuple[tuple[str, str], ...] = ()  # protocol: (module, input stream) neither assumed nor asserted (glue)
    glue: tuple[tuple[str, str], ...] = ()  # glue tasks: the (module, input stream) pairs asserted inside `within`
    exposed: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (module, internal signals) on ports for the wrapper

    @property
    def label(self) -> str:
        """The task's name in reports and file names: the proof, its block if any, and where it is proven."""
        from .blocks import short_name

        where = f"@{short_name(self.within)}" if self.within else ""
        if self.glue:
            return f"{self.name}.glue{where}"
        return f"{self.name}.{short_name(self.block)}{where}" if self.block else self.name

    @property
    def falls_back(self) -> bool:
        """A task whose induction may not close without a failure of the design: a block's protocol, alone or
        inside an enclosing module, or the glue between blocks; what it checks goes to the top's protocol task
        in context."""
        return self.block is not None or bool(self.glue)

    @property
    def at_top(self) -> bool:
        """A proof of the whole design (the top's ports assumed): a counterexample here is one of the design,
        from reset, in an environment that keeps the protocol."""
        if self.within is not None:
            return not self.ancestors
        return self.block is not None and "__" not in self.block  # the top module's own block task

    def failed(self, verdict) -> bool:
        """Whether `verdict` is a failure of the design: any failure of a proof, an ERROR, or a counterexample
        of the whole design (a block's induction that does not close, or a counterexample of a block alone with
        free inputs, is not)."""
        if verdict.status == "PASS":
            return False
        return not self.falls_back or verdict.status == "ERROR" or (self.at_top and verdict.status == "FAIL")

    def escalated(self) -> Task:
        """This task one level up: its streams proven inside its next enclosing module."""
        from .blocks import glue_scope, scope

        within, rest = self.ancestors[0], self.ancestors[1:]
        what = glue_scope(within, self.glue) if self.glue else scope(self.block, within)
        return dataclasses.replace(self, formal_top=within, within=within, ancestors=rest, scope=what)


def row_depth(cfg) -> int:
    """Cycles from reset to the end of one row of max_keys keys that keeps them all (with two rounds: all
    survive the first), if the row ends within the cycle model: reset, key load, q beats, then the model's
    bound."""
    s = cfg.score
    from .properties import row_overhead

    passes = 4 + s.rounds - 1
    return 1 + s.beats * s.max_keys + s.beats + (115 * s.beats * passes * s.max_keys) // 100 + row_overhead(s) + 1


def equivalence_fits(cfg) -> str | None:
    """None if (c)/(d) run on this design, else why not."""
    s = cfg.score
    too_big = [f"{k} {getattr(s, k)} > {v}" for k, v in EQUIV_LIMITS.items() if getattr(s, k) > v]
    return ", ".join(too_big) or None


def block_tasks(cfg, manifest: dict, top: str, ports: dict, text: str) -> list[Task]:
    """The unbounded protocol proofs of `top`'s blocks (its Verilog `text`), one task each (blocks.py); an AXI
    master's also prove its AR rules (axi_master.py)."""
    from . import axi_master, blocks
    from .verilog import module_body

    tasks = []
    found = blocks.clocked_blocks(ports, text)
    modules = manifest["tops"][top]["modules"]
    glue = blocks.glue(text, ports, modules, found) if found else {}
    free = tuple(glue)
    for b in found:
        task = Task(top, "protocol", blocks.BLOCK_DEPTH, b, None, True, blocks.scope(b), "prove", b,
                    ancestors=blocks.ancestors(b, modules, ports), free=free)
        if axi_master.is_master(ports[b]) and cfg.bus.name == "axi":  # its assumptions hold alone only
            extra = axi_master.lines(ports[b], module_body(text, b), bus_bytes=cfg.decode_spec().bus_bytes,
                                     max_burst=cfg.bus.max_burst, outstanding=cfg.decode.axi_outstanding)
            task = dataclasses.replace(task, extra=tuple(extra), scope=task.scope + " and its AXI4 AR rules",
                                       ancestors=())  # its FAIL alone is checked in context
        tasks.append(task)
    for holder in dict.fromkeys(glue.values()):  # the glue's own protocol, where it is
        streams = tuple(s for s, h in glue.items() if h == holder)
        tasks.append(Task(top, "protocol", blocks.BLOCK_DEPTH, holder, None, True, blocks.glue_scope(holder, streams),
                          "prove", within=holder, ancestors=blocks.ancestors(holder, modules, ports), free=free,
                          glue=streams))
    return tasks


def plan(cfg, manifest: dict, top: str, depth: int | None, ports: dict,
         stalls: int = 0, text: str = "", asked: tuple[str, ...] = ()) -> tuple[list[Task], list[str]]:
    """The proof tasks of one top (`ports`: its Verilog `text`'s {module: ports}), and notes on what is
    skipped (`asked`: proofs named in --proofs, run even where they are skipped by default)."""
    from . import liveness, properties

    entry = manifest["tops"][top]
    k = depth or min(row_depth(cfg), DEFAULT_DEPTH_CAP)
    per_block = block_tasks(cfg, manifest, top, ports, text)
    tasks = per_block + [
        Task(top, "protocol", k, entry["module"], None, True,
             f"bounded, depth {k}: the streams of the blocks not proven unbounded, in context; FIFOs never "
             "written when full")]
    notes = []
    if liveness.is_decode(top):  # an AXI4 slave and a user around the top: see liveness.py
        parts, notes = liveness.plan(cfg, manifest, top, ports.get(entry["module"], {}), depth=depth,
                                     stalls=stalls, cap=DEFAULT_DEPTH_CAP)
        return tasks[:-1] + [Task(top, name, d, "latte_formal_liveness", text, False, scope)
                             for name, d, text, scope in parts], notes
    if top != LATTE_SCORE_TOP:
        return tasks, notes
    from . import datapath

    modules = entry["modules"]
    per_key = datapath.steps(cfg)
    too_big = datapath.fits(cfg)
    if too_big and "datapath" not in asked:
        notes.append(f"{top}: datapath skipped ({too_big}): name it in --proofs to run it anyway")
    else:
        tasks.insert(0, Task(top, "datapath", per_key, datapath.MODULE, datapath.wrapper(cfg, modules, ports),
                             False,
                             f"unbounded (k-induction, k = {per_key}): each key's HH and exact score from the lane "
                             "products of its beats through the dot product and accumulator, any stall and "
                             "backpressure, independent of max_keys", "prove", exposed=datapath.exposed(cfg, modules)))
    if cfg.score.completion_lanes:
        notes.append(f"{top}: recombination skipped (split arrays: the completion accumulator starts from the "
                     "token's HH; the datapath proof covers both arrays)")
    else:
        acc = next(m for m, path in modules.items() if path == "accumulator")
        steps = properties.recombination_steps(cfg) + 2
        tasks.insert(0, Task(top, "recombination", steps, "latte_formal_recombination",
                             properties.recombination_wrapper(cfg, acc, ports[acc]), False,
                             f"unbounded (k-induction, k = {steps}): every key's score from its passes, every beat "
                             "sum", "prove"))
    why = equivalence_fits(cfg)
    if why and depth is None:
        notes.append(f"{top}: equivalence and latency skipped ({why}; by default they need dim <= "
                     f"{EQUIV_LIMITS['dim']}, max_keys <= {EQUIV_LIMITS['max_keys']}, bits <= {EQUIV_LIMITS['bits']}): "
                     "give --depth to run them to that depth (rows of a few keys), or prove a small twin generated "
                     "with the same bits, msb_bits and threshold mode")
        return tasks, notes
    for name, latency in (("equivalence", False), ("latency", True)):
        what = ("every kept index, score, estimate and row record vs the docs/spec.md §2 reference, any ready"
                if not latency else "outputs always ready: each row ends within the manifest's cycle model")
        tasks.append(Task(top, name, k, "latte_formal_score",
                          properties.score_reference(cfg, entry, latency=latency), False,
                          f"bounded, depth {k}: {what}"))
    return tasks, notes


def read_verilog(path: Path) -> str:
    """The text of a design's Verilog file; UserError (one line) if it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} must be UTF-8 text (Verilog), but byte {exc.start} is "
                        f"{exc.object[exc.start:exc.start + 1]!r}: {exc.reason}") from None


def run_task(task: Task, design_dir: Path, manifest: dict, workdir: Path):
    """Instrument the top's Verilog copy in `workdir`, add the wrapper, run SymbiYosys."""
    from . import invariants, properties, sby
    from .memory import abstract
    from .verilog import expose, insert_before_endmodule

    src = workdir / task.top / task.label
    src.mkdir(parents=True, exist_ok=True)
    text = read_verilog(design_dir / manifest["tops"][task.top]["file"])
    files = [src / manifest["memory_module"]["file"], src / manifest["tops"][task.top]["file"]]
    memory = read_verilog(design_dir / manifest["memory_module"]["file"])
    model = abstract(memory, manifest["memory_module"]["module"]) if task.name == "protocol" else None
    files[0].write_text(model or memory)  # protocol: the SRAM's contents abstracted away (memory.py)
    if task.within:  # a block's output streams, or the glue, inside an enclosing module
        text = properties.instrument_within(text, task.within, block=task.block, glue=task.glue, free=task.free)
    elif task.block:  # the block alone: its own lines only, its input streams assumed (those from glue: free)
        text = properties.instrument(text, task.block, blocks=False, free=task.free)
    else:
        text = properties.instrument(text, manifest["tops"][task.top]["module"], reset_assumed=task.reset_assumed,
                                     blocks=task.name == "protocol", proven=task.proven, free=task.free)
    for module, names in task.exposed:
        text = expose(text, module, names)
    if task.falls_back:
        text = invariants.instrument(text, manifest["tops"][task.top]["modules"])
    if task.extra:
        text = insert_before_endmodule(text, task.block, list(task.extra))
    files[1].write_text(text)
    if task.wrapper:
        files.append(src / "properties.sv")
        files[-1].write_text(task.wrapper)
    return sby.run_task(src, "proof", mode=task.mode, depth=task.depth, top=task.formal_top,
                        files=[str(f) for f in files])


def keep_log(task: Task, verdict, out_dir: Path) -> Path:
    """Copy the task's SymbiYosys log (in the temporary directory) to `out_dir`: the path to quote."""
    out_dir.mkdir(parents=True, exist_ok=True)
    kept = out_dir / f"{task.top}_{task.label}.log"
    shutil.copy(verdict.log, kept)
    return kept


def report(task: Task, verdict, vcd_dir: Path) -> str:
    from .blocks import short_name

    head = f"  {task.top:24s} {task.label:14s}"
    if verdict.status != "PASS" and not task.failed(verdict):  # tried further up, or asserted in context
        why = "a counterexample" if verdict.status == "FAIL" else "the induction does not close"
        where = f"inside {short_name(task.within)}" if task.within else "alone"
        if task.ancestors:
            return f"{head} NEXT  {why} {where}: tried inside {short_name(task.ancestors[0])} ({verdict.seconds:.1f} s)"
        return (f"{head} CONTEXT  {why} {where}: its protocol rests on its context, checked by the top's protocol "
                f"proof ({verdict.seconds:.1f} s)")
    if verdict.status == "PASS":
        proven = f"; {len(task.proven)} block(s) proven unbounded not checked again" if task.proven else ""
        return f"{head} PASS  {task.scope}{proven} ({verdict.seconds:.1f} s)"
    if verdict.status == "FAIL":
        vcd = vcd_dir / f"{task.top}_{task.label}.vcd"
        if verdict.trace and verdict.trace.is_file():
            vcd_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(verdict.trace, vcd)
        props = "; ".join(f"property {p} fails at cycle {c}" for p, c in verdict.failed) or "a property fails"
        return f"{head} FAIL  {props} (top {task.top}); counterexample: {vcd}"
    return f"{head} {verdict.status}  see {keep_log(task, verdict, vcd_dir)}"


def check_readable(task: Task, verdict, manifest: dict, out_dir: Path) -> None:
    """UserError if Yosys could not read the design's own Verilog (a syntax error in an edited file)."""
    error = verdict.yosys_error
    design_files = (manifest["tops"][task.top]["file"], manifest["memory_module"]["file"])
    if verdict.status == "ERROR" and error and error.split(":", 1)[0] in design_files:
        raise UserError(f"Yosys cannot read the design's Verilog (it must parse; edited with --allow-modified?): "
                        f"{error} (log: {keep_log(task, verdict, out_dir)})")


def check_options(args, manifest: dict) -> tuple[list[str], list[str]]:
    """(tops, proofs) asked for; UserError for a bad --top, --depth, --stalls or --proofs."""
    from . import liveness

    tops = [args.top] if args.top else list(manifest["tops"])
    for top in tops:
        if top not in manifest["tops"]:
            raise UserError(f"--top must be one of {', '.join(manifest['tops'])} (the tops of "
                            f"{args.design_dir}), not {top!r}")
    if args.depth is not None and not 1 <= args.depth <= 1000:
        raise UserError(f"--depth must be 1..1000 cycles, not {args.depth}")
    if not 0 <= args.stalls <= MAX_STALLS:
        raise UserError(f"--stalls must be 0..{MAX_STALLS} cycles, not {args.stalls}")
    if args.stalls and not any(liveness.is_decode(t) for t in tops):
        raise UserError(f"--stalls applies to the decode tops only (their AXI environment), not to {', '.join(tops)}")
    wanted = list(PROOFS) if args.proofs is None else args.proofs.split(",")
    for name in wanted:
        if name not in PROOFS:
            raise UserError(f"--proofs must be a comma-separated list of {', '.join(PROOFS)}, not {name!r}")
    return tops, wanted


def all_tasks(args, cfg, manifest: dict, design_dir: Path, tops: list[str], wanted: list[str]) -> list[Task]:
    """The tasks of `wanted` proofs on `tops` (notes printed); UserError if there is none."""
    from .verilog import module_ports

    read_verilog(design_dir / manifest["memory_module"]["file"])
    tasks, applies = [], []
    for top in tops:
        text = read_verilog(design_dir / manifest["tops"][top]["file"])
        planned, notes = plan(cfg, manifest, top, args.depth, module_ports(text), args.stalls, text,
                              asked=tuple(wanted) if args.proofs is not None else ())
        tasks += [t for t in planned if t.name in wanted]
        applies.append(f"{top}: {', '.join(dict.fromkeys(t.name for t in planned))}")
        for note in notes:
            print(f"  note: {note}")
    if not tasks:
        raise UserError(f"--proofs {','.join(wanted)} must name a proof that applies to "
                        f"{'--top ' + tops[0] if args.top else 'a top of ' + str(design_dir)}; "
                        f"proofs that apply: {'; '.join(applies)}")
    return tasks


def cmd_prove(args) -> int:
    import json
    import time

    from ..design import atomic_write_text, check_output_file
    from ..design.manifest import load_design, verify_design
    from ..executor import bounded_jobs
    from ..progress import Progress
    from . import runner

    cfg, manifest = load_design(args.design_dir)
    tops, wanted = check_options(args, manifest)
    modified = verify_design(args.design_dir, manifest, tops, allow_modified=args.allow_modified)
    if modified:  # on stdout, with the report: stderr is left to a user error's one line
        print(f"latte-rtl: warning: proving modified {', '.join(modified)} (--allow-modified)")
    design_dir = Path(args.design_dir)
    out_dir = Path(args.output) if args.output else design_dir / "prove"
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"-o must be a directory for counterexample VCDs and logs, not the file {out_dir}")
    json_out = check_output_file(args.json, "--json") if args.json else None
    tasks = all_tasks(args, cfg, manifest, design_dir, tops, wanted)
    jobs = bounded_jobs(args.jobs, len(tasks), "proof tasks", "-j")
    print(f"prove {design_dir}: {len(tasks)} proof task(s) planned (a block or glue that does not close where it is "
          f"is tried again further up), {jobs} in parallel, SymbiYosys + smtbmc + Yices 2")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="latte-prove-") as tmp, Progress(len(tasks), "prove") as bar:
        def run(task):
            return run_task(task, design_dir, manifest, Path(tmp))

        def line(task, verdict):
            check_readable(task, verdict, manifest, out_dir)
            return report(task, verdict, out_dir)

        outcomes = runner.run_all(tasks, run, line, jobs, bar)
    failures = sum(o.task.failed(o.verdict) for o in outcomes)
    seconds = time.monotonic() - start
    if json_out:
        atomic_write_text(json_out, json.dumps(runner.json_report(outcomes, seconds), indent=2) + "\n", "--json")
    print(runner.summary(outcomes, seconds))
    print("all properties hold" if not failures else f"{failures} proof(s) failed")
    return 0 if not failures else 1


def register(sub) -> None:
    from ..cli.common import int_at_least

    p = sub.add_parser("prove", help="formal proofs (SymbiYosys) of a generated design's own Verilog",
                       description="Formal proofs (SymbiYosys + Yices) of a generated design's own Verilog: the "
                       "recombination, each key's HH and score through the dot product and accumulator (datapath; by "
                       "default up to 8 lanes) and each block's stream protocol by k-induction (unbounded; a block "
                       "that does not close alone is tried inside its enclosing modules, lines marked NEXT, and the "
                       "glue between blocks where it is), the rest bounded (a proof in context, marked CONTEXT, only "
                       "for what closes nowhere; equivalence, latency, liveness). Exit 0: every property holds; 1: one "
                       "fails (a VCD in -o); 2: a user error. See docs/verification.md.")
    p.add_argument("design_dir", help="generated design directory (latte-rtl generate -o DIR)")
    p.add_argument("--top", help="prove only this top (default: every top of the design)")
    p.add_argument("--depth", type=int, help="cycles of the bounded proofs (default: one full row of max_keys "
                                             f"keys, all kept, from reset, at most {DEFAULT_DEPTH_CAP}; liveness: "
                                             "through the first decode step's cycle bound)")
    p.add_argument("--proofs", help=f"comma-separated subset of {','.join(PROOFS)} (default: all that apply)")
    p.add_argument("--stalls", type=int, default=0,
                   help="liveness: the environment's AXI and out/rows handshakes may stall up to this many cycles "
                        "in a row (default 0: ARREADY and out/rows ready high, R beats back to back; each stall "
                        "cycle lengthens the bound and costs the solver much more)")
    p.add_argument("-o", "--output", help="directory for counterexample VCDs and logs (default: DIR/prove)")
    p.add_argument("-j", "--jobs", type=int_at_least("-j", 1), default=1,
                   help="proof tasks run in parallel (each one SymbiYosys run, one solver process; default 1)")
    p.add_argument("--json", help="write each task's top, proof, block, within, glue, status, failure (a failure "
                                  "of the design: a try that moved up is not), mode (bmc: bounded; prove: "
                                  "k-induction), depth, unbounded, seconds and failed properties to this file")
    p.add_argument("--allow-modified", action="store_true", help="prove Verilog edited after generation")
    p.set_defaults(func=cmd_prove)
