"""Regression stimulus for a configuration: random rows plus the corner cases (docs/spec.md §2).

Each case is an attention-input dict (docs/spec.md §6 arrays); `write_cases` saves them as .npz files.
The expected values are never stored here: the testbench computes them with golden/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latte_rtl.config import LatteConfig, ScoreConfig
from latte_rtl.golden import estimates, split, threshold_for_keep


def _estimate(cfg: ScoreConfig, q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The estimate E [R, N] the filter compares (golden.estimates: HH, or the centred E)."""
    q_h, _ = split(q, cfg.bits, cfg.msb_bits)
    k_h, _ = split(k, cfg.bits, cfg.msb_bits)
    return estimates(q_h @ k_h.T, q, k, cfg)


def _clip_threshold(cfg: ScoreConfig, t) -> np.ndarray:
    lo, hi = cfg.widths.threshold_range
    return np.clip(np.asarray(t, dtype=np.int64), lo, hi)


def _typical_threshold(cfg: ScoreConfig, q, k, rng, keep=0.3) -> np.ndarray:
    """A threshold per head that keeps about `keep` of the keys of random rows (mixed rows)."""
    t = threshold_for_keep(_estimate(cfg, q, k), keep, cfg.threshold_mode)
    return _clip_threshold(cfg, np.full(cfg.heads, t) + rng.integers(-2, 3, cfg.heads))


