"""Real Q/K/V rows of a workload's model in the docs/spec.md §6 input format, and threshold calibration from
such dumps."""

from __future__ import annotations

import json

import numpy as np

from latte_rtl.golden import score_rows, threshold_for_keep

from ..config import AttentionConfig, ScoreConfig
from ..errors import UserError
from .attention import softmax_multiplier
from .evaluate import gamma_to_threshold


def dump_qk(name: str, *, layer: int = 1, rows: int | None = None, keys: int = 192, sample: int = 0,
            attention: AttentionConfig | None = None) -> dict:
    """Arrays of one layer, all heads: int8 q [H*rows, d], k and v [H, N, d], heads, thresholds
    (trained; MiniLM without learned ones: calibrated head-wise at its keep target), softmax_mult
    (for `attention`'s F and R) and the scales.

    lm: the queries at positions keys..keys+rows-1 (rows default 16) of a held-out window and the
    N = keys positions before them, all of which the causal mask allows. vision: every token of a
    test image; minilm: every token of a test document (N = its length, ≤ 256); there `rows`
    (default all) takes the first query positions.
    """
    from .tasks import load_task

    task = load_task(name, whole_test=True)
    if not 0 <= layer < task.n_layers:
        raise UserError(f"--layer={layer} is out of range: expected 0..{task.n_layers - 1}")
    x = task.test[1] if name == "minilm" else task.test[0]
    if not 0 <= sample < len(x):
        raise UserError(f"--sample={sample} is out of range: expected 0..{len(x) - 1}")
    seq = len(x[sample]) if name == "minilm" else x.shape[1]
    rows = (16 if task.causal else seq) if rows is None else rows
    if task.causal and not (1 <= keys and 1 <= rows and keys + rows <= seq):
        raise UserError(f"--keys={keys} --rows={rows}: expected keys ≥ 1, rows ≥ 1, keys + rows ≤ {seq}")
    if not 1 <= rows <= seq:
        raise UserError(f"--rows={rows} is out of range: expected 1..{seq} (the sample's tokens)")
    scales = task.scales
    att = task.attention("int8", capture=True)
    captured = {}

    def probe(i, q, k, v, allowed):
        if i == layer:
            captured.update(q=q[0], k=k[0], v=v[0])
        return att(i, q, k, v, allowed)

    task.forward(x[sample:sample + 1], probe)
    qi, ki, _ = att.captured[layer]
    qi, ki = qi[0], ki[0]  # [H, S, d]
    q_rows, k_rows = (slice(keys, keys + rows), slice(0, keys)) if task.causal else (slice(0, rows), slice(0, seq))
    h, n_q = task.n_heads, rows
    v_float = captured["v"][:, k_rows]
    scale_v = np.maximum(np.abs(v_float).max(axis=(1, 2)), 1e-12) / 127.0  # per head, over the dumped keys
    return {
        "v": np.clip(np.rint(v_float / scale_v[:, None, None]), -127, 127).astype(np.int8),
        "softmax_mult": softmax_multiplier(scales[layer, :, 0], scales[layer, :, 1], task.head_dim,
                                           attention or AttentionConfig()),
        "scale_v": scale_v,
        "q": qi[:, q_rows].reshape(h * n_q, -1).astype(np.int8),
        "k": ki[:, k_rows].astype(np.int8),
        "heads": np.repeat(np.arange(h), n_q),
        "thresholds": _dump_thresholds(task)[layer],
        "q_float": captured["q"][:, q_rows].reshape(h * n_q, -1).astype(np.float32),
        "k_float": captured["k"][:, k_rows].astype(np.float32),
        "v_float": captured["v"][:, k_rows].astype(np.float32),
        "scale_q": scales[layer, :, 0],
        "scale_k": scales[layer, :, 1],
    }


def _dump_thresholds(task) -> np.ndarray:
    """[L, H]: the task's trained thresholds, else its shipped calibrated ones (MiniLM)."""
    if task.trained is not None:
        return task.trained
    from .tasks import MINILM_META

    return np.array(json.loads(MINILM_META.read_text())["calibrated_thresholds"]["values"], np.int64)


def dump_all_layers(name: str, **options) -> dict:
    """dump_qk of every layer in one dict: `layers` [L] and each layer's arrays under
    `layer<i>.<name>` (the multi-layer input `latte-rtl run` takes)."""
    from .tasks import load_task

    layers = range(load_task(name, whole_test=True).n_layers)
    return layers_file({layer: dump_qk(name, layer=layer, **options) for layer in layers})


