"""Pluggable attention for the NumPy models: float, int8 dense, LATTE (relative), absolute.

The integer modes quantize q and k per (layer, head) with static symmetric int8 scales
(calibrated on training data, docs/spec.md §2) and run the estimate / filter / exact completion through
golden.score_rows, i.e. the same bit-exact arithmetic the RTL implements. Statistics count, per
(layer, head), the keys the mask allows and the keys kept.
"""

from __future__ import annotations

import numpy as np

from latte_rtl import golden
from latte_rtl.golden import score_rows, softmax_attention

from ..config import AttentionConfig, ScoreConfig

MODES = ("float", "int8", "latte", "absolute")


def softmax_multiplier(scale_q, scale_k, head_dim: int, attention: AttentionConfig,
                       softmax_scale: float | None = None) -> np.ndarray:
    """docs/spec.md §7: M_h = round(S_q S_k log2(e) · c · 2^(F+R)), c the model's score scale (default
    1/sqrt(d)), checked against its register."""
    from ..errors import UserError

    real = np.asarray(scale_q) * np.asarray(scale_k) * np.log2(np.e)
    real = real / np.sqrt(head_dim) if softmax_scale is None else real * softmax_scale
    mult = np.rint(real * 2.0 ** (attention.exp_frac_bits + attention.scale_shift)).astype(np.int64)
    top = (1 << attention.mult_bits) - 1
    if mult.max() > top:
        raise UserError(f"softmax_mult up to {mult.max()} does not fit mult_bits={attention.mult_bits}: lower "
                        f"--scale-shift (now {attention.scale_shift}) or raise --mult-bits")
    return mult


class IntegerSoftmax:
    """The §7 integer softmax and P·V for the NumPy models: `attention` (F, P, B, R, format),
    static V scales [L, H], optional C_h [L, H] (Top-θ's denominator compensation)."""

    def __init__(self, attention: AttentionConfig, v_scales, comp=None):
        self.attention, self.v_scales = attention, np.asarray(v_scales, dtype=np.float64)
        self.comp = None if comp is None else np.asarray(comp, dtype=np.int64)

    def __call__(self, layer: int, head: int, scores, kept, v, scale_q: float, scale_k: float):
        """scores int [S, N], kept bool [S, N], v float [N, dh] → the attention output (float)."""
        a = self.attention
        s_v = self.v_scales[layer, head]
        vi = quantize(v, s_v)
        mult = softmax_multiplier(scale_q, scale_k, v.shape[-1], a)
        comp = 0 if self.comp is None else self.comp[layer, head]
        res = golden.attention_rows(scores, kept, vi, np.zeros(len(scores), np.int64), np.array([mult]),
                                    np.array([comp]), **a.golden_params())
        return res["out"] * s_v / ((1 << a.prob_bits) - 1)


def quantize(x: np.ndarray, scale) -> np.ndarray:
    return np.clip(np.rint(x / scale), -127, 127).astype(np.int64)


class Attention:
    """Callable attention(layer, q, k, v, allowed) for numpy_model.forward.

    thresholds [L, H]: integer T per layer and head (units of the estimate E, HH or centred;
    relative or absolute by mode);
    scales [L, H, 2]: (S_q, S_k). With `capture`, the int8 q/k of every layer are kept (dumps).
    """

    def __init__(self, mode: str, n_layers: int, n_heads: int, head_dim: int, *, scales=None,
                 thresholds=None, capture: bool = False, integer: IntegerSoftmax | None = None,
                 estimate: str = "hh", round1_thresholds=None):
        if mode not in MODES:
            raise ValueError(f"attention mode {mode!r}: expected one of {MODES}")
        self.mode, self.head_dim = mode, head_dim
        self.scales = None if scales is None else np.asarray(scales, dtype=np.float64)
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.int64)
        self.kept = np.zeros((n_layers, n_heads), np.int64)
        self.allowed = np.zeros((n_layers, n_heads), np.int64)
        self.round1_thresholds = None if round1_thresholds is None else np.asarray(round1_thresholds, np.int64)
        self.survived = np.zeros((n_layers, n_heads), np.int64)  # keys that pass the first round (two rounds)
        self.capture, self.integer, self.estimate = capture, integer, estimate
        self.captured: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._cfg = {}

    def cfg(self, n_keys: int) -> ScoreConfig:
        mode = "absolute" if self.mode == "absolute" else "relative"
        key = (n_keys, mode)
        if key not in self._cfg:
            self._cfg[key] = ScoreConfig(bits=8, msb_bits=4, dim=self.head_dim, lanes=1, heads=1,
                                         max_keys=n_keys, threshold_mode=mode, estimate=self.estimate)
        return self._cfg[key]

    @property
    def keys_filtered(self) -> float:
        return 1.0 - self.kept.sum() / max(1, self.allowed.sum())

    @property
    def round1_survived(self) -> float | None:
        """Fraction of the allowed keys that pass the first round (None with one round)."""
        return None if self.round1_thresholds is None else float(self.survived.sum() / max(1, self.allowed.sum()))

    def __call__(self, layer, q, k, v, allowed):
        b, h, s, dh = q.shape
        self.allowed[layer] += allowed.sum() * b
        if self.mode == "float":
            self.kept[layer] += allowed.sum() * b
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh)
            return softmax_attention(scores, allowed, v)
        s_q = self.scales[layer, :, 0][None, :, None, None]
        s_k = self.scales[layer, :, 1][None, :, None, None]
        qi, ki = quantize(q, s_q), quantize(k, s_k)
        if self.capture:
            self.captured[layer] = (qi, ki, v)
        real = s_q * s_k / np.sqrt(dh)
        if self.mode == "int8" and self.integer is None:
            self.kept[layer] += allowed.sum() * b
            exact = qi.astype(np.float64) @ ki.astype(np.float64).transpose(0, 1, 3, 2)  # exact integers
            return softmax_attention(exact * real, allowed, v)
        out = np.zeros_like(q)
        cfg = self.cfg(s)
        for bi in range(b):
            for hi in range(h):
                if self.mode == "int8":
                    t = cfg.widths.threshold_range[1]  # relative T = 2 maxHH: every allowed key kept
                else:
                    t = int(np.clip(self.thresholds[layer, hi], *cfg.widths.threshold_range))
                t1 = None if self.round1_thresholds is None else np.clip(
                    self.round1_thresholds[layer, hi:hi + 1], *golden.round1_threshold_range(cfg, dh))
                res = score_rows(qi[bi, hi], ki[bi, hi], np.zeros(s, np.int64), np.array([t]), cfg,
                                 key_mask=allowed, round1_thresholds=t1)
                self.kept[layer, hi] += res.kept.sum()
                if t1 is not None:
                    self.survived[layer, hi] += res.survived.sum()
                if self.integer is None:
                    out[bi, hi] = softmax_attention(res.scores * real[0, hi, 0, 0], res.kept, v[bi, hi])
                else:
                    out[bi, hi] = self.integer(layer, hi, res.scores, res.kept, v[bi, hi],
                                               self.scales[layer, hi, 0], self.scales[layer, hi, 1])
        return out
