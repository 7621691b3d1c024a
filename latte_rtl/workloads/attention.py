"""Pluggable attention for the NumPy models: float, int8 dense, LATTE (relative), absolute.

The integer modes quantize q and k per (layer, head) with static symmetric int8 scales
(calibrated on training data, SPEC §2) and run the estimate / filter / exact completion through
golden.score_rows, i.e. the same bit-exact arithmetic the RTL implements. Statistics count, per
(layer, head), the keys the mask allows and the keys kept.
"""

from __future__ import annotations

import numpy as np

from golden import score_rows, softmax_attention

from ..config import ScoreConfig

MODES = ("float", "int8", "latte", "absolute")


def quantize(x: np.ndarray, scale) -> np.ndarray:
    return np.clip(np.rint(x / scale), -127, 127).astype(np.int64)


class Attention:
    """Callable attention(layer, q, k, v, allowed) for numpy_model.forward.

    thresholds [L, H]: integer T per layer and head (HH units; relative or absolute by mode);
    scales [L, H, 2]: (S_q, S_k). With `capture`, the int8 q/k of every layer are kept (dumps).
    """

    def __init__(self, mode: str, n_layers: int, n_heads: int, head_dim: int, *, scales=None,
                 thresholds=None, capture: bool = False):
        if mode not in MODES:
            raise ValueError(f"attention mode {mode!r}: expected one of {MODES}")
        self.mode, self.head_dim = mode, head_dim
        self.scales = None if scales is None else np.asarray(scales, dtype=np.float64)
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.int64)
        self.kept = np.zeros((n_layers, n_heads), np.int64)
        self.allowed = np.zeros((n_layers, n_heads), np.int64)
        self.capture = capture
        self.captured: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._cfg = {}

    def cfg(self, n_keys: int) -> ScoreConfig:
        mode = "absolute" if self.mode == "absolute" else "relative"
        key = (n_keys, mode)
        if key not in self._cfg:
            self._cfg[key] = ScoreConfig(bits=8, msb_bits=4, dim=self.head_dim, lanes=1, heads=1,
                                         max_keys=n_keys, threshold_mode=mode)
        return self._cfg[key]

    @property
    def keys_filtered(self) -> float:
        return 1.0 - self.kept.sum() / max(1, self.allowed.sum())

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
        if self.mode == "int8":
            self.kept[layer] += allowed.sum() * b
            exact = qi.astype(np.float64) @ ki.astype(np.float64).transpose(0, 1, 3, 2)  # exact integers
            return softmax_attention(exact * real, allowed, v)
        out = np.zeros_like(q)
        cfg = self.cfg(s)
        for bi in range(b):
            for hi in range(h):
                t = int(np.clip(self.thresholds[layer, hi], *cfg.widths.threshold_range))
                res = score_rows(qi[bi, hi], ki[bi, hi], np.zeros(s, np.int64), np.array([t]), cfg,
                                 key_mask=allowed)
                self.kept[layer, hi] += res.kept.sum()
                out[bi, hi] = softmax_attention(res.scores * real[0, hi, 0, 0], res.kept, v[bi, hi])
        return out
