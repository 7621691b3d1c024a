"""`dump --workload smollm2`: one SmolLM2 layer's Q, K, V at a long context in the docs/spec.md §6 input
format, with the grouped-query head mapping (3 KV heads, 9 query heads)."""

from __future__ import annotations

import json

import numpy as np

from latte_rtl.golden import score_rows, threshold_for_keep

from ..config import AttentionConfig, ScoreConfig
from ..errors import UserError
from .attention import softmax_multiplier
from .smollm2 import TEXT, load_smollm2, tokenize
from .smollm2_eval import META

MAX_CONTEXT = 8192  # the GGUF's llama.context_length


def causal_float_attention(q, k, v, block: int = 512) -> np.ndarray:
    """softmax(q kᵀ / √d) v, causal, q/k/v [H, S, d], in row blocks (8k tokens fit in memory)."""
    s, dh = q.shape[1:]
    out = np.empty(q.shape, np.float32)
    for a in range(0, s, block):
        b = min(s, a + block)
        scores = q[:, a:b] @ k[:, :b].transpose(0, 2, 1) / np.sqrt(dh)
        scores = np.where(np.arange(b)[None, None, :] <= np.arange(a, b)[None, :, None], scores, -np.inf)
        p = np.exp(scores - scores.max(-1, keepdims=True))
        out[:, a:b] = (p / p.sum(-1, keepdims=True)) @ v[:, :b]
    return out


def dump_smollm2(*, layer: int = 1, keys: int = 1024, rows: int | None = None, sample: int = 0,
                 attention: AttentionConfig | None = None, keep: float = 0.12) -> dict:
    """One layer (see dump_smollm2_layers)."""
    return dump_smollm2_layers(layers=[layer], keys=keys, rows=rows, sample=sample, attention=attention,
                               keep=keep)[layer]


def dump_smollm2_layers(*, layers, keys: int = 1024, rows: int | None = None, sample: int = 0,
                        attention: AttentionConfig | None = None, keep: float = 0.12) -> dict[int, dict]:
    """Layers `layers` (None: all) on `keys` consecutive tokens of the test text (from window offset `sample` ·
    keys): k, v [3, N, d] (the KV cache, int8), q [9 · rows, d] (the last `rows` positions of each
    query head, head-major), heads [R] (KV head of each row: query head // 3), q_head [R],
    key_limit [R] (causal: position + 1), thresholds [3] (relative, calibrated on the dump at
    `keep`), softmax_mult [3]. A GQA engine shares one M_h per KV head, so q is quantized with the
    group's scale (max |q| of its 3 query heads / 127). Every layer runs float attention (one forward
    through the last layer asked for); returns {layer: arrays}."""
    if not 1 <= keys <= MAX_CONTEXT:
        raise UserError(f"--keys={keys} is out of range: expected 1..{MAX_CONTEXT} (SmolLM2's context)")
    rows = min(16, keys) if rows is None else rows
    if not 1 <= rows <= keys:
        raise UserError(f"--rows={rows} is out of range: expected 1..{keys} (--keys)")
    model = load_smollm2()
    layers = list(range(model.n_layers)) if layers is None else list(layers)
    for layer in layers:
        if not 0 <= layer < model.n_layers:
            raise UserError(f"--layer={layer} is out of range: expected 0..{model.n_layers - 1}")
    ids = tokenize("\n\n".join(json.loads(TEXT.read_text())["test"].values()))
    if not 0 <= sample < len(ids) // keys:
        raise UserError(f"--sample={sample} is out of range: expected 0..{len(ids) // keys - 1} "
                        f"({len(ids)} test tokens in windows of --keys={keys})")
    captured = {}

    def probe(i, q, k, v, allowed):
        if i in layers:
            captured[i] = {"q": q[0, :, -rows:], "k": k[0, ::model.group], "v": v[0, ::model.group]}
        return causal_float_attention(q[0], k[0], v[0])[None]

    model.hidden(ids[None, sample * keys:(sample + 1) * keys], probe, stop_after=max(layers))
    return {i: _arrays(model, captured[i], i, rows, attention or AttentionConfig(), keep) for i in layers}


