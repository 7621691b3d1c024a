"""Bit-exact golden model of the attention stages after the scores (docs/spec.md §7).

Integer softmax over a row's kept keys K, P·V over the kept V rows, Ji et al.'s log2
probabilities and Top-θ compensation (denominator `C_h`, V-mean). Depends on NumPy only.

Notation (docs/spec.md §7): F = `exp_frac_bits` (0..4), P = `exp_bits`, B = `prob_bits`,
R = `scale_shift`, L = `log_levels`, M_h = softmax multiplier, C_h = denominator
compensation. Per row, over j in K::

    t_j = (s_j * M_h) >> R            floor shift; units of 2^-F octaves
    m   = max t_j ;  d_j = m - t_j ;  i_j = d_j >> F ;  f_j = d_j & (2^F - 1)
    e_j = LUT[f_j] >> i_j             0 when i_j > P
    D   = sum e_j + C_h ;  inv = floor(((2^B - 1) << P) / D) ;  p_j = (e_j * inv) >> P
    o_i = sum p_j * v_{j,i}  (+ w * vmean_i, w = 2^B - 1 - sum p_j, when vmean is on)

Everything is computed in int64. Every intermediate is bounded explicitly and arguments
that could overflow are rejected with a ValueError (never a silent wrap):
|s_j * M_h| < 2^62 (so |t_j| <= 2^62 and 0 <= d_j < 2^63), B + P <= 63 (so
(2^B - 1) << P and e_j * inv fit), N * 2^P + C_h < 2^63, (2^B - 1) * max|v| < 2^63.
Integer matrix products use NumPy's int64 matmul (exact; no float BLAS).
"""

from __future__ import annotations

from functools import cache

import numpy as np

PROB_FORMATS = ("linear", "log2")
MAX_EXP_FRAC_BITS = 4
_INT64_LIMIT = 1 << 63          # every int64 magnitude must stay below this
_PRODUCT_LIMIT = 1 << 62        # |s_j * M_h| bound: keeps m - t_j inside int64


def _int_array(name: str, x, ndim: int | None = None) -> np.ndarray:
    """`x` as int64, rejecting non-integer dtypes (no silent float truncation)."""
    a = np.asarray(x)
    if a.dtype != np.bool_ and not np.issubdtype(a.dtype, np.integer) and a.size:
        raise ValueError(f"{name} must be an integer array, not dtype {a.dtype}")
    if a.dtype == np.uint64 and a.size and int(a.max()) >= _INT64_LIMIT:
        raise ValueError(f"{name} must fit int64, not max {int(a.max())!r}")
    a = a.astype(np.int64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), not shape {a.shape!r}")
    return a


def _max_abs(a: np.ndarray) -> int:
    """max |a| as an exact Python int (0 for an empty array; no int64 abs overflow)."""
    return max(-int(a.min()), int(a.max())) if a.size else 0


