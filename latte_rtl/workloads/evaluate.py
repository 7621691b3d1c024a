"""Quality vs keys filtered on the workloads (tasks.py): float, int8 dense, LATTE (global,
calibrated head-wise, trained head-wise thresholds), absolute thresholds and the §7 integer
pipeline. NumPy only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from latte_rtl.golden import quantile_threshold, score_rows, split

from ..errors import UserError
from .attention import Attention
from .numpy_model import forward
from .spec import SPECS

DATA = Path(__file__).resolve().parent.parent / "data"
LSB_BITS = 4  # int8 operands, MS4B estimate


def load_model(name: str):
    """(spec, params, provenance/calibration dict) of a shipped model. Params are float64: inference
    in float32 differs between BLAS builds in the 4th decimal of the perplexity; float64 reproduces."""
    if name not in SPECS:
        raise UserError(f"unknown workload {name!r}: expected one of {', '.join(SPECS)}")
    with np.load(DATA / f"{name}_weights.npz") as npz:
        params = {k: npz[k].astype(np.float64) for k in npz.files}
    meta = json.loads((DATA / f"{name}_model.json").read_text())
    return SPECS[name], params, meta


def eval_data(name: str, split: str, limit: int | None = None):
    """Held-out ('test') or calibration ('calib') inputs and targets."""
    with np.load(DATA / "eval_data.npz") as npz:
        if name == "lm":
            raw = npz["lm_heldout" if split == "test" else "lm_calib"].astype(np.int64)
            windows = raw.reshape(-1, SPECS["lm"].seq + 1)[:limit]
            return windows[:, :-1], windows[:, 1:]
        x = npz["vision_x_test" if split == "test" else "vision_x_calib"].astype(np.int64)
        y = npz["vision_y_test" if split == "test" else "vision_y_calib"].astype(np.int64)
        return x[:limit], y[:limit]


def metric(spec, logits: np.ndarray, targets: np.ndarray) -> float:
    """Perplexity (lm) or accuracy (vision)."""
    if spec.name == "lm":
        z = logits - logits.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        nll = -np.take_along_axis(logp, targets[..., None], -1).mean()
        return float(math.exp(nll))
    return float((logits.argmax(-1) == targets).mean())


def run(spec, params, attention, x, y, batch: int = 32) -> float:
    logits = np.concatenate([forward(spec, params, x[i:i + batch], attention) for i in range(0, len(x), batch)])
    return metric(spec, logits, y)


def _allowed(task, s: int) -> np.ndarray:
    return np.tril(np.ones((s, s), bool)) if task.causal else np.ones((s, s), bool)


def hh_statistics(task, x, estimate: str = "hh"):
    """Per (layer, head): the estimate E (HH, or centred) of every allowed key and its row max, from an
    int8 dense pass."""
    from latte_rtl.golden import estimates

    att = task.attention("int8", capture=True, estimate=estimate)
    gaps = [[[] for _ in range(task.n_heads)] for _ in range(task.n_layers)]
    values = [[[] for _ in range(task.n_heads)] for _ in range(task.n_layers)]
    for i in range(0, len(x), task.batch):
        task.forward(x[i:i + task.batch], att)
        for layer, (qi, ki, _) in att.captured.items():
            (qh, _), (kh, _) = split(qi, 8, 8 - LSB_BITS), split(ki, 8, 8 - LSB_BITS)
            hh = np.einsum("bhsd,bhtd->bhst", qh, kh)
            if estimate != "hh":
                cfg = att.cfg(hh.shape[-1])
                hh = np.array([[estimates(hh[b, h], qi[b, h], ki[b, h], cfg) for h in range(hh.shape[1])]
                               for b in range(hh.shape[0])])
            allowed = _allowed(task, hh.shape[-1])
            row_max = np.where(allowed, hh, np.iinfo(np.int64).min).max(-1, keepdims=True)
            for h in range(task.n_heads):
                gaps[layer][h].append((row_max[:, h] - hh[:, h])[:, allowed])
                values[layer][h].append(hh[:, h][:, allowed])
    cat = lambda lists: [[np.concatenate(v, axis=None) for v in per_layer] for per_layer in lists]  # noqa: E731
    return cat(gaps), cat(values)


def round1_calibration(task, x, thresholds, estimate: str, recall: float) -> np.ndarray:
    """First-round thresholds T1 [L, H] (golden.rounds) that keep at least `recall` of the keys the
    one-round filter keeps under `thresholds` [L, H] on the calibration inputs `x` (relative mode)."""
    from latte_rtl.golden import round1_estimates, round1_samples, round1_threshold

    att = task.attention("latte", capture=True, estimate=estimate, thresholds=thresholds)
    samples = [[[] for _ in range(task.n_heads)] for _ in range(task.n_layers)]
    for i in range(0, len(x), task.batch):
        task.forward(x[i:i + task.batch], att)
        for layer, (qi, ki, _) in att.captured.items():
            s = qi.shape[2]
            cfg, allowed = att.cfg(s), _allowed(task, s)
            for b in range(qi.shape[0]):
                for h in range(task.n_heads):
                    res = score_rows(qi[b, h], ki[b, h], np.zeros(s, np.int64), thresholds[layer, h:h + 1], cfg,
                                     key_mask=allowed)
                    e1 = round1_estimates(qi[b, h], ki[b, h], cfg)
                    samples[layer][h].append(round1_samples(e1, res.kept, "relative", allowed))
    return np.array([[round1_threshold(np.concatenate(v), recall, "relative") for v in per_layer]
                     for per_layer in samples], np.int64)


def integer_calibration(task, x, thresholds, attention):
    """For the §7 integer pipeline, from calibration inputs: static V scales [L, H] (max |v| / 127)
    and Top-θ's offline-calibrated C_h [L, H] for `thresholds` (relative mode): the mean over
    rows of Σ e_j of the keys the filter drops, e_j taken against the kept maximum."""
    from latte_rtl.golden.attention import dropped_exp_mass

    from .attention import softmax_multiplier

    att = task.attention("int8", capture=True)
    v_max = np.zeros((task.n_layers, task.n_heads))
    comp_sum = np.zeros((task.n_layers, task.n_heads))
    rows = 0
    a, scales = attention, task.scales
    for i in range(0, len(x), task.batch):
        task.forward(x[i:i + task.batch], att)
        for layer, (qi, ki, v) in att.captured.items():
            s = qi.shape[2]
            cfg, allowed = att.cfg(s), _allowed(task, s)
            v_max[layer] = np.maximum(v_max[layer], np.abs(v).max(axis=(0, 2, 3)))
            mult = softmax_multiplier(scales[layer, :, 0], scales[layer, :, 1], task.head_dim, a)
            for b in range(qi.shape[0]):
                for h in range(task.n_heads):
                    res = score_rows(qi[b, h], ki[b, h], np.zeros(s, np.int64), thresholds[layer, h:h + 1], cfg,
                                     key_mask=allowed)
                    comp_sum[layer, h] += dropped_exp_mass(
                        res.exact, res.kept, np.broadcast_to(allowed, res.kept.shape), np.full(s, mult[h]),
                        exp_frac_bits=a.exp_frac_bits, exp_bits=a.exp_bits, scale_shift=a.scale_shift).sum()
        rows += att.captured[0][0].shape[0] * att.captured[0][0].shape[2]
    return np.maximum(v_max, 1e-12) / 127.0, np.rint(comp_sum / rows).astype(np.int64)


def calibrated_thresholds(stats, keep: float, mode: str = "relative", head_wise: bool = True) -> np.ndarray:
    """Integer T per (layer, head) that keeps about `keep` of the calibration keys.

    relative: T = keep-quantile of (row max − HH); absolute: T = (1−keep)-quantile of HH.
    head_wise=False: one T for every head of every layer (pooled quantile).
    """
    gaps, values = stats
    src = gaps if mode == "relative" else values
    n_layers, n_heads = len(src), len(src[0])
    if not head_wise:
        pooled = np.concatenate([v for per_layer in src for v in per_layer])
        return np.full((n_layers, n_heads), quantile_threshold(pooled, keep, mode), np.int64)
    return np.array([[quantile_threshold(v, keep, mode) for v in per_layer] for per_layer in src], np.int64)


def gamma_to_threshold(gamma: float, scale_q: float, scale_k: float, head_dim: int) -> int:
    """docs/spec.md §2: keep p_j >= γ·max p ⇔ HH-units T = round(−ln γ · sqrt(d) / (S_q S_k 2^(2l)))."""
    return int(round(-math.log(gamma) * math.sqrt(head_dim) / (scale_q * scale_k * 2 ** (2 * LSB_BITS))))


def evaluate(name: str, *, limit: int | None = None, calib_limit: int | None = None, curve: bool = True,
             integer=None, log=print, jobs: int = 1, round1_recall: float | None = None) -> dict:
    """Quality of every setting (float, int8, LATTE variants, and the §7 integer pipeline with
    `integer`'s F, P, B, R: dense, LATTE linear/log2, with and without Top-θ's C_h); the settings
    run in `jobs` processes (same results). BLAS runs single-threaded meanwhile: the per-head
    matrices are small and its threads only spin (a 4-pair MiniLM evaluation on the shared 2-core
    machine: 127 s wall with 2 BLAS threads, 9 s with one). With `round1_recall`, the calibrated head-wise
    rows also run with two rounds (golden.rounds), T1 keeping that recall of their one-round keys."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        return _evaluate(name, limit, calib_limit, curve, integer, log, jobs, round1_recall)