def _arrays(model, cap, layer, rows, attention, keep) -> dict:
    n_kv, g, n = model.n_kv_heads, model.group, cap["k"].shape[1]
    scales = np.array(json.loads(META.read_text())["int8_scales"])[layer]
    s_q = scales[:, 0].reshape(n_kv, g).max(axis=1)  # one S_q per KV head (its group)
    s_k = scales[::g, 1]
    s_v = np.maximum(np.abs(cap["v"]).max(axis=(1, 2)), 1e-12) / 127.0
    q_float = cap["q"][:, -rows:]  # [9, rows, d]
    q = np.clip(np.rint(q_float / np.repeat(s_q, g)[:, None, None]), -127, 127).astype(np.int8)
    k = np.clip(np.rint(cap["k"] / s_k[:, None, None]), -127, 127).astype(np.int8)
    v = np.clip(np.rint(cap["v"] / s_v[:, None, None]), -127, 127).astype(np.int8)
    q_head = np.repeat(np.arange(model.n_heads), rows)
    heads, key_limit = q_head // g, np.tile(np.arange(n - rows, n) + 1, model.n_heads)
    cfg = ScoreConfig(bits=8, msb_bits=4, dim=model.head_dim, lanes=1, heads=n_kv, max_keys=max(2, n))
    mask = np.arange(n)[None, :] < key_limit[:, None]
    est = score_rows(q.reshape(-1, q.shape[-1]), k, heads, np.zeros(n_kv, np.int64), cfg, key_mask=mask).estimate
    thresholds = [threshold_for_keep(est[heads == h], keep, "relative", mask[heads == h]) for h in range(n_kv)]
    return {"q": q.reshape(-1, q.shape[-1]), "k": k, "v": v, "heads": heads, "q_head": q_head,
            "key_limit": key_limit, "thresholds": np.clip(thresholds, *cfg.widths.threshold_range).astype(np.int64),
            "softmax_mult": softmax_multiplier(s_q, s_k, model.head_dim, attention), "scale_q": s_q,
            "scale_k": s_k, "scale_v": s_v, "q_float": q_float.reshape(-1, q.shape[-1]).astype(np.float32),
            "k_float": cap["k"].astype(np.float32), "v_float": cap["v"].astype(np.float32)}


def decode_arrays(arrays: dict, cfg: ScoreConfig, kept: int) -> dict:
    """A decode design's input from a dump's arrays: its thresholds in the design's mode and estimate by
    `calibrate --kept`'s rule (absolute: Top-θ's mean + 0.1σ of each row's `kept`-th largest estimate;
    relative: the mean of row max − that), one per KV head, calibrated on the dump's rows before the last
    position; then the last position of each query head alone (the token decoded: key_limit = N).
    A dump of one row calibrates on that row."""
    from types import SimpleNamespace

    from .dump import calibrate_kept

    heads, limit = arrays["heads"], arrays["key_limit"]
    n = arrays["k"].shape[1]
    last = limit == n
    calib = ~last if (~last).any() else last
    mask = np.arange(n)[None, :] < limit[calib, None]
    inp = SimpleNamespace(q=arrays["q"][calib].astype(np.int64), k=arrays["k"].astype(np.int64),
                          heads=heads[calib], thresholds=arrays["thresholds"], key_mask=mask)
    thresholds = np.asarray(calibrate_kept(inp, cfg, kept)["thresholds"], np.int64)
    out = {name: a[last] if name in ROW_ARRAYS else a for name, a in arrays.items()}
    return {**out, "thresholds": thresholds}


ROW_ARRAYS = ("q", "heads", "q_head", "key_limit", "q_float")