def _check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    """An int in [lo, hi] (hi=None: no upper bound), else ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < lo or (hi is not None and value > hi):
        what = f"an integer >= {lo}" if hi is None else f"an integer in {lo}..{hi}"
        raise ValueError(f"{name} must be {what}, not {value!r}")
    return int(value)


def check_softmax_params(exp_frac_bits, exp_bits, prob_bits, scale_shift,
                         prob_format="linear", log_levels=7) -> None:
    """Validate the §7 design parameters; ValueError naming the first bad one.

    F in 0..4, P in 1..62, B in 1..63-P, R in 0..63, format linear|log2, L in 1..B (log2).
    """
    _check_int("exp_frac_bits", exp_frac_bits, 0, MAX_EXP_FRAC_BITS)
    _check_int("exp_bits", exp_bits, 1, 62)
    _check_int("prob_bits", prob_bits, 1, 63 - exp_bits)
    _check_int("scale_shift", scale_shift, 0, 63)
    if prob_format not in PROB_FORMATS:
        raise ValueError(f"prob_format must be one of {PROB_FORMATS}, not {prob_format!r}")
    # log_levels matters only in log2 format; it is not held to prob_bits in linear format
    _check_int("log_levels", log_levels, 1, prob_bits if prob_format == "log2" else None)


@cache
def _exp_table(exp_frac_bits: int, exp_bits: int) -> tuple[int, ...]:
    """Exact LUT entries as Python ints (see `exp_table`)."""
    roots = 1 << exp_frac_bits
    table = []
    for f in range(roots):
        # n = floor(x + 1/2) with x = 2^(P - f/2^F) is the largest n >= 1 with 2n - 1 <= 2x,
        # i.e. (2n - 1)^(2^F) <= (2x)^(2^F) = 2^((P + 1) 2^F - f): exact integer comparison.
        bound = 1 << ((exp_bits + 1) * roots - f)
        lo, hi = 1, (1 << exp_bits) + 1        # ok(lo) holds; ok(hi) fails since x <= 2^P
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if (2 * mid - 1) ** roots <= bound else (lo, mid)
        table.append(lo)
    return tuple(table)


def exp_table(exp_frac_bits: int, exp_bits: int) -> np.ndarray:
    """LUT[f] = floor(2^P * 2^(-f / 2^F) + 0.5) for f = 0..2^F - 1, int64, exact.

    LUT[0] = 2^P and every entry is in [2^(P-1), 2^P] (P + 1 bits unsigned).
    """
    _check_int("exp_frac_bits", exp_frac_bits, 0, MAX_EXP_FRAC_BITS)
    _check_int("exp_bits", exp_bits, 1, 62)
    return np.array(_exp_table(int(exp_frac_bits), int(exp_bits)), dtype=np.int64)


def max_exp_shift(exp_bits: int) -> int:
    """Smallest shift i with LUT[f] >> i == 0 for every f: P + 1 (since LUT[f] <= 2^P).

    The hardware needs shift amounts 0..P only and maps i_j > P to e_j = 0; the golden
    clamps i_j (which may be up to ~2^62) to this value before shifting, so the rule does
    not rest on how an over-wide shift (>= 64) behaves.
    """
    return _check_int("exp_bits", exp_bits, 1, 62) + 1


def exp_values(d: np.ndarray, exp_frac_bits: int, exp_bits: int) -> np.ndarray:
    """e = LUT[d & (2^F - 1)] >> (d >> F), 0 when d >> F > P. d: int64 >= 0, any shape."""
    d = _int_array("d", d)
    if d.size and int(d.min()) < 0:
        raise ValueError(f"d must be >= 0, not {int(d.min())!r}")
    lut = exp_table(exp_frac_bits, exp_bits)
    whole = np.minimum(d >> exp_frac_bits, max_exp_shift(exp_bits))
    return lut[d & ((1 << exp_frac_bits) - 1)] >> whole


def dropped_exp_mass(scores, kept, visible, mult, *, exp_frac_bits: int, exp_bits: int,
                     scale_shift: int) -> np.ndarray:
    """Per row, Σ e_j over the keys the filter drops (visible, not kept), e_j taken against the
    kept maximum as the softmax would: the quantity Top-θ's denominator compensation C_h
    estimates. scores [R, N] (exact, every key), kept/visible bool [R, N], mult [R]."""
    t = _scaled_scores(_int_array("scores", scores, 2), np.asarray(visible, bool),
                       _int_array("mult", mult, 1), scale_shift)
    m = np.where(kept, t, np.iinfo(np.int64).min).max(axis=1, keepdims=True)
    e = exp_values(np.maximum(m - t, 0), exp_frac_bits, exp_bits)
    return np.where(np.asarray(visible, bool) & ~np.asarray(kept, bool), e, 0).sum(axis=1)


def floor_log2(x: np.ndarray) -> np.ndarray:
    """floor(log2 x) for int64 x >= 1 (position of the leading one), exact, elementwise."""
    x = _int_array("x", x).copy()
    k = np.zeros_like(x)
    for step in (32, 16, 8, 4, 2, 1):
        big = x >= (1 << step)
        k += np.where(big, step, 0)
        x = np.where(big, x >> step, x)
    return k


def log2_quantize(probs: np.ndarray, prob_bits: int, log_levels: int) -> np.ndarray:
    """Ji et al.: p > 0 -> 2^floor(log2 p) if floor(log2 p) >= B - L, else 0; 0 stays 0.

    Results are 0 or one of the L powers 2^(B-L) .. 2^(B-1).
    """
    _check_int("prob_bits", prob_bits, 1, 62)
    _check_int("log_levels", log_levels, 1, prob_bits)
    probs = _int_array("probs", probs)
    k = floor_log2(np.maximum(probs, 1))
    return np.where((probs > 0) & (k >= prob_bits - log_levels), np.left_shift(1, k), 0)


def _scaled_scores(scores: np.ndarray, kept: np.ndarray, mult: np.ndarray,
                   scale_shift: int) -> np.ndarray:
    """t = (s * M) >> R where kept (floor shift), 0 elsewhere; rejects |s * M| >= 2^62."""
    live = np.where(kept, scores, 0)
    if _max_abs(live) * _max_abs(mult) >= _PRODUCT_LIMIT:
        raise ValueError("scores * mult must stay below 2^62 in magnitude "
                         f"(max |score| {_max_abs(live)}, max mult {_max_abs(mult)})")
    return np.where(kept, (live * mult[:, None]) >> scale_shift, 0)


def _softmax_inputs(scores, kept, mult, comp):
    """Validated int64 scores [R, N], bool kept [R, N], mult [R], comp [R]."""
    scores = _int_array("scores", scores, 2)
    kept = np.asarray(kept)
    if kept.dtype != np.bool_ or kept.shape != scores.shape:
        raise ValueError(f"kept must be a bool array of shape {scores.shape!r}, "
                         f"not {kept.dtype} {kept.shape!r}")
    mult = _int_array("mult", mult, 1)
    comp = _int_array("comp", comp, 1)
    for name, a in (("mult", mult), ("comp", comp)):
        if a.shape != (scores.shape[0],):
            raise ValueError(f"{name} must have shape {(scores.shape[0],)!r}, not {a.shape!r}")
        if a.size and int(a.min()) < 0:
            raise ValueError(f"{name} must be unsigned (>= 0), not {int(a.min())!r}")
    return scores, kept, mult, comp


def softmax_rows(scores, kept, mult, comp, *, exp_frac_bits: int, exp_bits: int,
                 prob_bits: int, scale_shift: int, prob_format: str = "linear",
                 log_levels: int = 7) -> dict[str, np.ndarray]:
    """Integer softmax of each row over its kept keys (docs/spec.md §7).

    scores int [R, N] (exact q·k; entries outside `kept` are ignored), kept bool [R, N],
    mult [R] (M_h of each row's head), comp [R] (C_h of each row's head), both unsigned.
    Returns int64 arrays: t [R, N] (0 where not kept), m [R] (max t, 0 for an empty row),
    e [R, N] (P+1 bits, 0 where not kept), denominator [R] (D), inv [R] (B bits),
    probs [R, N] (p_j, B bits, log2 format applied, 0 where not kept), prob_sum [R]
    (<= 2^B - 1), kept_count [R]; and zero_keep bool [R].
    A row with no kept key ("zero keep"): probs 0, prob_sum 0, m 0, D = C_h and inv = 0
    by definition (no division is performed for it, so D = 0 is allowed there).
    """
    check_softmax_params(exp_frac_bits, exp_bits, prob_bits, scale_shift, prob_format, log_levels)
    scores, kept, mult, comp = _softmax_inputs(scores, kept, mult, comp)
    if scores.shape[1] * (1 << exp_bits) + _max_abs(comp) >= _INT64_LIMIT:
        raise ValueError("N * 2^exp_bits + comp must stay below 2^63")
    t = _scaled_scores(scores, kept, mult, scale_shift)
    kept_count = kept.sum(axis=1, dtype=np.int64)
    zero_keep = kept_count == 0
    lowest = np.iinfo(np.int64).min
    m = np.where(zero_keep, 0, np.where(kept, t, lowest).max(axis=1, initial=lowest))
    e = np.where(kept, exp_values(np.where(kept, m[:, None] - t, 0), exp_frac_bits, exp_bits), 0)
    denominator = e.sum(axis=1) + comp
    numerator = ((1 << prob_bits) - 1) << exp_bits          # < 2^63 since B + P <= 63
    inv = np.where(zero_keep, 0, numerator // np.maximum(denominator, 1))
    probs = (e * inv[:, None]) >> exp_bits
    if prob_format == "log2":
        probs = log2_quantize(probs, prob_bits, log_levels)
    return {"t": t, "m": m, "e": e, "denominator": denominator, "inv": inv, "probs": probs,
            "prob_sum": probs.sum(axis=1), "kept_count": kept_count, "zero_keep": zero_keep}


def vmean_of(v) -> np.ndarray:
    """vmean_i = floor(sum_{j<N} v[j, i] / N) (floor toward -inf) over all N loaded V rows.

    v int [..., N, d] -> int64 [..., d] (e.g. [N, d] -> [d], [H, N, d] -> [H, d]).
    """
    v = _int_array("v", v)
    if v.ndim < 2 or v.shape[-2] < 1:
        raise ValueError(f"v must have shape [..., N, d] with N >= 1, not {v.shape!r}")
    if v.shape[-2] * _max_abs(v) >= _INT64_LIMIT:
        raise ValueError("N * max|v| must stay below 2^63")
    return v.sum(axis=-2) // v.shape[-2]


def pv_rows(probs, v, *, vmean=None, prob_bits: int) -> np.ndarray:
    """o_i = sum_j p_j * v[j, i] (+ w * vmean_i, w = 2^B - 1 - sum_j p_j), exact int64.

    probs int [R, N] (unsigned B-bit p_j, 0 for keys not kept; each row sums to
    <= 2^B - 1), v int [N, d] (signed), vmean None or int [d] (from `vmean_of`).
    Returns int64 [R, d]. Exactness: every p_j >= 0, so every partial sum, and the
    result with the V-mean term, is bounded by (2^B - 1) * max|v| < 2^63 (checked), and
    NumPy's int64 matmul is exact below that.
    """
    _check_int("prob_bits", prob_bits, 1, 62)
    probs = _int_array("probs", probs, 2)
    v = _int_array("v", v, 2)
    if v.shape[0] != probs.shape[1]:
        raise ValueError(f"v must have {probs.shape[1]} rows (one per key), not shape {v.shape!r}")
    full = (1 << prob_bits) - 1
    prob_sum = probs.sum(axis=1)
    if probs.size and (int(probs.min()) < 0 or int(prob_sum.max()) > full):
        raise ValueError(f"probs must be >= 0 with row sums <= 2^prob_bits - 1 = {full}")
    vm = None if vmean is None else _int_array("vmean", vmean, 1)
    if vm is not None and vm.shape != (v.shape[1],):
        raise ValueError(f"vmean must have shape {(v.shape[1],)!r}, not {vm.shape!r}")
    if full * max(_max_abs(v), 0 if vm is None else _max_abs(vm)) >= _INT64_LIMIT:
        raise ValueError("(2^prob_bits - 1) * max|v| must stay below 2^63")
    out = probs @ v
    if vm is not None:
        out += (full - prob_sum)[:, None] * vm[None, :]
    return out


def key_limit_mask(key_limit, n_rows: int, n_keys: int) -> np.ndarray:
    """bool [R, N]: key j visible to row r iff j < key_limit[r] (e.g. causal r + 1).

    key_limit None -> all keys visible; else int [R] with 0 <= key_limit[r] <= N.
    """
    if key_limit is None:
        return np.ones((n_rows, n_keys), dtype=bool)
    limit = _int_array("key_limit", key_limit, 1)
    if limit.shape != (n_rows,):
        raise ValueError(f"key_limit must have shape {(n_rows,)!r}, not {limit.shape!r}")
    if limit.size and (int(limit.min()) < 0 or int(limit.max()) > n_keys):
        raise ValueError(f"key_limit must be in 0..{n_keys}, not {limit.tolist()!r}")
    return np.arange(n_keys)[None, :] < limit[:, None]


def _per_head(name: str, values, n_heads: int, heads: np.ndarray) -> np.ndarray:
    """Per-head register values [H] (None -> zeros) expanded to one value per row."""
    if values is None:
        return np.zeros(heads.shape, dtype=np.int64)
    a = _int_array(name, values, 1)
    if a.shape != (n_heads,):
        raise ValueError(f"{name} must have shape {(n_heads,)!r} (one per head), not {a.shape!r}")
    return a[heads]


def _attention_inputs(scores, kept, v, heads, mult, key_limit):
    """Validated scores [R, N], effective kept [R, N] (key_limit applied), v, heads [R], H."""
    scores = _int_array("scores", scores, 2)
    n_rows, n_keys = scores.shape
    kept = np.asarray(kept)
    if kept.dtype != np.bool_ or kept.shape != scores.shape:
        raise ValueError(f"kept must be a bool array of shape {scores.shape!r}, "
                         f"not {kept.dtype} {kept.shape!r}")
    n_heads = _int_array("mult", mult, 1).shape[0]
    v = _int_array("v", v)
    if v.ndim not in (2, 3) or (v.ndim == 3 and v.shape[0] != n_heads) or v.shape[-2] != n_keys:
        raise ValueError(f"v must have shape [{n_keys}, d] or [{n_heads}, {n_keys}, d] "
                         f"(H = len(mult)), not {v.shape!r}")
    heads = _int_array("heads", heads, 1)
    if heads.shape != (n_rows,) or (n_rows and not 0 <= heads.min() <= heads.max() < n_heads):
        raise ValueError(f"heads must have shape {(n_rows,)!r} with values in 0..{n_heads - 1}")
    return scores, kept & key_limit_mask(key_limit, n_rows, n_keys), v, heads, n_heads


def attention_rows(scores, kept, v, heads, mult, comp=None, *, exp_frac_bits: int,
                   exp_bits: int, prob_bits: int, scale_shift: int,
                   prob_format: str = "linear", log_levels: int = 7, vmean: bool = False,
                   key_limit=None) -> dict[str, np.ndarray]:
    """Softmax + P·V of every row (docs/spec.md §7) over its kept keys.

    scores int [R, N], kept bool [R, N], v int [N, d] (shared) or [H, N, d] (per head),
    heads int [R] in 0..H-1, mult [H] (M_h), comp [H] (C_h; None = 0), key_limit
    None or int [R] (keys j >= key_limit[r] are invisible to row r: removed from kept).
    vmean: add the Top-θ V-mean term, vmean over all N rows of the head's V (docs/spec.md §7).
    Returns everything `softmax_rows` returns (kept_count = V rows read; zero_keep =
    the end-of-row "zero keep" flag), plus kept (the effective mask) and out int64 [R, d].
    """
    scores, kept, v, heads, n_heads = _attention_inputs(scores, kept, v, heads, mult, key_limit)
    soft = softmax_rows(scores, kept, _per_head("mult", mult, n_heads, heads),
                        _per_head("comp", comp, n_heads, heads), exp_frac_bits=exp_frac_bits,
                        exp_bits=exp_bits, prob_bits=prob_bits, scale_shift=scale_shift,
                        prob_format=prob_format, log_levels=log_levels)
    out = np.zeros((scores.shape[0], v.shape[-1]), dtype=np.int64)
    groups = [(slice(None), v)] if v.ndim == 2 else [(heads == h, v[h]) for h in np.unique(heads)]
    for rows, v_head in groups:
        out[rows] = pv_rows(soft["probs"][rows], v_head, prob_bits=prob_bits,
                            vmean=vmean_of(v_head) if vmean else None)
    return {**soft, "kept": kept, "out": out}


def dense_attention_rows(scores, v, heads, mult, comp=None, **params) -> dict[str, np.ndarray]:
    """The dense baseline: `attention_rows` with every key kept (all N, or those below
    `key_limit` when given). scores int [R, N] are the exact q·k of every key."""
    scores = _int_array("scores", scores, 2)
    return attention_rows(scores, np.ones(scores.shape, dtype=bool), v, heads, mult, comp, **params)
