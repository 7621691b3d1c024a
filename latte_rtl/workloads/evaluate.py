"""Quality vs keys filtered on the shipped models: float, int8 dense, LATTE (global, calibrated
head-wise, trained head-wise thresholds) and absolute thresholds. NumPy only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from golden import quantile_threshold, score_rows, split

from ..errors import UserError
from .attention import Attention
from .numpy_model import forward
from .spec import SPECS

DATA = Path(__file__).resolve().parent.parent / "data"
LSB_BITS = 4  # int8 operands, MS4B estimate
# Default evaluation sizes: lm 64 held-out windows of 256 bytes (16 384 predicted bytes) and
# 32 calibration windows; vision all 360 test images and 256 calibration images.
DEFAULT_SAMPLES = {"lm": (64, 32), "vision": (None, None)}


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


def hh_statistics(spec, params, scales, x, batch: int = 32):
    """Per (layer, head): the int8 HH of every allowed key and its row max, from an int8 dense pass."""
    att = Attention("int8", spec.n_layers, spec.n_heads, spec.head_dim, scales=scales, capture=True)
    gaps = [[[] for _ in range(spec.n_heads)] for _ in range(spec.n_layers)]
    values = [[[] for _ in range(spec.n_heads)] for _ in range(spec.n_layers)]
    for i in range(0, len(x), batch):
        forward(spec, params, x[i:i + batch], att)
        for layer, (qi, ki, _) in att.captured.items():
            (qh, _), (kh, _) = split(qi, 8, 8 - LSB_BITS), split(ki, 8, 8 - LSB_BITS)
            hh = np.einsum("bhsd,bhtd->bhst", qh, kh)
            s = hh.shape[-1]
            allowed = np.tril(np.ones((s, s), bool)) if spec.causal else np.ones((s, s), bool)
            row_max = np.where(allowed, hh, np.iinfo(np.int64).min).max(-1, keepdims=True)
            for h in range(spec.n_heads):
                gaps[layer][h].append((row_max[:, h] - hh[:, h])[:, allowed])
                values[layer][h].append(hh[:, h][:, allowed])
    cat = lambda lists: [[np.concatenate(v, axis=None) for v in per_layer] for per_layer in lists]  # noqa: E731
    return cat(gaps), cat(values)


def integer_calibration(spec, params, scales, x, thresholds, attention, batch: int = 32):
    """For the §7 integer pipeline, from calibration inputs: static V scales [L, H] (max |v| / 127)
    and Top-θ's offline-calibrated C_h [L, H] for `thresholds` (relative mode): the mean over
    rows of Σ e_j of the keys the filter drops, e_j taken against the kept maximum."""
    from golden.attention import dropped_exp_mass

    from .attention import softmax_multiplier

    att = Attention("int8", spec.n_layers, spec.n_heads, spec.head_dim, scales=scales, capture=True)
    v_max = np.zeros((spec.n_layers, spec.n_heads))
    comp_sum = np.zeros((spec.n_layers, spec.n_heads))
    rows = 0
    cfg = att.cfg(spec.seq)
    a = attention
    for i in range(0, len(x), batch):
        forward(spec, params, x[i:i + batch], att)
        s = spec.seq
        allowed = np.tril(np.ones((s, s), bool)) if spec.causal else np.ones((s, s), bool)
        for layer, (qi, ki, v) in att.captured.items():
            v_max[layer] = np.maximum(v_max[layer], np.abs(v).max(axis=(0, 2, 3)))
            mult = softmax_multiplier(scales[layer, :, 0], scales[layer, :, 1], spec.head_dim, a)
            for b in range(qi.shape[0]):
                for h in range(spec.n_heads):
                    res = score_rows(qi[b, h], ki[b, h], np.zeros(s, np.int64), thresholds[layer, h:h + 1], cfg,
                                     key_mask=allowed)
                    comp_sum[layer, h] += dropped_exp_mass(
                        res.exact, res.kept, np.broadcast_to(allowed, res.kept.shape), np.full(s, mult[h]),
                        exp_frac_bits=a.exp_frac_bits, exp_bits=a.exp_bits, scale_shift=a.scale_shift).sum()
        rows += len(x[i:i + batch]) * spec.seq
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
    """SPEC §2: keep p_j >= γ·max p ⇔ HH-units T = round(−ln γ · sqrt(d) / (S_q S_k 2^(2l)))."""
    return int(round(-math.log(gamma) * math.sqrt(head_dim) / (scale_q * scale_k * 2 ** (2 * LSB_BITS))))


def evaluate(name: str, *, limit: int | None = None, calib_limit: int | None = None, curve: bool = True,
             integer=None, log=print) -> dict:
    """Quality of every setting (float, int8, LATTE variants, and the §7 integer pipeline with
    `integer`'s F, P, B, R: dense, LATTE linear/log2, with and without Top-θ's C_h)."""
    spec, params, meta = load_model(name)
    limit = DEFAULT_SAMPLES[name][0] if limit is None else limit
    calib_limit = DEFAULT_SAMPLES[name][1] if calib_limit is None else calib_limit
    scales = np.array(meta["int8_scales"])
    trained = np.array(meta["trained_thresholds"]["values"], np.int64)
    keep = meta["trained_thresholds"]["target_keep"]
    x, y = eval_data(name, "test", limit)
    stats = hh_statistics(spec, params, scales, eval_data(name, "calib", calib_limit)[0])
    mk = lambda mode, thr=None: Attention(mode, spec.n_layers, spec.n_heads, spec.head_dim,  # noqa: E731
                                          scales=scales, thresholds=thr)
    settings = [
        ("float", mk("float")),
        ("int8 dense", mk("int8")),
        (f"LATTE global T (keep {keep:.2f})", mk("latte", calibrated_thresholds(stats, keep, head_wise=False))),
        (f"LATTE calibrated head-wise T (keep {keep:.2f})", mk("latte", calibrated_thresholds(stats, keep))),
        ("LATTE trained head-wise T", mk("latte", trained)),
        (f"absolute calibrated head-wise T (keep {keep:.2f})",
         mk("absolute", calibrated_thresholds(stats, keep, mode="absolute"))),
    ]
    if integer is not None:
        settings += integer_settings(spec, params, scales, calibrated_thresholds(stats, keep, head_wise=False),
                                     eval_data(name, "calib", calib_limit)[0], integer, keep)
    rows = []
    for label, att in settings:
        value = run(spec, params, att, x, y)
        rows.append({"setting": label, "metric": value, "keys_filtered": att.keys_filtered,
                     "thresholds": None if att.thresholds is None else att.thresholds.tolist()})
        log(f"  {label:48s} {value:8.4f}  filtered {att.keys_filtered:6.1%}")
    base = rows[1]["metric"]
    for r in rows:
        r["change_vs_int8"] = (r["metric"] - base) / base if name == "lm" else r["metric"] - base
    latte_rows = [r for r in rows if r["setting"].startswith("LATTE") and "§7" not in r["setting"]]
    best = (min if name == "lm" else max)(latte_rows, key=lambda r: r["metric"])
    result = {
        "workload": name, "metric": "perplexity" if name == "lm" else "accuracy",
        "baseline": base, "latte": best["metric"], "keys_filtered": best["keys_filtered"],
        "best_setting": best["setting"], "rows": rows,
        "samples": int(len(x)), "provenance": {k: meta[k] for k in ("corpus", "training", "metric", "spec")},
    }
    if curve:
        result["curve"] = tradeoff_curve(spec, params, scales, stats, x, y, log)
        result["curve"]["trained"] = [rows[4]["keys_filtered"], rows[4]["metric"]]
    return result


def integer_settings(spec, params, scales, thresholds, x_calib, integer, keep) -> list:
    """(label, Attention) of the §7 integer pipeline: dense; LATTE (global T) linear and log2;
    both with Top-θ's calibrated C_h."""
    from dataclasses import replace

    from .attention import IntegerSoftmax

    log2 = replace(integer, prob_format="log2")
    v_scales, comp = integer_calibration(spec, params, scales, x_calib, thresholds, integer)  # C_h: any format

    def mk(mode, a, c=None, thr=None):
        return Attention(mode, spec.n_layers, spec.n_heads, spec.head_dim, scales=scales, thresholds=thr,
                         integer=IntegerSoftmax(a, v_scales, c))

    b, lv = integer.prob_bits, integer.log_levels
    return [
        (f"integer dense attention (§7, B={b})", mk("int8", integer)),
        (f"LATTE + integer §7 linear B={b} (keep {keep:.2f})", mk("latte", integer, thr=thresholds)),
        (f"LATTE + integer §7 log2 L={lv} (keep {keep:.2f})", mk("latte", log2, thr=thresholds)),
        (f"LATTE + integer §7 linear + C_h (keep {keep:.2f})", mk("latte", integer, comp, thresholds)),
        (f"LATTE + integer §7 log2 + C_h (keep {keep:.2f})", mk("latte", log2, comp, thresholds)),
    ]


