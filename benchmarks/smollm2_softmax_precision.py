"""What the §7 integer softmax costs SmolLM2 at each precision, and what closes it.

    python benchmarks/smollm2_softmax_precision.py --windows 8 --jobs 2 [--json out.json]

Runs int8 dense (float softmax, the baseline) and the §7 integer pipeline over every key (integer
dense) for each (B prob_bits, P exp_bits, F exp_frac_bits) of CONFIGS on the first N test windows of
512 tokens (V scales from 2 calibration windows), and prints the prefill and continuation perplexity
change against int8 dense with the widths each choice costs (probability, exp value, denominator,
exp-table entries; widths from AttentionConfig.widths, the RTL's own derivation).
"""

import argparse
import json
from dataclasses import replace

import numpy as np

from latte_rtl.config import AttentionConfig, ScoreConfig
from latte_rtl.workloads.smollm2 import windows
from latte_rtl.workloads.smollm2_eval import META, RowAttention, calibrate, score_all

# (B, P, F): today's SmolLM2 default first, then rounding/precision variants; R = 22 − F keeps M_h's
# precision (and its 16-bit register) as F grows
CONFIGS = ((12, 16, 2), (12, 16, 4), (14, 16, 2), (14, 18, 3), (16, 20, 4), (10, 16, 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--windows", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    scales = np.array(json.loads(META.read_text())["int8_scales"])
    test, calib = windows("test", args.windows), windows("calib", 2)
    v_scales = calibrate(calib, scales, (32,), (args.jobs, None)).v_scales
    base = AttentionConfig(attention=True)
    atts = [RowAttention("int8", scales)]
    for b, p, f in CONFIGS:
        atts.append(RowAttention("dense", scales, integer=replace(base, prob_bits=b, exp_bits=p, exp_frac_bits=f,
                                                                      scale_shift=22 - f),
                                 v_scales=v_scales))
    figures = score_all(test, atts, args.jobs)
    ref = figures[0]
    rows = []
    score = ScoreConfig(dim=64, max_keys=2048).widths
    print(f"int8 dense: perplexity {ref['metric']:.4f}, continuation {ref['ppl_continuation']:.4f} "
          f"({len(test)} windows of 512)")
    print(f"{'B':>3s} {'P':>3s} {'F':>3s} {'prefill':>9s} {'cont.':>9s}  widths: p, e, D, LUT entries")
    for (b, p, f), att, fig in zip(CONFIGS, atts[1:], figures[1:]):
        w = att.integer.widths(score, 8, 2048)
        row = {"prob_bits": b, "exp_bits": p, "exp_frac_bits": f,
               "prefill_change": fig["metric"] / ref["metric"] - 1,
               "continuation_change": fig["ppl_continuation"] / ref["ppl_continuation"] - 1,
               "widths": {"prob": w.prob_width, "exp": w.exp_width, "denominator": w.denominator_width,
                          "lut_entries": len(w.lut)}}
        rows.append(row)
        print(f"{b:3d} {p:3d} {f:3d} {row['prefill_change']:+9.2%} {row['continuation_change']:+9.2%}  "
              f"{w.prob_width}, {w.exp_width}, {w.denominator_width}, {len(w.lut)}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"windows": len(test), "baseline": ref, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