def _evaluate(name, limit, calib_limit, curve, integer, log, jobs, round1_recall) -> dict:
    from .tasks import load_task

    task = load_task(name, limit, calib_limit)
    keep = task.keep
    stats = hh_statistics(task, task.calib)
    settings = [
        ("float", Attention("float", task.n_layers, task.n_heads, task.head_dim)),
        ("int8 dense", task.attention("int8")),
        (f"LATTE global T (keep {keep:.2f})", task.attention("latte", thresholds=calibrated_thresholds(
            stats, keep, head_wise=False))),
        (f"LATTE calibrated head-wise T (keep {keep:.2f})", task.attention(
            "latte", thresholds=calibrated_thresholds(stats, keep))),
    ]
    centred = calibrated_thresholds(hh_statistics(task, task.calib, "centred"), keep)
    settings.append((f"LATTE calibrated head-wise T, centred estimate (keep {keep:.2f})", task.attention(
        "latte", thresholds=centred, estimate="centred")))
    if round1_recall is not None:
        settings += two_round_settings(task, [(calibrated_thresholds(stats, keep), "hh"), (centred, "centred")],
                                       round1_recall)
    if task.trained is not None:
        settings.append(("LATTE trained head-wise T", task.attention("latte", thresholds=task.trained)))
    settings.append((f"absolute calibrated head-wise T (keep {keep:.2f})", task.attention(
        "absolute", thresholds=calibrated_thresholds(stats, keep, mode="absolute"))))
    if integer is not None:
        settings += integer_settings(task, calibrated_thresholds(stats, keep, head_wise=False), integer)
    curve_points = curve_settings(task, stats) if curve else []
    scored = score_all(task, [att for _, att in settings] + [att for _, _, att in curve_points], jobs)
    rows = []
    for (label, att), figures in zip(settings, scored):
        rows.append({"setting": label, **figures, "keys_filtered": att.keys_filtered,
                     "thresholds": None if att.thresholds is None else att.thresholds.tolist()})
        if att.round1_thresholds is not None:
            rows[-1].update(round1_thresholds=att.round1_thresholds.tolist(), round1_survived=att.round1_survived)
        survived = "" if att.round1_thresholds is None else f"  round 1 passes {att.round1_survived:6.1%}"
        log(f"  {label:48s} {figures['metric']:8.4f}  filtered {att.keys_filtered:6.1%}{survived}")
    base = rows[1]["metric"]
    for r in rows:
        r["change_vs_int8"] = (r["metric"] - base) / base if task.relative_change else r["metric"] - base
    latte_rows = [r for r in rows if r["setting"].startswith("LATTE") and "§7" not in r["setting"]]
    best = (min if task.lower_is_better else max)(latte_rows, key=lambda r: r["metric"])
    result = {
        "workload": name, "metric": task.metric, "lower_is_better": task.lower_is_better,
        "relative_change": task.relative_change,
        "baseline": base, "latte": best["metric"], "keys_filtered": best["keys_filtered"],
        "best_setting": best["setting"], "rows": rows,
        "samples": int(len(task.test[0])), "provenance": task.provenance,
    }
    if curve:
        known = {(head_wise, task.keep): [r["keys_filtered"], r["metric"]]
                 for head_wise, r in ((False, rows[2]), (True, rows[3]))}
        result["curve"] = tradeoff_curve(task, curve_points, scored[len(settings):], known, log)
        trained = next((r for r in rows if r["setting"] == "LATTE trained head-wise T"), None)
        if trained is not None:
            result["curve"]["trained"] = [trained["keys_filtered"], trained["metric"]]
    return result


