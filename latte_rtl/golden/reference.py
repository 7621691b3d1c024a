"""Float reference attention (what the integer engine approximates)."""

from __future__ import annotations

import numpy as np


def softmax_attention(scores: np.ndarray, keep: np.ndarray | None, v: np.ndarray) -> np.ndarray:
    """softmax over the kept keys of each row of `scores` [..., R, N], times v [..., N, d].

    Keys outside `keep` get probability 0; a row that keeps no key returns zeros.
    """
    s = np.asarray(scores, dtype=np.float64)
    if keep is not None:
        s = np.where(keep, s, -np.inf)
    row_max = s.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    p = np.exp(s - row_max)
    denom = p.sum(axis=-1, keepdims=True)
    p = np.divide(p, denom, out=np.zeros_like(p), where=denom > 0)
    return p @ v


def float_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                    keep: np.ndarray | None = None) -> np.ndarray:
    """softmax(q k^T / sqrt(d)) v in float64; keys outside `keep` [R, N] get probability 0."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    return softmax_attention(q @ k.T / np.sqrt(q.shape[-1]), keep, v)
