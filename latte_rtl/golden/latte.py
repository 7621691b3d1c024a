"""Bit-exact golden model of the LATTE score engine (docs/spec.md §2).

Every function is vectorized over rows and keys. Integer matrix products run as float64 BLAS
products: every operand, product and partial sum is an integer below 2**53 for all valid
configurations (|q·k| ≤ 1024 · 2**30 = 2**40), so the float64 result is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .cycles import score_row_cycles


class ScoreArithmetic(Protocol):
    """The parameters the score arithmetic depends on (latte_rtl's ScoreConfig provides them)."""

    bits: int
    msb_bits: int
    threshold_mode: str
    sink_keys: int  # keys 0..sink_keys−1 of every row are always kept
    window_keys: int  # keys j >= key_limit − window_keys of every row are always kept
    estimate: str  # "hh" or "centred" (ESTIMATES)

    @property
    def lsb_bits(self) -> int: ...

    @property
    def beats(self) -> int: ...


ESTIMATES = ("hh", "centred")


def split(x: np.ndarray, bits: int, msb_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """x -> (x_H, x_L): x_H = x >> l (signed, msb_bits wide), x_L = x & (2**l - 1) (unsigned)."""
    lsb = bits - msb_bits
    x = np.asarray(x, dtype=np.int64)
    return x >> lsb, x & ((1 << lsb) - 1)


def _matmul_t(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer a @ b.T via float64 BLAS (see module docstring)."""
    return np.rint(a.astype(np.float64) @ b.astype(np.float64).T).astype(np.int64)


def partial_sums(q: np.ndarray, k: np.ndarray, cfg: ScoreArithmetic) -> dict[str, np.ndarray]:
    """HH, HL, LH, LL [R, N] for q [R, d] and k [N, d]."""
    q_h, q_l = split(q, cfg.bits, cfg.msb_bits)
    k_h, k_l = split(k, cfg.bits, cfg.msb_bits)
    return {
        "HH": _matmul_t(q_h, k_h),
        "HL": _matmul_t(q_h, k_l),
        "LH": _matmul_t(q_l, k_h),
        "LL": _matmul_t(q_l, k_l),
    }


def recombine(parts: dict[str, np.ndarray], lsb_bits: int) -> np.ndarray:
    """q·k = (HH << 2l) + ((HL + LH) << l) + LL, exact."""
    return (parts["HH"] << (2 * lsb_bits)) + ((parts["HL"] + parts["LH"]) << lsb_bits) + parts["LL"]


def estimates(hh: np.ndarray, q: np.ndarray, k: np.ndarray, cfg: ScoreArithmetic) -> np.ndarray:
    """The estimate E [R, N] the filter compares, for q [R, d], k [N, d] and their HH [R, N].

    hh: E = HH. centred: E = 2^(l+1)·HH + (2^l − 1)·(Q + S_j), Q = Σ_i q_H[i] of the row, S_j = Σ_i
    k_H[j, i] of the key: q·k estimated with both low parts at the centre of their bin, (2^l − 1)/2,
    less the row constant d·((2^l − 1)/2)^2, in units of 2^(l−1). HH alone misses 2^l·(2^l − 1)/2·(Q + S_j):
    its S_j part differs from key to key and reorders keys within a row.
    """
    mode = getattr(cfg, "estimate", "hh")
    if mode == "hh":
        return hh
    if mode != "centred":
        raise ValueError(f"estimate must be one of {ESTIMATES}, not {mode!r}")
    l = cfg.lsb_bits
    q_h, _ = split(q, cfg.bits, cfg.msb_bits)
    k_h, _ = split(k, cfg.bits, cfg.msb_bits)
    return (hh << (l + 1)) + ((1 << l) - 1) * (q_h.sum(axis=-1)[:, None] + k_h.sum(axis=-1)[None, :])


def max_estimate(bits: int, msb_bits: int, dim: int, estimate: str = "hh") -> int:
    """Largest |E| over all operands: d·2^(2(m−1)) for HH; 2^(l+1)·that + (2^l − 1)·2d·2^(m−1) centred."""
    max_hh = dim << (2 * (msb_bits - 1))
    if estimate == "hh":
        return max_hh
    l = bits - msb_bits
    return (max_hh << (l + 1)) + ((1 << l) - 1) * (2 * dim << (msb_bits - 1))


def keep_mask(est: np.ndarray, row_thresholds: np.ndarray, mode: str,
              key_mask: np.ndarray | None = None, sink_keys: int = 0, window_keys: int = 0,
              survivors: np.ndarray | None = None) -> np.ndarray:
    """Keys kept per row. est [R, N] (the estimate E); row_thresholds [R] (T of each row).

    relative: keep ⇔ E >= max(E) - T (row max over allowed keys; always keeps the max);
    absolute: keep ⇔ E >= T. Keys j < sink_keys (attention sinks) and keys j >= key_limit −
    window_keys (the row's most recent keys; key_limit = the row's allowed keys, a prefix) are kept
    whatever their E; the max is still over every allowed key. Keys outside `key_mask` (e.g. causal)
    are never kept. `survivors` [R, N] (a first round's, golden.rounds): only they are compared and
    kept, and the relative max is over them.
    """
    t = np.asarray(row_thresholds, dtype=np.int64)[:, None]
    if mode == "relative":
        seen = key_mask if survivors is None else survivors if key_mask is None else key_mask & survivors
        masked = est if seen is None else np.where(seen, est, np.iinfo(np.int64).min)
        keep = est >= masked.max(axis=1, keepdims=True) - t
    elif mode == "absolute":
        keep = est >= t
    else:
        raise ValueError(f"threshold mode {mode!r}")
    if survivors is not None:
        keep &= survivors
    index = np.arange(est.shape[-1])
    keep |= index < sink_keys
    if window_keys:
        limit = est.shape[-1] if key_mask is None else key_mask.sum(axis=-1, keepdims=True)
        keep |= index >= limit - window_keys
    return keep if key_mask is None else keep & key_mask


def quantile_threshold(samples: np.ndarray, keep: float, mode: str) -> int:
    """Integer T keeping about a fraction `keep` of keys, from samples of (row max − HH) for
    relative mode or of HH for absolute mode."""
    q = keep if mode == "relative" else 1.0 - keep
    return int(np.floor(np.quantile(samples, q)))


def threshold_for_keep(hh: np.ndarray, keep: float, mode: str, key_mask: np.ndarray | None = None) -> int:
    """Integer T that keeps about a fraction `keep` of the allowed keys of the rows' estimates `hh` [R, N]."""
    mask = np.ones_like(hh, dtype=bool) if key_mask is None else key_mask
    if mode == "relative":
        row_max = np.where(mask, hh, np.iinfo(np.int64).min).max(axis=1, keepdims=True)
        return quantile_threshold((row_max - hh)[mask], keep, mode)
    return quantile_threshold(hh[mask], keep, mode)


@dataclass
class GoldenResult:
    """Result arrays of docs/spec.md §6: hh, kept, scores [R, N]; cycles [R] (throughput model);
    exact [R, N]: q·k of every key (what the dense engine emits); estimate [R, N]: the E the filter
    compared (= hh unless the estimate is centred)."""

    hh: np.ndarray
    kept: np.ndarray
    scores: np.ndarray
    cycles: np.ndarray
    exact: np.ndarray
    estimate: np.ndarray
    survived: np.ndarray | None = None  # [R, N]: round 1's survivors (two rounds only)


def score_rows(q: np.ndarray, k: np.ndarray, heads: np.ndarray, thresholds: np.ndarray,
               cfg: ScoreArithmetic, key_mask: np.ndarray | None = None,
               row_thresholds: np.ndarray | None = None, round1_thresholds: np.ndarray | None = None) -> GoldenResult:
    """Run the engine's arithmetic on every row.

    q [R, d]; k [N, d] (shared by all heads) or [H, N, d] (per head); heads [R] in 0..H-1;
    thresholds [H]; row_thresholds [R] (a design whose rows bring their own T) replaces them.
    round1_thresholds [H] (T1 per head): a first round (golden.rounds) filters before the estimate. Rows
    are grouped by head, so the only Python loop is over heads.
    """
    q = np.asarray(q, dtype=np.int64)
    k = np.asarray(k, dtype=np.int64)
    heads = np.asarray(heads, dtype=np.int64)
    n_rows, n_keys = q.shape[0], k.shape[-2]
    hh = np.zeros((n_rows, n_keys), dtype=np.int64)
    exact = np.zeros((n_rows, n_keys), dtype=np.int64)
    est = np.zeros((n_rows, n_keys), dtype=np.int64)
    est1 = None if round1_thresholds is None else np.zeros((n_rows, n_keys), dtype=np.int64)
    head_ids = np.unique(heads) if k.ndim == 3 else [None]
    for h in head_ids:
        rows = slice(None) if h is None else np.flatnonzero(heads == h)
        keys = k if h is None else k[h]
        parts = partial_sums(q[rows], keys, cfg)
        hh[rows] = parts["HH"]
        exact[rows] = recombine(parts, cfg.lsb_bits)
        est[rows] = estimates(parts["HH"], q[rows], keys, cfg)
        if est1 is not None:
            from .rounds import round1_estimates

            est1[rows] = round1_estimates(q[rows], keys, cfg)
    t = np.asarray(thresholds, dtype=np.int64)[heads] if row_thresholds is None else row_thresholds
    survived = None
    if est1 is not None:
        from .rounds import round1_survivors

        survived = round1_survivors(est1, np.asarray(round1_thresholds, dtype=np.int64)[heads], cfg, key_mask)
    kept = keep_mask(est, t, cfg.threshold_mode, key_mask, getattr(cfg, "sink_keys", 0),
                     getattr(cfg, "window_keys", 0), survived)
    cycles = score_row_cycles(cfg, np.full(n_rows, n_keys), kept, survived)
    return GoldenResult(hh=hh, kept=kept, scores=np.where(kept, exact, 0), cycles=cycles, exact=exact,
                        estimate=est, survived=survived)
