"""Bit-exact NumPy golden models (the arithmetic the RTL must match) and float references.

latte_rtl.golden is the spec: it depends on NumPy only. The hardware, sim and the workloads import it,
never the reverse; parameters come as plain ints or as an object with the attributes of
`ScoreArithmetic`.
"""

from .attention import attention_rows, dense_attention_rows, exp_table, key_limit_mask, pv_rows, softmax_rows, vmean_of
from .cycles import (
    attention_back_cycles,
    attention_cycles,
    attention_interval,
    attention_pipeline,
    decode_cycles,
    decode_reads,
    dense_cycles,
    dense_reads,
    keys_per_cycle,
    overlap_interval,
    rows_overlap,
    score_cycles,
    score_overlap,
    score_reads,
    score_row_cycles,
)
from .latte import (
    ESTIMATES,
    GoldenResult,
    ScoreArithmetic,
    estimates,
    keep_mask,
    max_estimate,
    partial_sums,
    quantile_threshold,
    recombine,
    score_rows,
    split,
    threshold_for_keep,
)
from .reference import float_attention, softmax_attention

__all__ = [
    "attention_back_cycles",
    "attention_cycles",
    "attention_interval",
    "attention_pipeline",
    "attention_rows",
    "dense_attention_rows",
    "exp_table",
    "key_limit_mask",
    "pv_rows",
    "softmax_rows",
    "vmean_of",
    "ESTIMATES",
    "estimates",
    "max_estimate",
    "GoldenResult",
    "ScoreArithmetic",
    "decode_cycles",
    "decode_reads",
    "dense_cycles",
    "dense_reads",
    "float_attention",
    "keep_mask",
    "keys_per_cycle",
    "partial_sums",
    "quantile_threshold",
    "recombine",
    "score_cycles",
    "score_reads",
    "overlap_interval",
    "rows_overlap",
    "score_overlap",
    "score_row_cycles",
    "score_rows",
    "softmax_attention",
    "split",
    "threshold_for_keep",
]