def two_round_settings(task, one_round, recall: float) -> list:
    """(label, Attention) of two rounds (golden.rounds) for each (thresholds [L, H], estimate) in `one_round`:
    the same T, and T1 calibrated to keep `recall` of the keys one round keeps."""
    from latte_rtl.golden import round1_msb_bits

    m1 = round1_msb_bits(8 - LSB_BITS)
    out = []
    for thresholds, estimate in one_round:
        t1 = round1_calibration(task, task.calib, thresholds, estimate, recall)
        label = "" if estimate == "hh" else ", centred estimate"
        out.append((f"LATTE head-wise T{label}, 2 rounds ({m1}-bit, recall {recall:.3g})", task.attention(
            "latte", thresholds=thresholds, estimate=estimate, round1_thresholds=t1)))
    return out


def integer_settings(task, thresholds, integer) -> list:
    """(label, Attention) of the §7 integer pipeline: dense; LATTE (global T) linear and log2;
    both with Top-θ's calibrated C_h."""
    from dataclasses import replace

    from .attention import IntegerSoftmax

    log2 = replace(integer, prob_format="log2")
    v_scales, comp = integer_calibration(task, task.calib, thresholds, integer)  # C_h: any format

    def mk(mode, a, c=None, thr=None):
        return task.attention(mode, thresholds=thr, integer=IntegerSoftmax(a, v_scales, c))

    b, lv, keep = integer.prob_bits, integer.log_levels, task.keep
    return [
        (f"integer dense attention (§7, B={b})", mk("int8", integer)),
        (f"LATTE + integer §7 linear B={b} (keep {keep:.2f})", mk("latte", integer, thr=thresholds)),
        (f"LATTE + integer §7 log2 L={lv} (keep {keep:.2f})", mk("latte", log2, thr=thresholds)),
        (f"LATTE + integer §7 linear + C_h (keep {keep:.2f})", mk("latte", integer, comp, thresholds)),
        (f"LATTE + integer §7 log2 + C_h (keep {keep:.2f})", mk("latte", log2, comp, thresholds)),
    ]


