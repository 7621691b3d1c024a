"""The fuzzer's long run: random valid designs (latte_rtl/sim/fuzz.py, drawn from the parameter specs of
every stage, design i from seed SEED + i), each generated and every top run on random and corner rows on the
native engine with random stalls, bit-exact with golden and within the hang budget of the cycle model.
Prints one line per design and the totals (designs, rows, cycles, refused parameter sets, hangs,
mismatches); a failing design's seed reproduces it alone (--seed S --designs 1).

    python benchmarks/fuzz_designs.py [--designs 100] [--seed 1] [--minutes 60] [--out docs/data/fuzz_run.json]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

from latte_rtl.sim.fuzz import RandomChooser, check_design, draw_params, valid_config  # noqa: E402
from latte_rtl.tools import tool_versions  # noqa: E402


def verdict(exc: Exception) -> str:
    """hang, mismatch or error (anything else: a crash of the tool itself)."""
    text = str(exc)
    if "no beat moved" in text:
        return "hang"
    return "mismatch" if isinstance(exc, AssertionError) else "error"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=int, default=100, help="designs to draw (default 100)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the first design (default 1)")
    ap.add_argument("--minutes", type=float, default=None, help="stop drawing after this many minutes")
    ap.add_argument("--out", type=Path, help="write the totals and every failure as JSON here")
    args = ap.parse_args()
    start, totals, failures, kinds = time.monotonic(), Counter(), [], Counter()
    for seed in range(args.seed, args.seed + args.designs):
        if args.minutes and time.monotonic() - start > 60 * args.minutes:
            break
        params = draw_params(RandomChooser(seed))
        if valid_config(params) is None:
            totals["refused"] += 1
            continue
        with tempfile.TemporaryDirectory(prefix="latte-fuzz-") as work:
            try:
                run = check_design(params, Path(work), seed)
            except Exception as exc:  # noqa: BLE001 — every failure is counted and the run goes on
                kind = verdict(exc)
                totals[kind + "s"] += 1
                failures.append({"seed": seed, "kind": kind, "params": params, "message": str(exc)[:2000]})
                print(f"FAIL ({kind}) seed {seed}: {str(exc)[:300]}", flush=True)
                continue
        totals["designs"] += 1
        totals["rows"] += run.rows
        totals["cycles"] += run.cycles
        kinds[f"{params['kv_memory']}{'+attention' if params['attention'] else ''}"] += 1
    summary = {"seconds": round(time.monotonic() - start), "first_seed": args.seed,
               **{k: totals[k] for k in ("designs", "rows", "cycles", "refused", "hangs", "mismatches", "errors")},
               "designs_by_kind": dict(kinds), "failures": failures, "tools": tool_versions()}
    print(json.dumps({k: v for k, v in summary.items() if k not in ("failures", "tools")}))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
