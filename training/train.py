"""Train the two workload models and their head-wise LATTE thresholds (PyTorch; `pip install -e ".[train]"`).

    python training/train.py data  --out build/workload_data     # corpus + digits split (here; needs scikit-learn)
    python training/train.py all   --data build/workload_data --out build/trained [--device cuda]

`all` trains `lm` and `vision`, calibrates static int8 scales per (layer, head), learns one LATTE
threshold per (layer, head) with a straight-through soft mask, and writes for each workload
<name>_weights.npz (float16), <name>_model.json (provenance, scales, trained thresholds).
Seeded; run times are printed and recorded in the JSON.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from latte_rtl.workloads.spec import SPECS  # noqa: E402

HELDOUT_EVERY = 10  # every 10th stdlib file (sorted by name) is held out


def cmd_data(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    train, held = [], []
    for i, f in enumerate(files):
        (held if i % HELDOUT_EVERY == 0 else train).append(Path(f).read_bytes())
    (out / "lm_train.bin").write_bytes(b"\n".join(train))
    (out / "lm_heldout.bin").write_bytes(b"\n".join(held))
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = digits.images.reshape(-1, 64).astype(np.uint8), digits.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(x))
    test, trn = perm[:360], perm[360:]
    np.savez(out / "digits.npz", x_train=x[trn], y_train=y[trn], x_test=x[test], y_test=y[test])
    meta = {"python": sys.version.split()[0], "stdlib_files": len(files), "heldout_files": len(held),
            "train_bytes": sum(map(len, train)), "heldout_bytes": sum(map(len, held)),
            "digits_train": len(trn), "digits_test": len(test)}
    (out / "data.json").write_text(json.dumps(meta, indent=2))
    print(meta)


def _batches_lm(data: np.ndarray, batch: int, seq: int, rng):
    starts = rng.integers(0, len(data) - seq - 1, batch)
    idx = starts[:, None] + np.arange(seq + 1)
    return data[idx]


def train_model(spec, data_dir: Path, steps: int, device: str, seed: int):
    import torch
    import torch.nn.functional as F
    from model_torch import Transformer

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Transformer(spec).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3 if spec.name == "vision" else 2e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opt.param_groups[0]["lr"], total_steps=steps, pct_start=0.1)
    if spec.name == "lm":
        data = np.frombuffer((data_dir / "lm_train.bin").read_bytes(), dtype=np.uint8).astype(np.int64)
        batch = 64
    else:
        d = np.load(data_dir / "digits.npz")
        xs, ys = d["x_train"].astype(np.int64), d["y_train"]
        batch = 128
    start = time.time()
    for step in range(steps):
        if spec.name == "lm":
            chunk = torch.from_numpy(_batches_lm(data, batch, spec.seq, rng)).to(device)
            logits = model(chunk[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, spec.n_out), chunk[:, 1:].reshape(-1))
        else:
            idx = rng.integers(0, len(xs), batch)
            xb = torch.from_numpy(xs[idx]).to(device)
            # light augmentation: random 1-pixel shifts
            shift = int(rng.integers(-1, 2)), int(rng.integers(-1, 2))
            xb = torch.roll(xb.view(-1, 8, 8), shifts=shift, dims=(1, 2)).view(-1, 64)
            logits = model(xb)
            loss = F.cross_entropy(logits, torch.from_numpy(ys[idx]).to(device))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 200 == 0 or step == steps - 1:
            print(f"{spec.name} step {step} loss {loss.item():.4f} ({time.time() - start:.0f} s)", flush=True)
    return model, time.time() - start


def evaluate_torch(model, spec, data_dir: Path, device: str, attention=None, max_windows=None):
    """Held-out metric: perplexity (lm, non-overlapping windows) or accuracy (vision)."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        if spec.name == "lm":
            data = np.frombuffer((data_dir / "lm_heldout.bin").read_bytes(), dtype=np.uint8).astype(np.int64)
            n = (len(data) - 1) // spec.seq
            n = min(n, max_windows or n)
            idx = np.arange(n)[:, None] * spec.seq + np.arange(spec.seq + 1)
            total, count = 0.0, 0
            for i in range(0, n, 64):
                chunk = torch.from_numpy(data[idx[i:i + 64]]).to(device)
                logits = model(chunk[:, :-1], attention)
                total += F.cross_entropy(logits.reshape(-1, spec.n_out), chunk[:, 1:].reshape(-1),
                                         reduction="sum").item()
                count += chunk[:, 1:].numel()
            return math.exp(total / count)
        d = np.load(data_dir / "digits.npz")
        logits = model(torch.from_numpy(d["x_test"].astype(np.int64)).to(device), attention)
        return float((logits.argmax(-1).cpu().numpy() == d["y_test"]).mean())


def calibrate_scales(model, spec, data_dir: Path, device: str):
    """Static symmetric int8 scales per (layer, head): max |q|, |k| over training data / 127."""
    import torch

    amax = torch.zeros(spec.n_layers, spec.n_heads, 2, device=device)

    def probe(layer, q, k, v, allowed):
        amax[layer, :, 0] = torch.maximum(amax[layer, :, 0], q.abs().amax(dim=(0, 2, 3)))
        amax[layer, :, 1] = torch.maximum(amax[layer, :, 1], k.abs().amax(dim=(0, 2, 3)))
        from model_torch import float_attention
        return float_attention(layer, q, k, v, allowed)

    rng = np.random.default_rng(1)
    with torch.no_grad():
        for _ in range(8):
            model(_calibration_batch(spec, data_dir, rng, device), probe)
    return (amax / 127.0).clamp_min(1e-6)


