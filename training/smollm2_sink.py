"""Experiment (not a product option): LATTE head-wise thresholds on SmolLM2 with the first key of
every row (the attention sink) always kept, float softmax over the kept keys, against the same
thresholds without it. 2 test and 2 calibration windows of 512 tokens.

    python training/smollm2_sink.py
"""

import json
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]
from latte_rtl import golden
from latte_rtl.workloads import smollm2_eval as ev
from latte_rtl.workloads.smollm2 import load_smollm2, windows

KEEP_MASK = golden.keep_mask


def sink_mask(hh, thresholds, mode, key_mask=None):
    """golden.keep_mask, plus key 0 of every row (RowAttention looks keep_mask up at call time)."""
    kept = KEEP_MASK(hh, thresholds, mode, key_mask)
    kept[:, 0] = True
    return kept


def perplexity(model, test, att) -> float:
    return ev.perplexity(np.stack([model.forward(w[None, :-1], att)[0] for w in test]), test[:, 1:])


def main() -> None:
    model, test, calib = load_smollm2(), windows("test", 2), windows("calib", 2)
    scales = np.array(json.loads(ev.META.read_text())["int8_scales"])
    with threadpool_limits(1, user_api="blas"):
        cal = ev.Calibration(model, scales, calib, None, ())
        for keep in (0.12, 0.05):
            for sink in (False, True):
                golden.keep_mask = sink_mask if sink else KEEP_MASK
                att = ev.RowAttention("latte", scales, thresholds=cal.latte_thresholds(keep, True))
                print(f"keep {keep} sink kept {sink}: perplexity {perplexity(model, test, att):.3f}, "
                      f"filtered {att.keys_filtered:.1%}", flush=True)
        golden.keep_mask = KEEP_MASK
        print(f"int8 dense: {perplexity(model, test, ev.RowAttention('int8', scales)):.3f}")


if __name__ == "__main__":
    main()
