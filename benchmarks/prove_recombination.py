"""Proof (a) of `latte-rtl prove` for every bits (4..16) and msb_bits (1..bits-1) the tool accepts,
at dim = lanes = 1 (the recombination does not depend on dim beyond the beat sums' ranges).

    python benchmarks/prove_recombination.py [--bits 4,8,16] [-o build/prove_recombination]

Prints one line per configuration and the total; exits 1 if any proof fails."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", default=",".join(str(b) for b in range(4, 17)))
    ap.add_argument("-o", "--output", default="build/prove_recombination")
    args = ap.parse_args()
    cli = [sys.executable, "-m", "latte_rtl.cli"]
    start, failed, n = time.monotonic(), [], 0
    for bits in (int(b) for b in args.bits.split(",")):
        for msb in range(1, bits):
            out = Path(args.output) / f"b{bits}m{msb}"
            t0 = time.monotonic()
            if not (out / "manifest.json").is_file():
                subprocess.run(cli + ["generate", "--bits", str(bits), "--msb-bits", str(msb), "--dim", "1",
                                      "--lanes", "1", "--heads", "1", "--max-keys", "1", "-o", str(out)],
                               check=True, capture_output=True)
            proc = subprocess.run(cli + ["prove", str(out), "--top", "latte_score_engine", "--proofs",
                                         "recombination"], capture_output=True, text=True, check=False)
            n += 1
            ok = proc.returncode == 0
            failed += [] if ok else [(bits, msb)]
            print(f"bits {bits:2d} msb_bits {msb:2d}: {'PASS' if ok else 'FAIL'} ({time.monotonic() - t0:.1f} s)",
                  flush=True)
    print(f"{n - len(failed)}/{n} configurations proven in {time.monotonic() - start:.0f} s; "
          f"failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
