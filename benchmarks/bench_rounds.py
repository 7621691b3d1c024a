"""What a first filter round (`--rounds 2`, golden.rounds) buys on real rows: per first-round width m1
and estimate, the keys that survive it at a recall target, what both rounds keep, and the score
stage's cycles a row in the throughput model (d = lanes, a key a beat at m bits; a round-1 plane word as
wide as the MSB word, so m / m1 keys a cycle):

* one round, shared array:             N + 3·kept            (the default design's lower bound)
* two rounds, shared array:            N·m1/m + surv + 3·kept
* two rounds, round 1 on its own unit: max(N·m1/m, surv + 3·kept)  (overlapped with the previous row)

    python benchmarks/bench_rounds.py [--qk FILE] [--keep-ratio 0.12] [--recall 0.99] [--round1-bits 2,3]
        [--json OUT]

Per head, T keeps --keep-ratio of the keys (each estimate its own), and T1 at least --recall of the keys
one round keeps (calibrate --rounds 2's rule), both on the rows measured.
"""

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latte_rtl import golden
from latte_rtl.cli.common import default_qk
from latte_rtl.config import ScoreConfig
from latte_rtl.npzio import load_qk


@dataclass(frozen=True)
class Arithmetic:
    """golden's parameters with a chosen first-round width."""

    bits: int
    msb_bits: int
    estimate: str
    round1_msb_bits: int
    threshold_mode: str = "relative"

    @property
    def lsb_bits(self) -> int:
        return self.bits - self.msb_bits


def measure(inp, cfg: Arithmetic, keep: float, recall: float) -> dict:
    """Survivors, kept and the cycle models of each row; T (at `keep`) and T1 calibrated per head on the
    same rows."""
    n_heads = len(inp.thresholds)
    survivors, kept, retained, one_kept, t1s = [], [], [], [], []
    n_keys = inp.key_mask.sum(axis=1)
    for h in range(n_heads):
        rows = inp.heads == h
        q, k, mask = inp.q[rows], inp.k[h], inp.key_mask[rows]
        est = golden.estimates(golden.split(q, 8, cfg.msb_bits)[0] @ golden.split(k, 8, cfg.msb_bits)[0].T, q, k, cfg)
        t = golden.threshold_for_keep(est, keep, "relative", mask)
        one = golden.keep_mask(est, np.full(len(q), t), "relative", mask)
        e1 = golden.round1_estimates(q, k, cfg)
        t1 = golden.round1_threshold(golden.round1_samples(e1, one, "relative", mask), recall, "relative")
        surv = golden.round1_survivors(e1, np.full(len(q), t1), cfg, mask)
        two = golden.keep_mask(est, np.full(len(q), t), "relative", mask, survivors=surv)
        t1s.append(t1)
        survivors.append(surv.sum(axis=1))
        kept.append(two.sum(axis=1))
        one_kept.append(one.sum(axis=1))
        retained.append((one & two).sum() / max(1, one.sum()))
    surv, kept, one_kept = (np.concatenate(x).astype(float) for x in (survivors, kept, one_kept))
    n = n_keys.astype(float).mean()
    round1 = n * cfg.round1_msb_bits / cfg.msb_bits
    one_round = (n + 3 * one_kept).mean()
    shared = (round1 + surv + 3 * kept).mean()
    overlapped = np.maximum(round1, surv + 3 * kept).mean()
    return {"round1_msb_bits": cfg.round1_msb_bits, "estimate": cfg.estimate, "round1_thresholds": t1s,
            "survived_fraction": float(surv.sum() / n_keys.sum()), "kept_per_row": float(kept.mean()),
            "one_round_kept_per_row": float(one_kept.mean()), "one_round_keys_retained": float(np.mean(retained)),
            "cycles_one_round_shared": float(one_round), "cycles_two_rounds_shared": float(shared),
            "cycles_two_rounds_own_unit": float(overlapped),
            "speedup_shared": float(one_round / shared), "speedup_own_unit": float(one_round / overlapped)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--qk", type=Path, default=Path(default_qk()), help="input .npz (default: the embedded lm dump)")
    p.add_argument("--keep-ratio", type=float, default=0.12, help="keep target of round 2's T per head")
    p.add_argument("--recall", type=float, default=0.99, help="of the one-round keys, what T1 keeps")
    p.add_argument("--round1-bits", default="2,3", help="first-round widths m1 to measure, e.g. 2,3")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args()
    bits = [b.strip() for b in args.round1_bits.split(",")]
    if not all(b.isdigit() and 1 <= int(b) < 4 for b in bits):
        p.error(f"--round1-bits must be a comma-separated list of 1, 2 or 3 (m1 < m = 4), not {args.round1_bits!r}")
    if not 0 < args.keep_ratio <= 1 or not 0 < args.recall <= 1:
        p.error(f"--keep-ratio and --recall must be numbers 0 < R ≤ 1, not {args.keep_ratio} and {args.recall}")
    with np.load(args.qk) as z:
        n_heads, n_keys, dim = z["k"].shape
    base = ScoreConfig(dim=dim, lanes=dim, heads=n_heads, max_keys=n_keys)
    inp = load_qk(args.qk, base)
    results = [measure(inp, Arithmetic(8, 4, estimate, int(m1)), args.keep_ratio, args.recall)
               for m1 in bits for estimate in ("hh", "centred")]
    print(f"{args.qk}: {len(inp.q)} rows x {n_keys} keys, keep {args.keep_ratio}, recall {args.recall}")
    print(f"{'m1':>3s} {'estimate':>8s} {'survive':>8s} {'kept/row':>9s} {'retained':>9s} "
          f"{'1 round':>8s} {'2 shared':>9s} {'2 own unit':>11s}")
    for r in results:
        print(f"{r['round1_msb_bits']:3d} {r['estimate']:>8s} {r['survived_fraction']:8.1%} {r['kept_per_row']:9.1f} "
              f"{r['one_round_keys_retained']:9.2%} {r['cycles_one_round_shared']:8.1f} "
              f"{r['cycles_two_rounds_shared']:9.1f} {r['cycles_two_rounds_own_unit']:11.1f}")
    if args.json:
        args.json.write_text(json.dumps({"qk": str(args.qk), "recall": args.recall, "results": results}, indent=2)
                             + "\n")


if __name__ == "__main__":
    main()