def _calibration_batch(spec, data_dir, rng, device):
    import torch

    if spec.name == "lm":
        data = np.frombuffer((data_dir / "lm_train.bin").read_bytes(), dtype=np.uint8).astype(np.int64)
        return torch.from_numpy(_batches_lm(data, 32, spec.seq, rng)[:, :-1]).to(device)
    d = np.load(data_dir / "digits.npz")
    return torch.from_numpy(d["x_train"][rng.integers(0, len(d["x_train"]), 256)].astype(np.int64)).to(device)


def train_thresholds(model, spec, data_dir: Path, scales, device: str, steps: int, target_keep: float, seed: int):
    """Learn one threshold per (layer, head): task loss + a penalty on keeping more than target."""
    import torch
    import torch.nn.functional as F
    from model_torch import SoftLatteAttention

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.requires_grad_(False)
    log_t = torch.full((spec.n_layers, spec.n_heads), math.log(8.0), device=device, requires_grad=True)
    opt = torch.optim.Adam([log_t], lr=0.05)
    start = time.time()
    for step in range(steps):
        att = SoftLatteAttention(scales, log_t)
        if spec.name == "lm":
            data = np.frombuffer((data_dir / "lm_train.bin").read_bytes(), dtype=np.uint8).astype(np.int64)
            chunk = torch.from_numpy(_batches_lm(data, 16, spec.seq, rng)).to(device)
            loss = F.cross_entropy(model(chunk[:, :-1], att).reshape(-1, spec.n_out), chunk[:, 1:].reshape(-1))
        else:
            d = np.load(data_dir / "digits.npz")
            idx = rng.integers(0, len(d["x_train"]), 256)
            logits = model(torch.from_numpy(d["x_train"][idx].astype(np.int64)).to(device), att)
            loss = F.cross_entropy(logits, torch.from_numpy(d["y_train"][idx]).to(device))
        kept = sum(k for k, _ in att.kept) / sum(a for _, a in att.kept)
        total = loss + 20.0 * torch.relu(kept - target_keep)
        opt.zero_grad()
        total.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"{spec.name} thresholds step {step} loss {loss.item():.4f} kept {kept.item():.3f}", flush=True)
    return torch.round(torch.exp(log_t)).long().cpu().numpy(), time.time() - start


def cmd_all(args):
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    data_dir, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = args.device
    plan = {"lm": (args.lm_steps, 0.12), "vision": (args.vision_steps, 0.15)}
    for name in args.workloads.split(","):
        spec = SPECS[name]
        steps, target_keep = plan[name]
        model, train_s = train_model(spec, data_dir, steps, device, seed=0)
        model.eval()
        metric = evaluate_torch(model, spec, data_dir, device)
        print(f"{name}: held-out {'perplexity' if name == 'lm' else 'accuracy'} {metric:.4f} after {train_s:.0f} s",
              flush=True)
        scales = calibrate_scales(model, spec, data_dir, device)
        thresholds, thr_s = train_thresholds(model, spec, data_dir, scales, device, args.threshold_steps,
                                             target_keep, seed=0)
        weights = {k: v.detach().cpu().numpy().astype(np.float16) for k, v in model.p.items()}
        np.savez_compressed(out / f"{name}_weights.npz", **weights)
        meta = {
            "spec": spec.to_dict(),
            "data": json.loads((data_dir / "data.json").read_text()),
            "corpus": "Python standard library top-level *.py files, sorted by name; every 10th file held out"
                      if name == "lm" else "scikit-learn digits (1797 8x8 images), seeded permutation, 360 test",
            "training": {"steps": steps, "seed": 0, "optimizer": "AdamW + OneCycle", "seconds": round(train_s, 1),
                         "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
                         "torch": torch.__version__},
            "metric": {"name": "perplexity" if name == "lm" else "accuracy", "heldout_float_torch": metric},
            "int8_scales": scales.cpu().numpy().tolist(),
            "trained_thresholds": {"values": thresholds.tolist(), "target_keep": target_keep,
                                   "steps": args.threshold_steps, "seconds": round(thr_s, 1)},
        }
        (out / f"{name}_model.json").write_text(json.dumps(meta, indent=1))
        print(f"{name}: wrote {out}/{name}_weights.npz, {name}_model.json", flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("data")
    p.add_argument("--out", default="build/workload_data")
    p = sub.add_parser("all")
    p.add_argument("--data", default="build/workload_data")
    p.add_argument("--out", default="build/trained")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workloads", default="lm,vision")
    p.add_argument("--lm-steps", type=int, default=3000)
    p.add_argument("--vision-steps", type=int, default=3000)
    p.add_argument("--threshold-steps", type=int, default=300)
    args = ap.parse_args()
    {"data": cmd_data, "all": cmd_all}[args.cmd](args)


if __name__ == "__main__":
    main()