def curve_settings(task, stats) -> list:
    """(head-wise?, keep, Attention) of the trade-off curve: one global and head-wise calibrated
    thresholds at each of the task's keep targets but its own (`evaluate`'s rows 2 and 3)."""
    return [(head_wise, keep, task.attention("latte", thresholds=calibrated_thresholds(stats, keep,
                                                                                        head_wise=head_wise)))
            for keep in task.curve_keeps if keep != task.keep for head_wise in (False, True)]


def tradeoff_curve(task, points, scored, known, log) -> dict:
    """(keys filtered, metric) per keep target: `points` with their `scored` figures, and `known`
    {(head-wise?, keep): point}."""
    found = dict(known)
    for (head_wise, keep, att), figures in zip(points, scored):
        found[(head_wise, keep)] = [att.keys_filtered, figures["metric"]]
    out = {"keep_targets": list(task.curve_keeps), "global": [], "head_wise": []}
    for keep in task.curve_keeps:
        out["global"].append(found[(False, keep)])
        out["head_wise"].append(found[(True, keep)])
        log(f"  curve keep {keep:.2f}: global {out['global'][-1][1]:.4f} @ {out['global'][-1][0]:.1%}, "
            f"head-wise {out['head_wise'][-1][1]:.4f} @ {out['head_wise'][-1][0]:.1%}")
    return out


