"""`latte-rtl prove` on the designs of issue 35: each proof task's mode (unbounded k-induction or bounded BMC),
where a block's protocol was tried (alone, inside an enclosing module), depth, status and time, and the whole
command's wall time, from `prove --json`.

    python benchmarks/prove_designs.py [--designs big_relative,big_absolute] [-j 2] [-o build/prove_designs]

Designs (names for --designs): ci (the CI design), big_relative / big_absolute (`--bits 8 --msb-bits 4 --dim 8
--lanes 4 --heads 2 --max-keys 16 --attention`, both threshold modes: score and attention tops), default (the
former default design, `--lanes 16`: dim 64, max_keys 1024; recombination and protocol), default64 (today's
default design, 64 lanes), decode_ci (the CI decode twin),
deadlock (issue 29's deadlock design, tests/sim/test_fuzz.py REGRESSIONS, made as before its fix by the `credit`
mutant: the liveness proof must refute it), big_*_equiv (the equivalence and latency at --depth 24),
big_product / big_shift / big_ready / big_key_count (the mutants on the big design: the proof must fail).
Prints one line per task and one per design; exits 1 if a proof fails (a mutant: if none does)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SMALL = "--bits 4 --msb-bits 2 --dim 1 --lanes 1 --heads 1 --max-keys 2"
BIG = "--bits 8 --msb-bits 4 --dim 8 --lanes 4 --heads 2 --max-keys 16 --attention"
DEADLOCK = ("--kv-memory axi --attention --threshold-mode absolute --dim 8 --lanes 4 --heads 6 --group 3 "
            "--max-keys 16 --kept-buffer 8 --axi-data-width 64")
EQUIV = "--top latte_score_engine --proofs equivalence,latency --depth 24"
DESIGNS = {  # name: (generate options, prove options[, mutant: the proof must fail])
    "ci": (SMALL, ""),
    "big_relative": (BIG, ""),
    "big_absolute": (f"{BIG} --threshold-mode absolute", ""),
    "big_relative_equiv": (BIG, EQUIV),
    "big_absolute_equiv": (f"{BIG} --threshold-mode absolute", EQUIV),
    "big_shift": (BIG, "--top latte_score_engine --proofs recombination --allow-modified", "shift"),
    "big_product": (BIG, "--top latte_score_engine --proofs datapath --allow-modified", "product"),
    "big_ready": (BIG, "--top latte_score_engine --proofs protocol --allow-modified", "ready"),
    "big_key_count": (BIG, f"{EQUIV} --allow-modified", "key_count"),
    "default": ("--lanes 16", "--proofs recombination,protocol"),
    "default64": ("", "--proofs recombination,protocol"),
    "deadlock": (DEADLOCK, "--top latte_decode_engine --proofs liveness --allow-modified", "credit"),
    "decode_ci": (f"{SMALL} --kv-memory axi --kept-buffer 2 --axi-data-width 64 --axi-outstanding 1 "
                  "--axi-addr-width 13 --prob-bits 1 --exp-bits 1 --mult-bits 1 --exp-frac-bits 0", ""),
}


def prove(name: str, out: Path, jobs: int, timeout: float) -> int:
    gen, options, *mutant = DESIGNS[name]
    cli = [sys.executable, "-m", "latte_rtl.cli"]
    design = out / name
    if mutant and design.exists():  # a mutant always starts from a freshly generated design
        shutil.rmtree(design)
    if not (design / "manifest.json").is_file():
        subprocess.run(cli + ["generate", *gen.split(), "-o", str(design)], check=True, capture_output=True)
        if mutant:
            from latte_rtl.formal import mutants

            mutants.apply(design, mutant[0])
    report = out / f"{name}.json"
    start = time.monotonic()
    report.unlink(missing_ok=True)
    proc = subprocess.Popen(cli + ["prove", str(design), *options.split(), "-j", str(jobs), "--json", str(report),
                                   "-o", str(out / f"{name}_cex")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        _, errors = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: SymbiYosys and its solvers too
        proc.communicate()
        print(f"{name}: not finished within {timeout} s ({gen or 'defaults'})", flush=True)
        return 1
    wall = time.monotonic() - start
    if not report.is_file():
        print(f"{name}: no report (exit {proc.returncode}): {errors.strip()}")
        return 1
    for t in json.loads(report.read_text())["tasks"]:
        kind = "unbounded" if t["unbounded"] else ("not closed" if t["block"] else f"bounded {t['depth']}")
        where = ("inside " + t["within"].split("__", 1)[-1] if "__" in t["within"] else "inside top") \
            if t.get("within") else ("alone" if t["block"] else "")
        print(f"  {name:13s} {t['top']:24s} {t['proof']:13s} {(t['block'] or '-')[-34:]:34s} {where[:20]:20s} "
              f"{t['status']:8s} {kind:11s} {t['seconds']:7.1f} s", flush=True)
    print(f"{name}: exit {proc.returncode}, {wall:.0f} s wall with -j {jobs} ({gen or 'defaults'})", flush=True)
    failed = [f"{f['property']} at cycle {f['cycle']}" for t in json.loads(report.read_text())["tasks"]
              if not t["block"] for f in t["failed"]]  # a block's try that fails is tried further up, or in context
    if mutant:
        print(f"{name}: mutant {mutant[0]} caught by {'; '.join(failed) or 'nothing'}", flush=True)
        return int(proc.returncode != 1)
    return proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--designs", default="big_relative,big_absolute")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("-o", "--output", default="build/prove_designs")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per design's prove (default 1800)")
    args = ap.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    codes = [prove(name, out, args.jobs, args.timeout) for name in args.designs.split(",")]
    return 1 if any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
