"""NumPy inference of the trained models (no torch at run time), attention pluggable.

`attention(layer, q, k, v, allowed)` gets q, k, v [B, H, S, dh] (float64) and the allowed-key mask
[S, S] and returns the attention output [B, H, S, dh]; see attention.py for the modes.
"""

from __future__ import annotations

import math

import numpy as np

from .spec import ModelSpec


def layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x):  # tanh approximation (torch: approximate="tanh")
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def embed(spec: ModelSpec, p: dict, tokens: np.ndarray) -> np.ndarray:
    """lm: byte ids [B, S]; vision: pixel values 0..16 [B, 64]."""
    if spec.name == "lm":
        return p["tok_emb"][tokens] + p["pos_emb"][: tokens.shape[1]]
    x = tokens[..., None].astype(np.float64) / 16.0
    return x * p["pix_w"] + p["pix_b"] + p["pos_emb"]


def forward(spec: ModelSpec, p: dict, tokens: np.ndarray, attention) -> np.ndarray:
    """Logits: lm [B, S, 256]; vision [B, 10]."""
    x = embed(spec, p, tokens).astype(np.float64)
    b, s, _ = x.shape
    h, dh = spec.n_heads, spec.head_dim
    allowed = np.tril(np.ones((s, s), bool)) if spec.causal else np.ones((s, s), bool)
    for i in range(spec.n_layers):
        y = layer_norm(x, p[f"l{i}_ln1_g"], p[f"l{i}_ln1_b"])
        q, k, v = (
            (y @ p[f"l{i}_w{n}"]).reshape(b, s, h, dh).transpose(0, 2, 1, 3) for n in ("q", "k", "v"))
        o = attention(i, q, k, v, allowed)
        x = x + o.transpose(0, 2, 1, 3).reshape(b, s, h * dh) @ p[f"l{i}_wo"] + p[f"l{i}_bo"]
        y = layer_norm(x, p[f"l{i}_ln2_g"], p[f"l{i}_ln2_b"])
        x = x + gelu(y @ p[f"l{i}_w1"] + p[f"l{i}_b1"]) @ p[f"l{i}_w2"] + p[f"l{i}_b2"]
    x = layer_norm(x, p["ln_f_g"], p["ln_f_b"])
    if spec.name == "vision":
        x = x.mean(axis=1)
    return x @ p["head_w"] + p["head_b"]
