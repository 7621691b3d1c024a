"""SmolLM2-135M in PyTorch, written independently of the NumPy model: Meta's reference Llama
style (RoPE as complex rotations of consecutive pairs, GQA by repeat_interleave of K/V,
torch's scaled_dot_product_attention), on the same dequantized GGUF weights. For the live parity
test and for the stored reference logits:

    python training/smollm2_torch.py      # writes latte_rtl/data/smollm2_reference.json
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "latte_rtl" / "data" / "smollm2_reference.json"
REFERENCE_TEXT = ("Python is an easy to learn, powerful programming language. It has efficient high-level data "
                  "structures and a simple but effective approach to object-oriented programming. Python's elegant "
                  "syntax and dynamic typing, together with its interpreted nature, make it an ideal language.")


class SmolLM2Torch(torch.nn.Module):
    def __init__(self, model, dtype=torch.float64, device="cpu"):
        super().__init__()
        self.m = model
        self.w = {k: torch.from_numpy(np.array(v)).to(device=device, dtype=dtype) for k, v in model.params.items()}

    def _rope(self, x, s):
        dh, dev = x.shape[-1], x.device
        freqs = 1.0 / (self.m.rope_base ** (torch.arange(0, dh, 2, dtype=torch.float64, device=dev) / dh))
        rot = torch.polar(torch.ones(s, dh // 2, dtype=torch.float64, device=dev),
                          torch.outer(torch.arange(s, device=dev).double(), freqs))
        xc = torch.view_as_complex(x.double().reshape(*x.shape[:-1], dh // 2, 2).contiguous())
        return torch.view_as_real(xc * rot).reshape(x.shape).to(x.dtype)

    def _norm(self, x, name):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.m.eps) * self.w[name]

    def _attention(self, layer, q, k, v):
        """Causal attention of one layer: q, k, v [heads, S, head_dim] (K/V already repeated per query head)."""
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def forward(self, ids):
        """Logits [S, vocab] of one sequence ids [S]."""
        m, w, s = self.m, self.w, ids.shape[0]
        x = w["token_embd.weight"][ids]
        for i in range(m.n_layers):
            y = self._norm(x, f"blk.{i}.attn_norm.weight")
            q = (y @ w[f"blk.{i}.attn_q.weight"].T).view(s, m.n_heads, m.head_dim).transpose(0, 1)
            k = (y @ w[f"blk.{i}.attn_k.weight"].T).view(s, m.n_kv_heads, m.head_dim).transpose(0, 1)
            v = (y @ w[f"blk.{i}.attn_v.weight"].T).view(s, m.n_kv_heads, m.head_dim).transpose(0, 1)
            q, k = self._rope(q, s), self._rope(k, s)
            k, v = k.repeat_interleave(m.group, 0), v.repeat_interleave(m.group, 0)
            o = self._attention(i, q, k, v).transpose(0, 1).reshape(s, -1)
            x = x + o @ w[f"blk.{i}.attn_output.weight"].T
            y = self._norm(x, f"blk.{i}.ffn_norm.weight")
            x = x + (F.silu(y @ w[f"blk.{i}.ffn_gate.weight"].T) * (y @ w[f"blk.{i}.ffn_up.weight"].T)) \
                @ w[f"blk.{i}.ffn_down.weight"].T
        return self._norm(x, "output_norm.weight") @ w["token_embd.weight"].T


def reference() -> dict:
    """Torch (float64) logits of REFERENCE_TEXT: every position's argmax, and the logits of 6
    positions at their top-4 ids and 4 fixed ids."""
    from latte_rtl.workloads.smollm2 import load_smollm2, tokenize

    ids = tokenize(REFERENCE_TEXT)
    with torch.no_grad():
        logits = SmolLM2Torch(load_smollm2())(torch.from_numpy(ids)).numpy()
    positions = np.linspace(0, len(ids) - 1, 6).astype(int)
    fixed = [0, 2, 504, 30000]
    vocab = [sorted(set(np.argsort(logits[p])[-4:].tolist()) | set(fixed)) for p in positions]
    return {"text": REFERENCE_TEXT, "ids": ids.tolist(), "argmax": logits.argmax(-1).tolist(),
            "positions": positions.tolist(), "vocab_ids": vocab,
            "logits": [[round(float(logits[p, t]), 6) for t in vs] for p, vs in zip(positions, vocab)],
            "torch": torch.__version__, "dtype": "float64"}


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT)]
    REFERENCE.write_text(json.dumps(reference(), indent=1) + "\n")
    print(f"wrote {REFERENCE.relative_to(ROOT)} with torch {torch.__version__}")