def regression_cases(cfg: ScoreConfig, seed: int, rows: int = 6, keys: int | None = None) -> dict[str, dict]:
    """{case name: arrays} covering random data, extremes, ties, N = 1, N = max_keys, keep none/all."""
    rng = np.random.default_rng(seed)
    lo, hi = cfg.operand_range
    d = cfg.dim
    heads = min(cfg.heads, 3)
    n = keys or min(cfg.max_keys, 24)

    def rand(*shape):
        return rng.integers(lo, hi + 1, shape, dtype=np.int64)

    cases = {}
    q, k = rand(rows, d), rand(heads, n, d)
    cases["random"] = dict(q=q, k=k, heads=rng.integers(0, heads, rows),
                           thresholds=_typical_threshold(cfg, q, k[0], rng)[:heads])

    # Extremes: every operand -2^(bits-1), 2^(bits-1)-1, 0, -1, and mixes of them.
    consts = [lo, hi, 0, -1]
    ext = np.array([np.full(d, c) for c in consts] + [np.resize([lo, hi], d), np.resize([hi, lo], d)])
    cases["extremes"] = dict(q=ext, k=ext[:cfg.max_keys].copy(), heads=np.zeros(len(ext), np.int64),
                             thresholds=_clip_threshold(cfg, [cfg.widths.max_estimate]))

    # Ties: thresholds put some key exactly on the boundary (E == max - T or E == T).
    q, k = rand(rows, d), rand(n, d)
    k[-1] = k[0]  # equal keys → equal estimates (a no-op when N = 1)
    est = _estimate(cfg, q[:1], k)[0]
    t = (est.max() - est[n // 2]) if cfg.threshold_mode == "relative" else est[n // 2]
    cases["ties"] = dict(q=q, k=k, heads=np.zeros(rows, np.int64), thresholds=_clip_threshold(cfg, [t]))

    # N = 1, and N = max_keys (the key store full).
    q = rand(rows, d)
    cases["one_key"] = dict(q=q, k=rand(1, d), heads=np.zeros(rows, np.int64),
                            thresholds=_clip_threshold(cfg, [0]))
    q, k = rand(2, d), rand(cfg.max_keys, d)
    cases["max_keys"] = dict(q=q, k=k, heads=np.zeros(2, np.int64),
                             thresholds=_typical_threshold(cfg, q, k, rng, keep=0.1)[:1])

    # Causal rows: row r sees keys j < key_limit[r] only (1..N), the last row all of them.
    q, k = rand(rows, d), rand(n, d)
    limit = rng.integers(1, n + 1, rows)
    limit[-1] = n
    cases["causal"] = dict(q=q, k=k, heads=np.zeros(rows, np.int64), key_limit=limit,
                           thresholds=_typical_threshold(cfg, q, k, rng)[:1])

    # Keep all (relative T = 2 max|E|, absolute T = -max|E|); keep none (absolute T = max|E| + 1)
    # or only the row maximum (relative T = 0).
    lo_t, hi_t = cfg.widths.threshold_range
    relative = cfg.threshold_mode == "relative"
    for name, t in (("keep_all", hi_t if relative else lo_t), ("keep_none_or_max", 0 if relative else hi_t)):
        cases[name] = dict(q=rand(rows, d), k=rand(n, d), heads=np.zeros(rows, np.int64),
                           thresholds=np.array([t], dtype=np.int64))
    if cfg.row_thresholds:
        _add_row_thresholds(cfg, cases, rng)
    if cfg.rounds == 2:
        _add_round1_thresholds(cfg, cases, rng)
    return cases


def _add_round1_thresholds(cfg: ScoreConfig, cases: dict[str, dict], rng) -> None:
    """`round1_thresholds` [H] for a design with rounds 2: a T1 that lets about 60 % of the keys through, and
    in keep_all / keep_none_or_max T1 at the same end of its range as T; in `random` heads 1 and 2 get T1's
    keep-all and keep-none ends (relative: only the row's largest E1)."""
    from latte_rtl.golden.rounds import round1_estimates, round1_threshold_range

    lo, hi = round1_threshold_range(cfg, cfg.dim)
    keep_all, keep_none = (hi, lo) if cfg.threshold_mode == "relative" else (lo, hi)
    for name, case in cases.items():
        heads = len(case["thresholds"])
        k = np.asarray(case["k"])
        t = threshold_for_keep(round1_estimates(np.asarray(case["q"]), k if k.ndim == 2 else k[0], cfg), 0.6,
                               cfg.threshold_mode)
        t1 = np.full(heads, t) + rng.integers(-1, 2, heads)
        if name == "keep_all":
            t1[:] = keep_all
        elif name == "keep_none_or_max":
            t1[:] = keep_none
        elif name == "random":
            t1[1:3] = [keep_all, keep_none][:heads - 1]
        case["round1_thresholds"] = np.clip(t1, lo, hi)


def _add_row_thresholds(cfg: ScoreConfig, cases: dict[str, dict], rng) -> None:
    """`row_thresholds` [R] for a design whose rows bring their T: the row's head's T moved by a few units,
    except in keep_all / keep_none_or_max (their extreme T as given); in `random` the rows alternate
    between that and the range's ends, so consecutive rows of a head keep very different counts."""
    lo, hi = cfg.widths.threshold_range
    for name, case in cases.items():
        t = np.asarray(case["thresholds"])[case["heads"]]
        if name not in ("keep_all", "keep_none_or_max"):
            t = t + rng.integers(-2, 3, len(t))
        if name == "random":
            t[1::3], t[2::3] = lo, hi
        case["row_thresholds"] = _clip_threshold(cfg, t)


def add_attention_arrays(cfg: LatteConfig, cases: dict[str, dict], rng) -> None:
    """V, M_h and C_h for every case (docs/spec.md §7): M_h puts the row's score spread at a few octaves
    (some heads at the largest M_h, one case at M_h = 0: all probabilities equal), C_h = 0 on
    head 0 and random elsewhere; V random, all −2^(bits−1) in `extremes`."""
    sc, a = cfg.score, cfg.attention
    lo, hi = sc.operand_range
    top_mult, top_comp = (1 << a.mult_bits) - 1, (1 << cfg.attention_widths.comp_width) - 1
    for name, case in cases.items():
        q, k = np.asarray(case["q"]), np.asarray(case["k"])
        heads = len(case["thresholds"])
        spread = float(np.std(q @ (k if k.ndim == 2 else k[0]).T)) or 1.0
        target = int(np.clip(round(2 ** (a.exp_frac_bits + a.scale_shift) * 4 / spread), 1, top_mult))
        mult = np.clip(target + rng.integers(-target // 4, target // 4 + 1, heads), 0, top_mult)
        if name == "keep_all":
            mult[:] = 0
        elif name in ("random", "ties"):
            mult[-1] = top_mult
        shape = (k.shape[0], sc.dim) if k.ndim == 2 else k.shape
        case["v"] = np.full(shape, lo) if name == "extremes" else rng.integers(lo, hi + 1, shape)
        case["softmax_mult"] = mult
        case["denominator_comp"] = np.concatenate([[0], rng.integers(0, min(top_comp, 1 << a.exp_bits) + 1, heads - 1)])


def write_cases(cases: dict[str, dict], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, arrays in cases.items():
        path = directory / f"{name}.npz"
        np.savez(path, **arrays)
        paths.append(path)
    return paths


def decode_cases(cfg: LatteConfig, seed: int, keys: int = 40) -> dict[str, dict]:
    """Cases of the decode tops (docs/spec.md §9): G query rows per KV head (kv_heads), k and v per KV head,
    N = min(max_keys, kept_buffer, `keys`) except `overflow` (N = kept_buffer + 8 where max_keys allows: LATTE
    only, the dense top refuses N > kept_buffer). A design of fewer heads than G gives every KV head one
    query head of G rows. random (2 KV heads where heads allow, 2 steps each),
    zero_kept (relative mode: the max only), overflow (every key kept), ties (every key equal), extremes
    (q, k, v at the range ends, M at its largest), one_key (N = 1)."""
    sc, g = cfg.score, cfg.decode.group
    lo, hi = sc.operand_range
    rng = np.random.default_rng(seed)
    n = max(1, min(sc.max_keys, cfg.decode.kept_buffer, keys))
    kv = 2 if sc.heads >= 2 * g else 1

    def case(k, v, thresholds, rows_per_head=1, mult=None):
        per_kv = g if sc.heads >= g else 1            # query heads per KV head
        thresholds, mult = thresholds[::g // per_kv], None if mult is None else mult[::g // per_kv]
        h = len(thresholds)
        heads = np.repeat(np.arange(h), rows_per_head * g // per_kv)
        q = rng.integers(lo, hi + 1, (len(heads), sc.dim))
        top_mult = (1 << cfg.attention.mult_bits) - 1
        if mult is None:
            spread = float(np.std(q @ k[0].T)) or 1.0
            mult = np.full(h, int(np.clip(round(2 ** (cfg.attention.exp_frac_bits + cfg.attention.scale_shift) * 4
                                                / spread), 1, top_mult)))
        return dict(q=q, k=k, v=v, thresholds=_clip_threshold(sc, thresholds), heads=heads,
                    kv_heads=np.arange(h) // per_kv, softmax_mult=np.asarray(mult), denominator_comp=rng.integers(
                        0, 1 << cfg.attention.exp_bits, h))

    def rand(*shape):
        return rng.integers(lo, hi + 1, shape, dtype=np.int64)

    t_lo, t_hi = sc.widths.threshold_range
    keep_none, keep_all = (t_hi, t_lo) if sc.threshold_mode == "absolute" else (t_lo, t_hi)  # relative: the max kept
    cases = {"random": case(rand(kv, n, sc.dim), rand(kv, n, sc.dim), rng.integers(-sc.widths.max_estimate // 8,
                                                                                     sc.widths.max_estimate // 8 + 1,
                                                                                     kv * g),
                            rows_per_head=2),
             "zero_kept": case(rand(1, n, sc.dim), rand(1, n, sc.dim), [keep_none] * g)}
    big = min(sc.max_keys, cfg.decode.kept_buffer + 8)
    cases["overflow"] = case(rand(1, big, sc.dim), rand(1, big, sc.dim), [keep_all] * g)
    same = np.repeat(rand(1, 1, sc.dim), n, axis=1)
    cases["ties"] = case(same, rand(1, n, sc.dim), [0] * g)
    ext = np.where(rng.random((1, n, sc.dim)) < 0.5, lo, hi)
    cases["extremes"] = case(ext, np.full((1, n, sc.dim), lo), [0] * g, mult=[(1 << cfg.attention.mult_bits) - 1] * g)
    cases["one_key"] = case(rand(1, 1, sc.dim), rand(1, 1, sc.dim), [keep_all] * g)
    return cases
