"""Record the Q, K, V entering attention in any PyTorch model and write them as docs/spec.md §6/§7 inputs.

    from latte_rtl.capture import capture
    with capture(model) as cap:                   # model optional: without it only SDPA calls are seen
        model(inputs)
    cap.save("layer0.npz", layer=0, keep=0.2)     # int8 q, k, v, thresholds, softmax_mult, scales
    # latte-rtl run DESIGN --qk layer0.npz   (a design with --attention --dim <head dim> --heads <H>)

Three sources, one record per attention call in call order (its index is the "layer"):
* `torch.nn.functional.scaled_dot_product_attention` (patched while the context is open): the
  tensors as called, mask, `is_causal`, `scale`, grouped K/V heads, and the output;
* `nn.MultiheadAttention` modules of `model`: an SDPA call inside is recorded as above, else
  (need_weights=True: torch's own matmul path) Q, K, V are the module's input projections;
* Hugging Face-style attention modules of `model` (Linear children query/key/value or
  q_proj/k_proj/v_proj): an SDPA call inside wins, else (eager attention) their projections.
torch is needed only here (`pip install torch==2.13.0`); nothing else in latte_rtl imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError

HF_PROJECTIONS = (("query", "key", "value"), ("q_proj", "k_proj", "v_proj"))


@dataclass
class Record:
    """One attention call: q [B, H, S, d], k and v [B, H, N, d] (float32, K/V heads repeated to
    H), allowed [S, N] (bool: the keys each query row may see), scale (of q·k), out [B, H, S, d]
    (the call's output) or None, and where it came from."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    allowed: np.ndarray
    scale: float
    out: np.ndarray | None
    source: str


def _require_torch():
    try:
        import torch
    except ImportError:
        raise UserError("capture needs PyTorch: pip install torch==2.13.0 (or any build for your machine)") from None
    return torch


def _numpy(t) -> np.ndarray:
    return t.detach().to("cpu").float().numpy()


def _allowed(mask, is_causal: bool, s: int, n: int, bool_means_allowed: bool = True) -> np.ndarray:
    """[S, N] allowed-key mask from an SDPA/MHA attention mask (bool or additive float; any leading
    dims must agree across batch and heads) and is_causal (top-left aligned, as SDPA)."""
    allowed = np.tril(np.ones((s, n), bool)) if is_causal else np.ones((s, n), bool)
    if mask is None:
        return allowed
    m = mask.detach().to("cpu").numpy()
    if m.dtype == np.bool_:
        ok = m if bool_means_allowed else ~m
    else:
        ok = m > -1e4  # additive: 0 allowed, -inf (or a large negative) masked
    ok = np.broadcast_to(ok, ok.shape[:-2] + (s, n)).reshape(-1, s, n)
    if not (ok == ok[:1]).all():
        raise UserError("capture: the attention mask differs between batch elements or heads; record one "
                        "sequence at a time (batch 1) or without a padding mask")
    return allowed & ok[0]


def _heads(x, n_heads: int):
    """[B, S, H*d] → [B, H, S, d]."""
    b, s, width = x.shape
    return x.reshape(b, s, n_heads, width // n_heads).transpose(1, 2)


class Capture:
    """The recorder `capture()` returns; `records` holds one Record per attention call."""

    def __init__(self, model=None):
        self.torch = _require_torch()
        self.model, self.records = model, []
        self._handles, self._active, self._saved = [], None, None

    # -- recording -------------------------------------------------------------------------------
    def _sdpa(self, original):
        def sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kw):
            out = original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                           scale=scale, **kw)
            if self._active is None or not self._active["seen"]:
                self._record_sdpa(query, key, value, attn_mask, is_causal, scale, out)
            if self._active is not None:
                self._active["seen"] = True
            return out
        return sdpa

    def _record_sdpa(self, query, key, value, attn_mask, is_causal, scale, out):
        if query.dim() == 3:  # unbatched [H, S, d]
            query, key, value, out = (t.unsqueeze(0) for t in (query, key, value, out))
        if query.dim() != 4:
            raise UserError(f"capture: scaled_dot_product_attention with q of shape {list(query.shape)}: "
                            "expected [B, H, S, d] or [H, S, d]")
        h, s, d = query.shape[1:]
        groups = h // key.shape[1]  # grouped-query attention: each K/V head serves `groups` query heads
        k, v = (t.repeat_interleave(groups, dim=1) for t in (key, value))
        self.records.append(Record(
            q=_numpy(query), k=_numpy(k), v=_numpy(v), allowed=_allowed(attn_mask, is_causal, s, key.shape[2]),
            scale=1 / math.sqrt(d) if scale is None else float(scale), out=_numpy(out),
            source=self._active["name"] if self._active else "scaled_dot_product_attention"))

    def _enter_module(self, name):
        def pre(module, args, kwargs):
            self._active = {"name": name, "seen": False, "args": args, "kwargs": kwargs, "proj": {}}
        return pre

    def _leave_module(self, fallback):
        def post(module, args, kwargs, output):
            active, self._active = self._active, None
            if not active["seen"]:
                self.records.append(fallback(module, active, output))
        return post

    def _mha_record(self, module, active, output):
        """nn.MultiheadAttention without SDPA: q, k, v from its input projections."""
        torch, F = self.torch, self.torch.nn.functional
        names = ("query", "key", "value")
        given = dict(zip(names, active["args"])) | {n: active["kwargs"][n] for n in names if n in active["kwargs"]}
        x = [given[n] if module.batch_first or given[n].dim() == 2 else given[n].transpose(0, 1) for n in names]
        x = [t if t.dim() == 3 else t.unsqueeze(0) for t in x]
        e = module.embed_dim
        if module.in_proj_weight is not None:
            w = module.in_proj_weight.split(e)
        else:
            w = (module.q_proj_weight, module.k_proj_weight, module.v_proj_weight)
        b = module.in_proj_bias.split(e) if module.in_proj_bias is not None else (None,) * 3
        with torch.no_grad():
            q, k, v = (_heads(F.linear(t, wi, bi), module.num_heads) for t, wi, bi in zip(x, w, b))
        kw = active["kwargs"]
        if kw.get("key_padding_mask") is not None:
            raise UserError("capture: nn.MultiheadAttention with key_padding_mask: record one sequence at a time "
                            "without padding")
        allowed = _allowed(kw.get("attn_mask"), bool(kw.get("is_causal", False)), q.shape[2], k.shape[2],
                           bool_means_allowed=False)
        return Record(q=_numpy(q), k=_numpy(k), v=_numpy(v), allowed=allowed, scale=1 / math.sqrt(q.shape[-1]),
                      out=None, source=active["name"])

    def _hf_record(self, names, module, active, output):
        """An eager Hugging Face-style attention module: q, k, v from its projections, no mask."""
        proj = active["proj"]
        h = (getattr(module, "num_attention_heads", None) or getattr(module, "num_heads", None)
             or module.config.num_attention_heads)
        d = proj[names[0]].shape[-1] // h
        q, k, v = (_heads(proj[n], proj[n].shape[-1] // d) for n in names)
        k, v = (t.repeat_interleave(h // t.shape[1], dim=1) for t in (k, v))
        ctx = output[0] if isinstance(output, tuple) else output
        out = _numpy(_heads(ctx, h)) if ctx.dim() == 3 and ctx.shape[-1] == h * d else None
        return Record(q=_numpy(q), k=_numpy(k), v=_numpy(v), allowed=np.ones((q.shape[2], k.shape[2]), bool),
                      scale=float(getattr(module, "scaling", 1 / math.sqrt(d))), out=out, source=active["name"])

    def _projection_hook(self, name):
        def hook(module, args, output):
            if self._active is not None:
                self._active["proj"][name] = output.detach()
        return hook

    def _install_module_hooks(self):
        nn = self.torch.nn
        for name, module in self.model.named_modules():
            children = dict(module.named_children())
            names = next((n for n in HF_PROJECTIONS if all(isinstance(children.get(c), nn.Linear) for c in n)), None)
            if isinstance(module, nn.MultiheadAttention):
                fallback = self._mha_record
            elif names is not None:
                fallback = lambda m, a, o, names=names: self._hf_record(names, m, a, o)  # noqa: E731
                self._handles += [children[c].register_forward_hook(self._projection_hook(c)) for c in names]
            else:
                continue
            self._handles.append(module.register_forward_pre_hook(self._enter_module(name), with_kwargs=True))
            self._handles.append(module.register_forward_hook(self._leave_module(fallback), with_kwargs=True))

    def __enter__(self) -> Capture:
        F = self.torch.nn.functional
        self._saved = (F.scaled_dot_product_attention, self.torch.backends.mha.get_fastpath_enabled())
        F.scaled_dot_product_attention = self._sdpa(self._saved[0])
        self.torch.backends.mha.set_fastpath_enabled(False)  # the fused MHA kernels bypass the modules
        if self.model is not None:
            self._install_module_hooks()
        return self

    def __exit__(self, *exc):
        self.torch.nn.functional.scaled_dot_product_attention = self._saved[0]
        self.torch.backends.mha.set_fastpath_enabled(self._saved[1])
        for handle in self._handles:
            handle.remove()
        self._handles, self._active = [], None
        return False

    # -- writing ---------------------------------------------------------------------------------
    def arrays(self, layer: int, *, sample: int = 0, keep: float | None = None, thresholds=None,
               attention=None) -> dict:
        """The §6/§7 input arrays of record `layer`, batch element `sample`; see `input_arrays`."""
        if not 0 <= layer < len(self.records):
            raise UserError(f"layer={layer} is out of range: {len(self.records)} attention calls were recorded")
        return input_arrays(self.records[layer], sample=sample, keep=keep, thresholds=thresholds,
                            attention=attention)

    def save(self, path, layer: int, **kw) -> dict:
        """Write `arrays(layer, **kw)` to `path` (.npz, atomically); returns the arrays."""
        from .design import atomic_write

        arrays = self.arrays(layer, **kw)
        atomic_write(Path(path), lambda f: np.savez_compressed(f, **arrays))
        return arrays


def capture(model=None) -> Capture:
    """Context manager recording Q, K, V of every attention call (see the module docstring)."""
    return Capture(model)


def _scale(x: np.ndarray) -> np.ndarray:
    """Symmetric int8 scale per head over batch and positions: max |x| / 127, [H]."""
    return np.maximum(np.abs(x).max(axis=(0, 2, 3)), 1e-12) / 127.0


def input_arrays(rec: Record, *, sample: int = 0, keep: float | None = None, thresholds=None,
                 attention=None) -> dict:
    """docs/spec.md §6/§7 input of one record: int8 q [H*S, d] (rows head-major), k and v [H, N, d], heads,
    thresholds [H] (given; else calibrated to keep a fraction `keep` of the keys; else keep-all),
    key_limit [H*S] when the mask is causal, softmax_mult [H] (for `attention`'s F and R and the
    call's scale), the per-(layer, head) scales over the whole batch, and the float tensors."""
    from latte_rtl.golden import score_rows, threshold_for_keep

    from .config import AttentionConfig, ScoreConfig
    from .workloads.attention import quantize, softmax_multiplier

    if not 0 <= sample < rec.q.shape[0]:
        raise UserError(f"sample={sample} is out of range: the record has {rec.q.shape[0]} batch elements")
    h, s, d = rec.q.shape[1:]
    n = rec.k.shape[2]
    limit = rec.allowed.sum(axis=1)
    if not (rec.allowed == (np.arange(n)[None, :] < limit[:, None])).all() or limit.min() < 1:
        raise UserError("capture: the attention mask is not a per-row key prefix with at least one key "
                        "(docs/spec.md §6 key_limit); record without that mask")
    scales = {name: _scale(getattr(rec, name)) for name in ("q", "k", "v")}
    qi, ki, vi = (quantize(getattr(rec, name)[sample], scales[name][:, None, None]) for name in ("q", "k", "v"))
    cfg = ScoreConfig(dim=d, lanes=1, heads=h, max_keys=n)  # lanes do not change the arithmetic
    heads = np.repeat(np.arange(h), s)
    key_limit = np.tile(limit, h)
    if thresholds is None and keep is not None:
        mask = np.arange(n)[None, :] < limit[:, None]
        thresholds = [threshold_for_keep(score_rows(qi[i], ki[i], np.zeros(s, np.int64), np.zeros(1, np.int64), cfg,
                                                    key_mask=mask).estimate, keep, "relative", mask)
                      for i in range(h)]
    if thresholds is None:
        thresholds = np.full(h, cfg.widths.threshold_range[1])
    arrays = {
        "q": qi.reshape(h * s, d).astype(np.int8), "k": ki.astype(np.int8), "v": vi.astype(np.int8),
        "heads": heads, "thresholds": np.clip(np.asarray(thresholds, np.int64), *cfg.widths.threshold_range),
        "softmax_mult": softmax_multiplier(scales["q"], scales["k"], d, attention or AttentionConfig(),
                                           softmax_scale=rec.scale),
        "scale_q": scales["q"], "scale_k": scales["k"], "scale_v": scales["v"],
        "q_float": rec.q[sample].reshape(h * s, d), "k_float": rec.k[sample], "v_float": rec.v[sample],
    }
    if (limit < n).any():
        arrays["key_limit"] = key_limit
    if rec.out is not None:
        arrays["out_float"] = rec.out[sample].reshape(h * s, d)
    return arrays
