"""Learn one LATTE threshold per (layer, head) for all-MiniLM-L6-v2, weights frozen (CPU is fine).

    python training/minilm_thresholds.py [--steps 150]   # adds trained_thresholds to latte_rtl/data/minilm_model.json

The filter is SoftLatteAttention (training/model_torch.py: hard mask forward, sigmoid gradient
backward, int8 q/k at the shipped static scales), as for the shipped models. The loss keeps the
LATTE embedding of each calibration document close to its float embedding (1 − cosine) plus a
penalty on keeping more than the target fraction of the keys. Only the calibration documents are
used (the test pairs never are).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "training")]
from minilm_torch import MiniLMTorch  # noqa: E402
from model_torch import SoftLatteAttention  # noqa: E402

from latte_rtl.workloads.minilm import load_minilm, tokenize  # noqa: E402
from latte_rtl.workloads.retrieval import load_pairs  # noqa: E402
from latte_rtl.workloads.tasks import MINILM_KEEP, MINILM_META  # noqa: E402


def embed_with(model, att, ids):
    """The model's embedding of one text with `att` (layer, q, k, v, allowed) as its attention."""
    allowed = torch.ones(len(ids), len(ids), dtype=torch.bool)
    for i, layer in enumerate(model.encoder["layer"]):
        layer.attention["self"].scores = lambda q, k, v, i=i: att(i, q, k, v, allowed)
    return model(ids)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    torch.set_num_threads(1)  # small per-head matrices: more threads only spin
    numpy_model = load_minilm()
    model = MiniLMTorch(numpy_model).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    meta = json.loads(MINILM_META.read_text())
    scales = torch.tensor(meta["int8_scales"], dtype=torch.float32)
    docs = [torch.from_numpy(ids) for ids in tokenize(load_pairs("calib")[1])]
    with torch.no_grad():
        for layer in model.encoder["layer"]:
            layer.attention["self"].scores = None
        target = [model(ids) for ids in docs]
    start_t = np.array(meta["calibrated_thresholds"]["values"], np.float64)  # start from the calibrated ones
    log_t = torch.tensor(np.log(np.maximum(start_t, 1.0)), dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([log_t], lr=0.03)
    start = time.time()
    for step in range(args.steps):
        att = SoftLatteAttention(scales, log_t)
        idx = rng.choice(len(docs), args.batch, replace=False)
        loss = sum(1 - torch.dot(embed_with(model, att, docs[i]), target[i]) for i in idx) / args.batch
        kept = sum(k for k, _ in att.kept) / sum(a for _, a in att.kept)
        total = loss + 2.0 * torch.relu(kept - MINILM_KEEP)
        opt.zero_grad()
        total.backward()
        opt.step()
        if step % 10 == 0 or step == args.steps - 1:
            print(f"step {step} 1-cos {loss.item():.5f} kept {kept.item():.3f} ({time.time() - start:.0f} s)",
                  flush=True)
    values = torch.round(torch.exp(log_t)).long().numpy()
    meta["trained_thresholds"] = {
        "values": values.tolist(), "target_keep": MINILM_KEEP,
        "how": f"training/minilm_thresholds.py --steps {args.steps} --batch {args.batch} --seed {args.seed}: "
               "SoftLatteAttention, loss 1 - cos(LATTE, float embedding) + 2 relu(kept - target) on the "
               f"calibration documents, weights frozen, torch {torch.__version__} CPU, "
               f"{time.time() - start:.0f} s"}
    MINILM_META.write_text(json.dumps(meta, indent=1) + "\n")
    print(f"thresholds {values.tolist()} -> {MINILM_META}")


if __name__ == "__main__":
    main()
