"""Learned thresholds for SmolLM2 (LATTE's trainable threshold, model weights frozen), on a GPU.

The thresholds T [layer, head, row-length bucket] (relative, in units of the centred estimate E) of
`evaluate --workload smollm2`'s LATTE setting are trained through a soft mask
m_j = sigmoid((T − (max E − E_j)) / τ) on the calibration windows: loss = next-token cross-entropy
+ λ · (mean m over the keys the threshold decides). q and k are int8 with the static scales (a
straight-through rounding), E and the scores are exact integers (float32 products of int8 values,
TF32 off); key 0, the last 16 keys and layer 0 are kept as the hardware keeps them. T starts from the
calibration to k kept keys per row; the rounded result goes into latte_rtl/data/smollm2_learned.json,
which `evaluate --workload smollm2 --context C` reads (a "LATTE learned" row per entry of context C):

    python training/smollm2_thresholds.py --context 1024 --kept 64 --lam 0.5,1,2 --steps 120
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from smollm2_torch import SmolLM2Torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "latte_rtl" / "data" / "smollm2_learned.json"


class SoftMaskModel(SmolLM2Torch):
    """SmolLM2 (frozen float32 weights on `device`) whose attention keeps keys through the soft mask."""

    def __init__(self, model, scales, rules, device):
        super().__init__(model, torch.float32, device)
        self.rules, self.dev = rules, device
        self.scales = torch.tensor(scales, dtype=torch.float32, device=device)
        self._soft = None  # (t, tau, bucket, [kept, decided]) of the forward pass under way

    def forward(self, ids, t, tau, bucket):
        """Logits [S, vocab] and (soft kept, decided) sums of one window; t [L, H, NB] (NaN: keep all)."""
        sums = [torch.zeros((), device=self.dev), 0.0]
        self._soft = (t, tau, bucket, sums)
        try:
            logits = super().forward(ids)
        finally:
            self._soft = None
        return logits, sums[0], sums[1]

    def _attention(self, layer, q, k, v):
        t, tau, bucket, sums = self._soft
        o, kept, decided = self._soft_attention(layer, q, k, v, t[layer], tau, bucket)
        sums[0], sums[1] = sums[0] + kept, sums[1] + decided
        return o

    def _soft_attention(self, layer, q, k, v, t, tau, bucket):
        s, dh = q.shape[1], q.shape[2]
        sq, sk = self.scales[layer, :, 0, None, None], self.scales[layer, :, 1, None, None]
        qi, ki = _ste_int8(q / sq), _ste_int8(k / sk)
        scores = (qi @ ki.transpose(1, 2)) * (sq * sk.transpose(1, 2) / dh ** 0.5)
        with torch.no_grad():
            qh, kh = torch.floor(qi / 16), torch.floor(ki / 16)
            est = 32 * (qh @ kh.transpose(1, 2)) + 15 * (qh.sum(-1)[:, :, None] + kh.sum(-1)[:, None, :])
            causal = torch.ones(s, s, dtype=torch.bool, device=self.dev).tril()
            gap = est.masked_fill(~causal, -1e30).amax(-1, keepdim=True) - est
            r, j = torch.arange(s, device=self.dev)[:, None], torch.arange(s, device=self.dev)[None, :]
            forced = (j < self.rules["sink_keys"]) | (j > r - self.rules["window_keys"])
        row_t = t[:, bucket][:, :, None]  # [H, S, 1]
        free = causal & ~forced & ~torch.isnan(row_t).detach() & (layer >= self.rules["dense_layers"])
        soft = torch.sigmoid((torch.nan_to_num(row_t) - gap) / tau)
        mask = torch.where(free, soft, causal.to(soft.dtype))
        logits = scores + torch.log(mask.clamp_min(1e-12))
        logits = logits.masked_fill(~causal, float("-inf"))
        return torch.softmax(logits, -1) @ v, (soft * free).sum(), float(free.sum())


def _ste_int8(x):
    return x + (torch.clamp(torch.round(x), -127, 127) - x).detach()


def train(context, kept, lam, steps, lr, tau_frac, jobs, n_windows=None, log=print):
    from latte_rtl.workloads.smollm2 import load_smollm2, windows
    from latte_rtl.workloads.smollm2_calib import buckets
    from latte_rtl.workloads.smollm2_eval import BEST, META, calibrate

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = load_smollm2()
    scales = np.array(json.loads(META.read_text())["int8_scales"])
    calib = windows("calib", n_windows, context)
    start = time.monotonic()
    t0 = calibrate(calib, scales, (kept,), (jobs, None)).kept_count(kept, "centred").astype(np.float64)
    log(f"calibrated T to k {kept} on {len(calib)} windows of {context} ({time.monotonic() - start:.0f} s)")
    rules = {"sink_keys": BEST.sink_keys, "window_keys": BEST.window_keys, "dense_layers": BEST.dense_layers}
    net = SoftMaskModel(model, scales, rules, dev)
    bucket = torch.from_numpy(buckets(context)).to(dev)
    ids = torch.from_numpy(calib).to(dev)
    results = []
    for lam_i in lam:
        t = torch.tensor(np.where(t0 < 0, np.nan, t0), dtype=torch.float32, device=dev)
        unset = torch.isnan(t)
        param = torch.nn.Parameter(torch.nan_to_num(t))
        opt = torch.optim.Adam([param], lr=lr)
        tau = max(1.0, tau_frac * float(np.nanmedian(np.where(t0 < 0, np.nan, t0))))
        for step in range(steps):
            w = ids[step % len(ids)]
            logits, soft, decided = net(w[:-1], param.masked_fill(unset, float("nan")), tau, bucket)
            ce = F.cross_entropy(logits, w[1:])
            loss = ce + lam_i * soft / decided
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                param.clamp_(min=0)
            if step % 20 == 0 or step == steps - 1:
                log(f"  λ {lam_i}: step {step} ce {ce.item():.4f} soft kept {soft.item() / decided:.3f}")
        final = torch.where(unset, torch.full_like(param, -1), torch.round(param)).long().cpu().numpy()
        results.append({"lam": lam_i, "kept_init": kept, "tau": tau, "steps": steps, "lr": lr,
                        "thresholds": final.tolist(), "initial": t0.astype(np.int64).tolist()})
    return {"context": context, "calib_windows": len(calib), "device": torch.cuda.get_device_name() if dev == "cuda"
            else "cpu", "torch": torch.__version__, "entries": results}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--context", type=int, default=1024, choices=(512, 1024, 2048))
    p.add_argument("--kept", type=int, default=64, help="k of the starting calibration")
    p.add_argument("--lam", default="1", help="comma-separated sparsity weights λ (one entry each)")
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--lr", type=float, default=40.0, help="Adam step size, in E units")
    p.add_argument("--tau", type=float, default=0.1, help="soft-mask temperature as a fraction of the median T")
    p.add_argument("--jobs", type=int, default=1, help="processes of the NumPy calibration")
    p.add_argument("--windows", type=int, default=None, help="calibration windows to train on (default all)")
    p.add_argument("-o", "--output", default=str(OUT))
    a = p.parse_args()
    result = train(a.context, a.kept, [float(x) for x in a.lam.split(",")], a.steps, a.lr, a.tau, a.jobs, a.windows)
    out = Path(a.output)
    data = json.loads(out.read_text()) if out.exists() else {"contexts": {}}
    data["contexts"][str(a.context)] = result
    out.write_text(json.dumps(data) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT)]
    main()
