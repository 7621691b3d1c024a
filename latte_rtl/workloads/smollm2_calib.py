"""Calibration of SmolLM2's thresholds from int8 dense passes over the calibration windows.

Every window is one job (`window_stats`); its statistics are summed in window order, so inline,
local processes and a Dask cluster give the same thresholds. Per (layer, head):
* the relative gaps (row max − HH) of every allowed key, as a histogram (a keep-fraction T);
* per row-length bucket and kept count k (rows with more than k keys): the sum of each row's gap
  max E − (k-th largest E), for E = HH and the centred estimate (a relative T that keeps about k
  keys per row), and the sum and sum of squares of the k-th largest centred E (Top-θ's absolute T:
  mean + 0.1σ of the calibration rows' k-th largest, docs/spec.md §11);
* max |v| (static V scales).
Top-θ's compensation C_h (the mean dropped Σ e_j per bucket) needs its thresholds first: a second
pass (`comp_stats`).
"""

from __future__ import annotations

import numpy as np

from latte_rtl.golden import estimates, score_rows
from latte_rtl.golden.attention import dropped_exp_mass

from ..config import AttentionConfig, ScoreConfig
from .attention import quantize, softmax_multiplier

HH_MAX = 64 * 64  # |HH| <= 8 * 8 * d for 4-bit signed halves, d = 64: histogram offset
ESTIMATE_KINDS = ("hh", "centred")
TOPT_SIGMAS = 0.1  # Top-θ: threshold = mean + 0.1σ of the calibration rows' k-th largest score
# the first round's calibration histogram: gaps of the centred E1 (2-bit) of kept keys; SmolLM2's are below
# about 2 000 (layer 5's dump: T1 969–1 079 at recall 0.99); a T1 at the cap keeps every key
ROUND1_GAP_CAP = 1 << 13


def buckets(seq: int) -> np.ndarray:
    """Row-length bucket ⌊2·log2(r + 1)⌋ (half octaves of the row's key count) of rows r = 0..seq-1:
    the index of the host's threshold table (thresholds per row length, as Top-θ's)."""
    return np.floor(2 * np.log2(np.arange(1, seq + 1))).astype(np.int64)


def n_buckets(seq: int) -> int:
    return int(buckets(seq)[-1]) + 1


def head_results(scales, layer, q, k, allowed):
    """(head, quantized q, k, score_rows result with every allowed key kept) of every query head."""
    _, h, s, dh = q.shape
    cfg = ScoreConfig(bits=8, msb_bits=4, dim=dh, lanes=1, heads=1, max_keys=s)
    for hi in range(h):
        sq, sk = scales[layer, hi]
        qi, ki = quantize(q[0, hi], sq), quantize(k[0, hi], sk)
        yield hi, qi, ki, score_rows(qi, ki, np.zeros(s, np.int64), np.array([cfg.widths.threshold_range[1]]), cfg,
                                     key_mask=allowed)


def centred(res, qi, ki) -> np.ndarray:
    cfg = ScoreConfig(bits=8, msb_bits=4, dim=qi.shape[-1], lanes=1, heads=1, max_keys=ki.shape[0],
                      estimate="centred")
    return estimates(res.hh, qi, ki, cfg)


def int8_output(scales, layer, q, v, allowed, results) -> np.ndarray:
    """The int8 dense pass's attention output (float softmax of the exact int8 scores)."""
    from latte_rtl.golden import softmax_attention

    dh = q.shape[-1]
    return np.stack([softmax_attention(res.exact * (scales[layer, hi].prod() / np.sqrt(dh)), allowed, v[0, hi])
                     for hi, _, _, res in results])[None]


