"""The two-round filter (`rounds` 2, Energon style; docs/spec.md §2): a first round on the top
m1 = ⌊m / 2⌋ bits of both operands (another m1 where the parameters carry `round1_msb_bits`) drops clear
losers, then the m-bit estimate decides among its survivors only.

Round 1 compares E1, the estimate of the same kind (HH or centred) at m1 bits, with its own threshold T1
(relative: E1 >= max(E1) − T1; absolute: E1 >= T1); the attention sinks and the window are kept in both
rounds. Round 2 is the one-round filter over the survivors: its relative max is theirs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .latte import _matmul_t, estimates, keep_mask, max_estimate, split

ROUNDS = (1, 2)


@dataclass(frozen=True)
class RoundArithmetic:
    """What golden.estimates needs, at the first round's width."""

    bits: int
    msb_bits: int
    estimate: str

    @property
    def lsb_bits(self) -> int:
        return self.bits - self.msb_bits


def round1_msb_bits(msb_bits: int) -> int:
    """m1 = ⌊m / 2⌋: the first round's high part (2 bits at m = 4)."""
    if msb_bits < 2:
        raise ValueError(f"a first round needs msb_bits >= 2 (it reads the top ⌊m / 2⌋ bits), not {msb_bits!r}")
    return msb_bits // 2


def round1_arithmetic(cfg) -> RoundArithmetic:
    """The first round's arithmetic: m1 = cfg.round1_msb_bits where given (1 ≤ m1 < m), else ⌊m / 2⌋."""
    m1 = getattr(cfg, "round1_msb_bits", None)
    if m1 is None:
        m1 = round1_msb_bits(cfg.msb_bits)
    elif not 1 <= m1 < cfg.msb_bits:
        raise ValueError(f"round1_msb_bits must be 1 ≤ m1 < msb_bits = {cfg.msb_bits}, not {m1!r}")
    return RoundArithmetic(cfg.bits, m1, getattr(cfg, "estimate", "hh"))


def round1_threshold_range(cfg, dim: int) -> tuple[int, int]:
    """T1's range, as T's (docs/spec.md §2) with max |E1| at m1 bits: keep-all and keep-none expressible."""
    r1 = round1_arithmetic(cfg)
    top = max_estimate(r1.bits, r1.msb_bits, dim, r1.estimate)
    return (0, 2 * top) if cfg.threshold_mode == "relative" else (-top, top + 1)


def round1_estimates(q: np.ndarray, k: np.ndarray, cfg) -> np.ndarray:
    """E1 [R, N] of q [R, d] and k [N, d]: the filter's estimate at m1 bits."""
    r1 = round1_arithmetic(cfg)
    q_h, _ = split(q, r1.bits, r1.msb_bits)
    k_h, _ = split(k, r1.bits, r1.msb_bits)
    return estimates(_matmul_t(q_h, k_h), q, k, r1)


def round1_survivors(e1: np.ndarray, row_thresholds: np.ndarray, cfg, key_mask: np.ndarray | None = None) -> np.ndarray:
    """Keys [R, N] that pass round 1 (sinks and window included)."""
    return keep_mask(e1, row_thresholds, cfg.threshold_mode, key_mask, getattr(cfg, "sink_keys", 0),
                     getattr(cfg, "window_keys", 0))


def round1_samples(e1: np.ndarray, kept: np.ndarray, mode: str, key_mask: np.ndarray | None = None) -> np.ndarray:
    """What T1 is calibrated on, for the `kept` keys [R, N] (the one-round filter's): relative, their gap to
    the row max of E1 (over the `key_mask` keys); absolute, their E1."""
    if mode == "relative":
        masked = e1 if key_mask is None else np.where(key_mask, e1, np.iinfo(np.int64).min)
        return (masked.max(axis=1, keepdims=True) - e1)[kept]
    return e1[kept]


def round1_threshold(samples: np.ndarray, recall: float, mode: str) -> int:
    """The tightest T1 under which at least `recall` of the `samples` (round1_samples) pass round 1:
    relative, the ⌈recall·n⌉-th smallest gap; absolute, the ⌈recall·n⌉-th largest E1. No samples (no kept
    key): 0, round 1 keeps only each row's maximum (relative), or the int64 top, keeping none (absolute:
    callers clip it to T1's range)."""
    if not 0 < recall <= 1:
        raise ValueError(f"recall must be in (0, 1], not {recall!r}")
    ordered = np.sort(np.asarray(samples, dtype=np.int64), axis=None)
    if not ordered.size:
        return 0 if mode == "relative" else int(np.iinfo(np.int64).max)
    rank = max(1, math.ceil(recall * ordered.size - 1e-9))  # samples that must pass
    return int(ordered[rank - 1] if mode == "relative" else ordered[-rank])