def tradeoff_curve(spec, params, scales, stats, x, y, log, keeps=(0.04, 0.07, 0.1, 0.15, 0.2, 0.3)) -> dict:
    out = {"keep_targets": list(keeps), "global": [], "head_wise": []}
    for keep in keeps:
        for key, head_wise in (("global", False), ("head_wise", True)):
            att = Attention("latte", spec.n_layers, spec.n_heads, spec.head_dim, scales=scales,
                            thresholds=calibrated_thresholds(stats, keep, head_wise=head_wise))
            value = run(spec, params, att, x, y)
            out[key].append([att.keys_filtered, value])
        log(f"  curve keep {keep:.2f}: global {out['global'][-1][1]:.4f} @ {out['global'][-1][0]:.1%}, "
            f"head-wise {out['head_wise'][-1][1]:.4f} @ {out['head_wise'][-1][0]:.1%}")
    return out


def format_table(result: dict) -> str:
    unit = "Δ vs int8 (relative)" if result["workload"] == "lm" else "Δ vs int8 (points)"
    lines = [f"{'setting':50s} {result['metric']:>10s} {'keys filtered':>14s} {unit:>22s}"]
    for r in result["rows"]:
        change = f"{r['change_vs_int8']:+.2%}" if result["workload"] == "lm" else f"{100 * r['change_vs_int8']:+.2f}"
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
    ax.plot([100 * c["trained"][0]], [c["trained"][1]], "r*", markersize=12, label="trained head-wise thresholds")
    ax.axhline(result["baseline"], color="gray", lw=0.8, label="int8 dense")
    ax.set(xlabel="keys filtered (%)", ylabel=result["metric"],
           title=f"{result['workload']}: quality vs keys filtered (LATTE, MS4B estimate)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
