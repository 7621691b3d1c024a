"""Torch logits of the shipped weights on fixed inputs, for the NumPy-parity test.

    python training/reference_logits.py      # writes latte_rtl/data/torch_reference.npz
"""

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "training")]
from model_torch import Transformer  # noqa: E402

from latte_rtl.workloads.evaluate import eval_data, load_model  # noqa: E402


def reference_logits(name: str, n: int):
    spec, params, _ = load_model(name)
    model = Transformer(spec)
    with torch.no_grad():
        for k, v in model.p.items():
            v.copy_(torch.from_numpy(params[k]))
        x, _ = eval_data(name, "test", n)
        return x, model(torch.from_numpy(x)).numpy()


if __name__ == "__main__":
    out = {}
    for name, n in (("lm", 2), ("vision", 16)):
        out[f"{name}_inputs"], out[f"{name}_logits"] = reference_logits(name, n)
    out["torch_version"] = np.array(torch.__version__)
    np.savez_compressed(ROOT / "latte_rtl" / "data" / "torch_reference.npz", **out)
    print("wrote latte_rtl/data/torch_reference.npz with torch", torch.__version__)
