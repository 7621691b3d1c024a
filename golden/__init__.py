"""Bit-exact NumPy golden models (the arithmetic the RTL must match) and float references."""

from .latte import GoldenResult, keep_mask, partial_sums, recombine, score_rows, split
from .reference import float_attention

__all__ = [
    "GoldenResult",
    "float_attention",
    "keep_mask",
    "partial_sums",
    "recombine",
    "score_rows",
    "split",
]