class WindowStats:
    """The attention callable of one calibration window's int8 dense pass, collecting the statistics
    of the module docstring for kept counts `kept`."""

    def __init__(self, scales, n_layers: int, n_heads: int, seq: int, kept: tuple[int, ...]):
        nb, nk = n_buckets(seq), len(kept)
        self.scales, self.kept = scales, kept
        self.arrays = {"rel": np.zeros((n_layers, n_heads, 2 * HH_MAX + 1), np.int64),
                       "v_max": np.zeros((n_layers, n_heads)),
                       "rows": np.zeros((n_layers, n_heads, nb, nk), np.int64),
                       "kth_sum": np.zeros((n_layers, n_heads, nb, nk)),
                       "kth_sq": np.zeros((n_layers, n_heads, nb, nk))}
        for kind in ESTIMATE_KINDS:
            self.arrays[f"gap_{kind}"] = np.zeros((n_layers, n_heads, nb, nk))

    def __call__(self, layer, q, k, v, allowed):
        a, results = self.arrays, list(head_results(self.scales, layer, q, k, allowed))
        a["v_max"][layer] = np.maximum(a["v_max"][layer], np.abs(v[0]).max(axis=(1, 2)))
        b, n = buckets(q.shape[2]), allowed.sum(axis=1)
        for hi, qi, ki, res in results:
            row_max = np.where(allowed, res.hh, -HH_MAX).max(axis=1, keepdims=True)
            a["rel"][layer, hi] += np.bincount((row_max - res.hh)[allowed], minlength=2 * HH_MAX + 1)
            for kind, est in (("hh", res.hh), ("centred", centred(res, qi, ki))):
                top = largest_estimates(est, allowed, self.kept)
                for j, kk in enumerate(self.kept):
                    rows = n > kk
                    np.add.at(a[f"gap_{kind}"][layer, hi, :, j], b[rows], top[rows, 0] - top[rows, j + 1])
                    if kind == "centred":
                        np.add.at(a["rows"][layer, hi, :, j], b[rows], 1)
                        np.add.at(a["kth_sum"][layer, hi, :, j], b[rows], top[rows, j + 1])
                        np.add.at(a["kth_sq"][layer, hi, :, j], b[rows], top[rows, j + 1].astype(float) ** 2)
        return int8_output(self.scales, layer, q, v, allowed, results)


def largest_estimates(est: np.ndarray, allowed: np.ndarray, kept: tuple[int, ...]) -> np.ndarray:
    """[R, 1 + len(kept)]: each row's largest allowed E, then its k-th largest for every k (rows with
    fewer keys get the smallest allowed value's neighbours; callers use rows with more than k keys)."""
    low = np.iinfo(np.int64).min // 2
    neg = -np.where(allowed, est, low)
    idx = [0] + [min(kk - 1, est.shape[1] - 1) for kk in kept]
    part = np.partition(neg, sorted(set(idx)), axis=1)
    return -part[:, idx]


class Thresholds:
    """Thresholds from the summed statistics (`stats`: WindowStats.arrays summed over windows)."""

    def __init__(self, stats: dict, kept: tuple[int, ...]):
        self.stats, self.kept = stats, kept
        self.v_scales = np.maximum(stats["v_max"], 1e-12) / 127.0

    def keep_fraction(self, keep: float, head_wise: bool = True) -> np.ndarray:
        """Relative T [L, H] on HH keeping about `keep` of the calibration keys (pooled when not head-wise)."""
        rel = self.stats["rel"]
        if not head_wise:
            return np.full(rel.shape[:2], _hist_quantile(rel.sum(axis=(0, 1)), keep, 0), np.int64)
        return np.array([[_hist_quantile(hh, keep, 0) for hh in per_layer] for per_layer in rel])

    def kept_count(self, k: int, estimate: str) -> np.ndarray:
        """Relative T [L, H, NB]: per (layer, head, bucket) the mean gap to the calibration rows' k-th
        largest E; buckets whose rows all have ≤ k keys get −1 (`keep_all_where_unset`)."""
        j = self.kept.index(k)
        rows = self.stats["rows"][..., j]
        gap = self.stats[f"gap_{estimate}"][..., j]
        return np.where(rows > 0, np.rint(gap / np.maximum(rows, 1)), -1).astype(np.int64)

    def topt(self, k: int) -> np.ndarray:
        """Absolute T [L, H, NB] on the centred E: mean + 0.1σ of the calibration rows' k-th largest
        (Top-θ); buckets whose rows all have ≤ k keys get the int64 minimum (every key kept)."""
        j = self.kept.index(k)
        rows = np.maximum(self.stats["rows"][..., j], 1)
        mean = self.stats["kth_sum"][..., j] / rows
        sigma = np.sqrt(np.maximum(self.stats["kth_sq"][..., j] / rows - mean ** 2, 0))
        t = np.ceil(mean + TOPT_SIGMAS * sigma)
        return np.where(self.stats["rows"][..., j] > 0, t, np.iinfo(np.int64).min).astype(np.int64)