_POOL = None  # (task, attentions) shared with forked workers


def _score_one(i: int):
    task, atts = _POOL
    figures = task.score(atts[i], task.test)
    return figures, atts[i].kept, atts[i].allowed, atts[i].survived


def score_all(task, atts: list, jobs: int = 1) -> list[dict]:
    """task.score of every Attention (their kept/allowed counters filled), the first one alone
    first (the float reference some tasks keep), the rest in `jobs` forked processes."""
    global _POOL
    first = [task.score(atts[0], task.test)]
    if jobs <= 1 or len(atts) < 3:
        return first + [task.score(att, task.test) for att in atts[1:]]
    import multiprocessing

    from ..executor import bounded_jobs
    from ..signals import quiet_worker

    _POOL = (task, atts)
    try:
        workers = bounded_jobs(jobs, len(atts) - 1, "settings", "--jobs")
        with multiprocessing.get_context("fork").Pool(workers, initializer=quiet_worker) as pool:
            results = pool.map(_score_one, range(1, len(atts)), chunksize=1)
    finally:
        _POOL = None
    for att, (_, kept, allowed, survived) in zip(atts[1:], results):
        att.kept[...], att.allowed[...], att.survived[...] = kept, allowed, survived
    return first + [figures for figures, *_ in results]


def format_table(result: dict) -> str:
    relative = result.get("relative_change", result["workload"] == "lm")
    unit = "Δ vs int8 (relative)" if relative else "Δ vs int8 (points)"
    lines = [f"{'setting':50s} {result['metric']:>10s} {'keys filtered':>14s} {unit:>22s}"]
    for r in result["rows"]:
        change = f"{r['change_vs_int8']:+.2%}" if relative else f"{100 * r['change_vs_int8']:+.2f}"
        lines.append(f"{r['setting']:50s} {r['metric']:10.4f} {r['keys_filtered']:14.1%} {change:>22s}")
    return "\n".join(lines)


def plot_curve(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = result["curve"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, style in (("global", "s--"), ("head_wise", "o-")):
        pts = sorted(c[key])
        ax.plot([100 * p[0] for p in pts], [p[1] for p in pts], style,
                label="one global threshold" if key == "global" else "calibrated head-wise thresholds")
    if "trained" in c:
        ax.plot([100 * c["trained"][0]], [c["trained"][1]], "r*", markersize=12, label="trained head-wise thresholds")
    ax.axhline(result["baseline"], color="gray", lw=0.8, label="int8 dense")
    ax.set(xlabel="keys filtered (%)", ylabel=result["metric"],
           title=f"{result['workload']}: quality vs keys filtered (LATTE, MS4B estimate)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    from ..design import atomic_write

    try:
        atomic_write(path, lambda f: fig.savefig(f, dpi=120, format="png"), "--plot")
    finally:
        plt.close(fig)
    return path