def layers_file(dumps: dict[int, dict]) -> dict:
    """{layer: arrays} as one multi-layer input: `layers` [L] and each layer's arrays as `layer<i>.<name>`."""
    from ..npzio import LAYERS, layer_prefix

    arrays = {LAYERS: np.array(sorted(dumps), np.int64)}
    for layer, a in dumps.items():
        arrays.update({layer_prefix(layer) + n: x for n, x in a.items()})
    return arrays


def calibrate(inp, cfg: ScoreConfig, *, keep: float | None = None, gamma: float | None = None) -> dict:
    """Per-head integer thresholds from a dump: a keep-ratio target or LATTE's γ (docs/spec.md §2)."""
    n_heads = len(inp.thresholds)
    if gamma is not None:
        if not 0 < gamma < 1:
            raise UserError(f"--gamma={gamma} is out of range: expected 0 < γ < 1")
        if "scale_q" not in inp.extras or "scale_k" not in inp.extras:
            raise UserError("--gamma needs the arrays 'scale_q' and 'scale_k' in the input (a real model's dump)")
        if cfg.threshold_mode != "relative":
            raise UserError("--gamma converts LATTE's relative γ: use --threshold-mode relative")
        sq = np.broadcast_to(np.asarray(inp.extras["scale_q"], float), (n_heads,))
        sk = np.broadcast_to(np.asarray(inp.extras["scale_k"], float), (n_heads,))
        # γ's T is in HH units; the centred estimate counts q·k in units of 2^(l−1), not 2^(2l)
        units = 1 << (cfg.lsb_bits + 1) if cfg.estimate == "centred" else 1
        t = [gamma_to_threshold(gamma, sq[h], sk[h], cfg.dim) * units for h in range(n_heads)]
    else:
        if keep is None or not 0 < keep <= 1:
            raise UserError(f"--keep-ratio={keep} is out of range: expected 0 < R ≤ 1")
        mask = inp.key_mask
        res = score_rows(inp.q, inp.k, inp.heads, np.zeros(n_heads, np.int64) if cfg.threshold_mode == "relative"
                         else np.full(n_heads, cfg.widths.threshold_range[0]), cfg, key_mask=mask)
        t = [threshold_for_keep(res.estimate[inp.heads == h], keep, cfg.threshold_mode, mask[inp.heads == h])
             if np.any(inp.heads == h)
             else (0 if cfg.threshold_mode == "relative" else cfg.widths.threshold_range[1]) for h in range(n_heads)]
    lo, hi = cfg.widths.threshold_range
    t = np.clip(np.array(t, np.int64), lo, hi)
    mask = inp.key_mask  # kept fractions of the keys each row may see
    achieved = score_rows(inp.q, inp.k, inp.heads, t, cfg, key_mask=mask).kept
    per_head = [float(achieved[inp.heads == h].sum() / mask[inp.heads == h].sum()) if np.any(inp.heads == h) else 0.0
                for h in range(n_heads)]
    return {"threshold_mode": cfg.threshold_mode, "keep_target": keep, "gamma": gamma, "thresholds": t.tolist(),
            "kept_fraction": per_head, "kept_fraction_all": float(achieved.sum() / mask.sum())}


ROUND1_RECALL = 0.99  # --rounds 2: the first round keeps ≥ 99 % of the keys one round keeps (docs/workloads.md)


def calibrate_round1(inp, cfg: ScoreConfig, thresholds, recall: float, row_thresholds=None) -> dict:
    """Per-head first-round thresholds T1 (`calibrate --rounds 2`, golden.rounds) that keep at least `recall`
    of the keys the one-round filter keeps under `thresholds` [H] (or each row's `row_thresholds` [R]), and
    what both rounds then keep."""
    from latte_rtl import golden

    mask, t = inp.key_mask, np.asarray(thresholds, np.int64)
    one = score_rows(inp.q, inp.k, inp.heads, t, cfg, key_mask=mask, row_thresholds=row_thresholds)
    lo, hi = golden.round1_threshold_range(cfg, cfg.dim)
    t1 = []
    for h in range(len(t)):
        rows = inp.heads == h
        if not np.any(rows):
            t1.append(hi if cfg.threshold_mode == "relative" else lo)  # no rows to learn from: round 1 keeps all
            continue
        e1 = golden.round1_estimates(inp.q[rows], inp.k[h] if inp.k.ndim == 3 else inp.k, cfg)
        samples = golden.round1_samples(e1, one.kept[rows], cfg.threshold_mode, mask[rows])
        t1.append(min(golden.round1_threshold(samples, recall, cfg.threshold_mode), hi))
    t1 = np.clip(np.array(t1, np.int64), lo, hi)
    two = score_rows(inp.q, inp.k, inp.heads, t, cfg, key_mask=mask, row_thresholds=row_thresholds,
                     round1_thresholds=t1)
    return {"rounds": 2, "round1_msb_bits": golden.round1_msb_bits(cfg.msb_bits), "round1_recall": recall,
            "round1_thresholds": t1.tolist(),
            "round1_survived_fraction_all": float(two.survived.sum() / mask.sum()),
            "kept_fraction_all_two_rounds": float(two.kept.sum() / mask.sum()),
            "one_round_kept_still_kept": float((one.kept & two.kept).sum() / max(1, one.kept.sum()))}