def _hist_quantile(hist: np.ndarray, q: float, offset: int) -> int:
    """Smallest value v (histogram index − offset) with cdf(v) ≥ q; −offset for an empty histogram."""
    total = hist.sum()
    return int(np.searchsorted(np.cumsum(hist), q * total)) - offset if total else -offset


class Round1Stats:
    """Calibration pass of a first filter round (golden.rounds) for the setting `att` (a RowAttention, one
    round): per (layer, head), a histogram of the gaps to the row max of E1 of the keys `att` keeps
    (filtered layers only; a gap ≥ ROUND1_GAP_CAP counts in the last bin). The pass runs `att` itself."""

    def __init__(self, att):
        self.att = att
        self.arrays = {"gaps": np.zeros((*att.scales.shape[:2], ROUND1_GAP_CAP + 1), np.int64)}

    def __call__(self, layer, q, k, v, allowed):
        from latte_rtl.golden import round1_estimates, round1_samples

        a = self.att
        if layer < a.rules.dense_layers:
            return a(layer, q, k, v, allowed)
        a.allowed[layer] += allowed.sum()
        filtered = a.filter_keys(layer, q, k, allowed)
        cfg, qi, ki, _, kept = filtered
        h, s = qi.shape[:2]
        for hi, kept_h in enumerate(kept.reshape(h, s, s)):
            gaps = round1_samples(round1_estimates(qi[hi], ki[hi], cfg), kept_h, "relative", allowed)
            self.arrays["gaps"][layer, hi] += np.bincount(np.minimum(gaps, ROUND1_GAP_CAP),
                                                          minlength=ROUND1_GAP_CAP + 1)
        return a._attend(layer, v, allowed, filtered)

    @staticmethod
    def thresholds(arrays: dict, recall: float) -> np.ndarray:
        """T1 [L, H]: the smallest gap at which `recall` of the kept keys pass (ROUND1_GAP_CAP: every key)."""
        t1 = np.array([[_hist_quantile(hist, recall, 0) for hist in per_layer] for per_layer in arrays["gaps"]],
                      np.int64)
        return np.where(t1 >= ROUND1_GAP_CAP, np.iinfo(np.int64).max, t1)


class CompStats:
    """Second calibration pass: Top-θ's C_h [L, H, NB] for absolute thresholds `topt` [L, H, NB] (the
    mean over rows that keep something of the dropped Σ e_j, e_j against the kept maximum)."""

    def __init__(self, scales, topt: np.ndarray, integer: AttentionConfig):
        self.scales, self.topt, self.integer = scales, topt, integer
        self.arrays = {"sum": np.zeros(topt.shape), "rows": np.zeros(topt.shape)}

    def __call__(self, layer, q, k, v, allowed):
        a, results = self.integer, list(head_results(self.scales, layer, q, k, allowed))
        b = buckets(q.shape[2])
        for hi, qi, ki, res in results:
            mult = softmax_multiplier(*self.scales[layer, hi], q.shape[-1], a)
            kept = (centred(res, qi, ki) >= self.topt[layer, hi][b][:, None]) & allowed
            some = kept.any(axis=1)
            mass = dropped_exp_mass(res.exact[some], kept[some], allowed[some], np.full(some.sum(), mult),
                                    exp_frac_bits=a.exp_frac_bits, exp_bits=a.exp_bits, scale_shift=a.scale_shift)
            np.add.at(self.arrays["sum"][layer, hi], b[some], mass)
            np.add.at(self.arrays["rows"][layer, hi], b[some], 1)
        return int8_output(self.scales, layer, q, v, allowed, results)

    @staticmethod
    def comp(arrays: dict) -> np.ndarray:
        return np.rint(arrays["sum"] / np.maximum(arrays["rows"], 1)).astype(np.int64)
