"""The throughput and memory-traffic model of the score engines (docs/spec.md §3): the one place each
formula is written.

LATTE with the shared array (completion_lanes C = 0): phase 1 costs `beats` cycles per key; each kept
key costs three more passes (HL, LH, LL) of `beats` cycles on the same array. With a completion array
of C lanes (ratio r = lanes / C cycles per stored word) the estimate and the completion run at once:
the estimate costs `beats` cycles per key plus `beats` per kept key (the completion's LH pass reads the
single-port MSB bank first), the completion 3 · beats · r per kept key. Dense: `beats` cycles per key.
"""

from __future__ import annotations

import math

import numpy as np

# A measured LATTE score row may take up to CYCLE_SLACK × the model plus the q load (`beats`) and
# OVERHEAD_CYCLES (pipeline fill and drain of phase 1 and of the completion, the start of the scan,
# the end-of-row record; 14 since the dot product registers its products, and the dense engine its
# operands, in every top: a LATTE row of one key and one beat takes 18 cycles); the regression
# checks every row against `score_cycle_bound`.
CYCLE_SLACK = 1.15
OVERHEAD_CYCLES = 14
# Fixed hand-overs of an attention row: the stages, the read pipelines of softmax (4) and P·V (3), and
# the score datapath's product register.
ATTENTION_OVERHEAD = 22

# The model's formulas as text (manifest, summaries, README), written from the constants above.
CYCLE_MODEL = {
    "latte_score_engine": f"cycles(row) <= {CYCLE_SLACK} * beats * (N + 3 * kept) + beats + {OVERHEAD_CYCLES} "
                          "(shared array, completion_lanes 0); with C completion lanes, r = lanes / C: relative "
                          "mode beats * N + 3 * beats * r * kept, absolute mode max(beats * (N + kept), c_kept) "
                          "with c_k = max(c_(k-1), beats * (j_k + k)) + 3 * beats * r over the kept keys "
                          "j_1 < ... < j_kept (about max(estimate, completion)); same slack and overhead",
    "dense_score_engine": "cycles(row) ~= beats * N",
    "attention_engines": "cycles(row) ~= score stage + 3 * kept + prob_bits + beats * (V rows read + 1) + "
                         f"{ATTENTION_OVERHEAD} (golden.attention_cycles)",
}


def score_cycles(beats: int, n_keys, kept, ratio: int = 0, mode: str = "relative"):
    """Model cycles of a LATTE row of N keys with `kept` kept (scalars or arrays). Shared array (ratio 0):
    beats · (N + 3 · kept). Completion array (ratio r = lanes / C): relative mode beats · N + 3 · beats · r ·
    kept (the completion starts once the max is final); absolute mode max(beats · (N + kept), 3 · beats ·
    r · kept), kept keys spread over the row (`score_row_cycles` bounds any placement)."""
    if not ratio:
        return beats * (n_keys + 3 * kept)
    if mode == "relative":
        return beats * n_keys + 3 * beats * ratio * kept
    return np.maximum(beats * (n_keys + kept), 3 * beats * ratio * kept)


def score_row_cycles(cfg, n_keys, kept) -> np.ndarray:
    """Model cycles of each row [R] from its kept mask `kept` [R, N] (cfg: beats, completion_ratio,
    threshold_mode). Absolute mode with a completion array: the k-th kept key j_k has its HH after at most
    beats · (j_k + k) cycles (its own phase 1 and the LH reads of the k − 1 before it), the completion
    takes kept keys in order, 3 · beats · r each: c_k = max(c_(k−1), beats · (j_k + k)) + 3 · beats · r; the
    row ends at max(beats · (N + kept), c_kept)."""
    kept = np.asarray(kept, dtype=bool)
    count = kept.sum(axis=1, dtype=np.int64)
    beats, ratio = cfg.beats, getattr(cfg, "completion_ratio", 0)
    if not ratio or cfg.threshold_mode == "relative":
        return np.asarray(score_cycles(beats, np.asarray(n_keys, dtype=np.int64), count, ratio, cfg.threshold_mode))
    done = np.zeros(kept.shape[0], dtype=np.int64)
    seen = np.zeros(kept.shape[0], dtype=np.int64)
    for j in range(kept.shape[1]):
        col = kept[:, j]
        seen += col
        done = np.where(col, np.maximum(done, beats * (j + seen)) + 3 * beats * ratio, done)
    return np.maximum(beats * (np.asarray(n_keys, dtype=np.int64) + count), done)


def score_cycle_bound(beats: int, model_cycles):
    """The most cycles a measured row may take: floor(CYCLE_SLACK × model) + beats + OVERHEAD_CYCLES."""
    if isinstance(model_cycles, (int, float)):
        return math.floor(CYCLE_SLACK * model_cycles) + beats + OVERHEAD_CYCLES
    return (CYCLE_SLACK * model_cycles) // 1 + beats + OVERHEAD_CYCLES


def dense_cycles(beats: int, n_keys):
    """Model cycles of a dense row: beats · N."""
    return beats * n_keys


def keys_per_cycle(beats: int, keep_ratio: float, *, dense: bool = False, ratio: int = 0,
                   mode: str = "relative") -> float:
    """Keys a row consumes per cycle at a keep ratio k: 1 / (beats (1 + 3 k)) on the shared array, 1 / beats
    dense; with a completion array (ratio r = lanes / C) N / score_cycles(beats, N, k N, r, mode)."""
    if dense:
        return 1.0 / beats
    return 1.0 / float(score_cycles(beats, 1.0, keep_ratio, ratio, mode))


def score_reads(beats: int, n_keys, kept) -> dict:
    """Key-store word reads of a LATTE row: k_H in phase 1 and in the LH pass, k_L in HL and LL."""
    return {"msb": beats * (n_keys + kept), "lsb": 2 * beats * kept}


def dense_reads(beats: int, n_keys) -> dict:
    """Key-store word reads of a dense row: every word of every key once."""
    return {"full": beats * n_keys}


def attention_cycles(score_cycles, kept, nonzero, beats: int, prob_bits: int):
    """Model cycles of an attention row: the score stage, the softmax's three passes over the kept
    scores and its B-step division, P·V over the keys with p > 0 (`beats` words each) and the
    output beats, plus the hand-overs between the stages, the read pipelines of the softmax (4 stages)
    and of P·V (3), and the score datapath's product register (ATTENTION_OVERHEAD)."""
    return score_cycles + 3 * kept + prob_bits + beats * (nonzero + 1) + ATTENTION_OVERHEAD