def calibrate_kept(inp, cfg: ScoreConfig, kept: int) -> dict:
    """Thresholds that keep about `kept` keys per row (`calibrate --kept K`), from the dump's own rows.

    relative: T = the mean over rows of (row max E − the row's K-th largest E); absolute: Top-θ's T =
    mean + 0.1σ of the rows' K-th largest E. Per head (`thresholds` [H]) and per (head, row-length bucket
    ⌊2·log2(key_limit)⌋) (`bucket_thresholds` [H][NB]), with `row_thresholds` [R]: each row's T from that
    table, the array a `--row-thresholds` design takes. Rows that see at most K keys (and buckets with no
    such row) get the T that keeps every key. The K-th largest counts every visible key, sink and window
    keys included (they are kept besides).
    """
    from .smollm2_calib import TOPT_SIGMAS, largest_estimates

    n_heads, mask, lo, hi = len(inp.thresholds), inp.key_mask, *cfg.widths.threshold_range
    keep_all = hi if cfg.threshold_mode == "relative" else lo
    relative = cfg.threshold_mode == "relative"
    est = score_rows(inp.q, inp.k, inp.heads, np.full(n_heads, keep_all), cfg, key_mask=mask).estimate
    top = largest_estimates(est, mask, (kept,))
    stat = top[:, 0] - top[:, 1] if relative else top[:, 1]
    n = mask.sum(axis=1)
    bucket = np.floor(2 * np.log2(np.maximum(n, 1))).astype(np.int64)
    nb = int(2 * np.log2(cfg.max_keys)) + 1

    def table(rows: np.ndarray) -> int:
        if not rows.any():
            return keep_all
        x = stat[rows].astype(float)
        return int(np.rint(x.mean())) if relative else int(np.ceil(x.mean() + TOPT_SIGMAS * x.std()))

    per_head = np.array([table((inp.heads == h) & (n > kept)) for h in range(n_heads)])
    buckets = np.array([[table((inp.heads == h) & (n > kept) & (bucket == b)) for b in range(nb)]
                        for h in range(n_heads)])
    per_head, buckets = np.clip(per_head, lo, hi), np.clip(buckets, lo, hi)
    rows = np.where(n > kept, buckets[inp.heads, bucket], keep_all)
    achieved = score_rows(inp.q, inp.k, inp.heads, per_head, cfg, key_mask=mask, row_thresholds=rows).kept
    return {"threshold_mode": cfg.threshold_mode, "estimate": cfg.estimate, "kept_target": kept,
            "thresholds": per_head.tolist(), "bucket_thresholds": buckets.tolist(), "row_thresholds": rows.tolist(),
            "kept_per_row_mean": float(achieved.sum() / len(n)),
            "kept_fraction_all": float(achieved.sum() / mask.sum())}


def denominator_compensation(inp, cfg, thresholds: np.ndarray) -> list[int]:
    """Top-θ's offline-calibrated C_h: per head, the mean over the dump's rows of Σ e_j of the keys
    the filter drops (e_j relative to the kept maximum, as the softmax would have computed it).
    `cfg` is the LatteConfig; the input must have `softmax_mult`."""
    from latte_rtl.golden.attention import dropped_exp_mass

    from ..npzio import load_attention

    a = cfg.attention
    mult = load_attention(inp, cfg).mult
    res = score_rows(inp.q, inp.k, inp.heads, thresholds, cfg.score, key_mask=inp.key_mask)
    per_row = dropped_exp_mass(res.exact, res.kept, inp.key_mask, mult[inp.heads], exp_frac_bits=a.exp_frac_bits,
                               exp_bits=a.exp_bits, scale_shift=a.scale_shift)
    top = (1 << cfg.attention_widths.comp_width) - 1
    return [int(min(top, round(per_row[inp.heads == h].mean()))) if np.any(inp.heads == h) else 0
            for h in range(len(thresholds))]
