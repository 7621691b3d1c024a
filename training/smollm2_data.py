"""Build the SmolLM2 workload's shipped data (run once; the results are committed).

    python training/smollm2_data.py text        # latte_rtl/data/smollm2_text.json (this Python's pydoc_data)
    python training/smollm2_data.py calibrate   # latte_rtl/data/smollm2_model.json: static int8 scales

text: English prose of the Python Language Reference as shipped in the standard library's
`pydoc_data.topics` (the help() topics, PSF licence), topics in name order, shuffled with a fixed
seed; whole topics go to the calibration split until it has CALIB_TOKENS tokens, the rest (the
next topics until TEST_TOKENS) to the test split. calibrate: static symmetric int8 scales per
(layer, query head) (max |q|, |k| / 127 over the calibration windows, float pass; the KV heads'
S_k repeat over their 3 query heads).
"""

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]
from latte_rtl.workloads.smollm2 import TEXT, load_smollm2, tokenize

SEED, CALIB_TOKENS, TEST_TOKENS = 0, 12_000, 30_000
META = ROOT / "latte_rtl" / "data" / "smollm2_model.json"


def build_text() -> None:
    import platform
    from pydoc_data import topics

    names = sorted(topics.topics)
    np.random.default_rng(SEED).shuffle(names)
    splits, counts = {"calib": [], "test": []}, {"calib": 0, "test": 0}
    for name in names:
        part = "calib" if counts["calib"] < CALIB_TOKENS else "test"
        if part == "test" and counts["test"] >= TEST_TOKENS:
            break
        splits[part].append(name)
        counts[part] += len(tokenize(topics.topics[name].strip()))
    out = {"source": f"pydoc_data.topics of CPython {platform.python_version()} (the Python Language Reference "
                     "as help() topics; PSF License 2.0)", "seed": SEED, "tokens": counts,
           **{part: {name: topics.topics[name].strip() for name in splits[part]} for part in splits}}
    TEXT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {TEXT.relative_to(ROOT)}: {counts}")


def calibrate() -> None:
    from threadpoolctl import threadpool_limits

    from latte_rtl.workloads.smollm2 import windows
    from latte_rtl.workloads.tasks import static_scales

    model = load_smollm2()
    calib = windows("calib")
    with threadpool_limits(1, user_api="blas"):
        scales = static_scales(model.forward, model.n_layers, model.n_heads, model.head_dim, calib[:, :-1], 1)
    META.write_text(json.dumps({"int8_scales": scales.round(8).tolist(),
                                "calibration": f"max |q|, |k| / 127 over {len(calib)} calibration windows"}) + "\n")
    print(f"wrote {META.relative_to(ROOT)}")


if __name__ == "__main__":
    {"text": build_text, "calibrate": calibrate}[sys.argv[1]]()
