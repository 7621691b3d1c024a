"""The registry of tops: everything the tool generates, simulates, runs and costs."""

from .registry import DEFAULT_TOP, TOPS, Top, comparison_pairs, default_top, get_top, tops_for

__all__ = ["DEFAULT_TOP", "TOPS", "Top", "comparison_pairs", "default_top", "get_top", "tops_for"]
