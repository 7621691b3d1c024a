"""Bit-exact NumPy golden models (the arithmetic the RTL must match) and float references."""

from .latte import (GoldenResult, keep_mask, partial_sums, quantile_threshold, recombine, score_rows, split,
                    threshold_for_keep)
from .reference import float_attention

__all__ = [
    "GoldenResult",
    "float_attention",
    "keep_mask",
    "partial_sums",
    "quantile_threshold",
    "recombine",
    "score_rows",
    "split",
    "threshold_for_keep",
]
