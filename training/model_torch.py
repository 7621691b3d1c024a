"""The torch twin of latte_rtl/workloads/numpy_model.py (same parameter names and maths)."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Transformer(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        d, f = spec.d_model, spec.d_ff
        p = {}
        if spec.name == "lm":
            p["tok_emb"] = torch.randn(spec.vocab, d) * 0.02
        else:
            p["pix_w"] = torch.randn(d) * 0.02
            p["pix_b"] = torch.zeros(d)
        p["pos_emb"] = torch.randn(spec.seq, d) * 0.02
        for i in range(spec.n_layers):
            p[f"l{i}_ln1_g"], p[f"l{i}_ln1_b"] = torch.ones(d), torch.zeros(d)
            for n in ("q", "k", "v", "o"):
                p[f"l{i}_w{n}"] = torch.randn(d, d) / math.sqrt(d)
            p[f"l{i}_bo"] = torch.zeros(d)
            p[f"l{i}_ln2_g"], p[f"l{i}_ln2_b"] = torch.ones(d), torch.zeros(d)
            p[f"l{i}_w1"], p[f"l{i}_b1"] = torch.randn(d, f) / math.sqrt(d), torch.zeros(f)
            p[f"l{i}_w2"] = torch.randn(f, d) / math.sqrt(f) / math.sqrt(2 * spec.n_layers)
            p[f"l{i}_b2"] = torch.zeros(d)
        p["ln_f_g"], p["ln_f_b"] = torch.ones(d), torch.zeros(d)
        p["head_w"], p["head_b"] = torch.randn(d, spec.n_out) / math.sqrt(d), torch.zeros(spec.n_out)
        self.p = nn.ParameterDict({k: nn.Parameter(v) for k, v in p.items()})

    def forward(self, tokens, attention=None):
        """attention(layer, q, k, v, allowed) -> out, all [B, H, S, dh]; default: float softmax."""
        spec, p = self.spec, self.p
        if spec.name == "lm":
            x = p["tok_emb"][tokens] + p["pos_emb"][: tokens.shape[1]]
        else:
            x = tokens[..., None].float() / 16.0 * p["pix_w"] + p["pix_b"] + p["pos_emb"]
        b, s, _ = x.shape
        h, dh = spec.n_heads, spec.head_dim
        allowed = torch.ones(s, s, dtype=torch.bool, device=x.device)
        if spec.causal:
            allowed = torch.tril(allowed)
        attention = attention or float_attention
        for i in range(spec.n_layers):
            y = F.layer_norm(x, (spec.d_model,), p[f"l{i}_ln1_g"], p[f"l{i}_ln1_b"])
            q, k, v = ((y @ p[f"l{i}_w{n}"]).view(b, s, h, dh).transpose(1, 2) for n in ("q", "k", "v"))
            o = attention(i, q, k, v, allowed)
            x = x + o.transpose(1, 2).reshape(b, s, h * dh) @ p[f"l{i}_wo"] + p[f"l{i}_bo"]
            y = F.layer_norm(x, (spec.d_model,), p[f"l{i}_ln2_g"], p[f"l{i}_ln2_b"])
            x = x + F.gelu(y @ p[f"l{i}_w1"] + p[f"l{i}_b1"], approximate="tanh") @ p[f"l{i}_w2"] + p[f"l{i}_b2"]
        x = F.layer_norm(x, (spec.d_model,), p["ln_f_g"], p["ln_f_b"])
        if spec.name == "vision":
            x = x.mean(dim=1)
        return x @ p["head_w"] + p["head_b"]


def float_attention(layer, q, k, v, allowed):
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(~allowed, float("-inf")), dim=-1) @ v


class SoftLatteAttention:
    """Differentiable LATTE filter for learning one threshold per (layer, head).

    int8 q/k with static scales; HH from the high nibbles; hard mask HH >= max - T in the forward
    pass, gradient of sigmoid((HH - (max - T)) / tau) in the backward pass (straight-through).
    """

    def __init__(self, scales, log_t, tau=2.0):
        self.scales, self.log_t, self.tau = scales, log_t, tau  # scales [L, H, 2]; log_t [L, H] learnable
        self.kept = []

    def __call__(self, layer, q, k, v, allowed):
        sq = self.scales[layer, :, 0].view(1, -1, 1, 1)
        sk = self.scales[layer, :, 1].view(1, -1, 1, 1)
        qi = torch.clamp(torch.round(q / sq), -127, 127).detach()
        ki = torch.clamp(torch.round(k / sk), -127, 127).detach()
        hh = torch.floor(qi / 16) @ torch.floor(ki / 16).transpose(-1, -2)  # arithmetic >> 4
        hh = hh.masked_fill(~allowed, -1e9)
        t = torch.exp(self.log_t[layer]).view(1, -1, 1, 1)
        margin = hh - (hh.max(dim=-1, keepdim=True).values - t)
        soft = torch.sigmoid(margin / self.tau)
        keep = ((margin >= 0).float() - soft).detach() + soft
        keep = keep * allowed
        self.kept.append((keep.sum(), allowed.sum() * q.shape[0] * q.shape[1]))
        # exact int8 scores (straight-through on the quantization for q, k)
        qs = q + (qi * sq - q).detach()
        ks = k + (ki * sk - k).detach()
        s = qs @ ks.transpose(-1, -2) / math.sqrt(q.shape[-1])
        s = s.masked_fill(~allowed, float("-inf"))
        w = torch.exp(s - s.max(dim=-1, keepdim=True).values) * keep
        w = w / w.sum(dim=-1, keepdim=True).clamp_min(1e-9)
        return w @ v
