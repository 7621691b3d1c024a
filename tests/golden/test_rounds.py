"""The two-round filter (golden.rounds): hand-worked rows, the survivors' max, sinks, T1 calibration."""

import numpy as np
import pytest

from latte_rtl import golden
from latte_rtl.config import ScoreConfig

# q·k in the top 2 bits (x >> 6) and the top 4 (x >> 4) of int8 operands, worked by hand
Q = np.array([[64, 64]])  # >> 6: 1, 1;  >> 4: 4, 4
K = np.array([[127, 127],  # E1 = 2,  HH = 56
              [63, 63],  # E1 = 0,  HH = 24
              [-1, 64],  # E1 = 0,  HH = 12
              [-128, 0]])  # E1 = -2, HH = -32


def cfg(mode="relative", **kw):
    return ScoreConfig(dim=2, lanes=2, heads=1, max_keys=4, threshold_mode=mode, **kw)


def test_first_round_estimates_by_hand():
    assert golden.round1_msb_bits(4) == 2
    assert golden.round1_estimates(Q, K, cfg()).tolist() == [[2, 0, 0, -2]]
    assert golden.partial_sums(Q, K, cfg())["HH"].tolist() == [[56, 24, 12, -32]]


@pytest.mark.parametrize("t1, survived, kept", [
    (1, [1, 0, 0, 0], [1, 0, 0, 0]),  # only key 0 passes round 1: key 1 (HH 24) is lost
    (2, [1, 1, 1, 0], [1, 1, 0, 0]),  # round 2 (T 40 below max 56: HH ≥ 16) as one round
    (4, [1, 1, 1, 1], [1, 1, 0, 0]),
])
def test_two_rounds_relative_by_hand(t1, survived, kept):
    res = golden.score_rows(Q, K, np.zeros(1, int), np.array([40]), cfg(), round1_thresholds=np.array([t1]))
    assert res.survived[0].astype(int).tolist() == survived
    assert res.kept[0].astype(int).tolist() == kept
    assert res.scores[0, 0] == 64 * 127 * 2 and (res.scores[0][~res.kept[0]] == 0).all()


def test_round_two_takes_its_max_over_the_survivors():
    """Key 1 has the row's largest HH (40 > 32) but not the largest E1 (1 < 2): with T1 = 0 it does not
    survive, so key 0 is the max round 2 sees and is kept, which one round would drop at T = 0."""
    k = np.array([[64, 64], [127, 63]])  # E1 2, 1; HH 32, 40
    one = golden.score_rows(Q, k, np.zeros(1, int), np.array([0]), cfg())
    two = golden.score_rows(Q, k, np.zeros(1, int), np.array([0]), cfg(), round1_thresholds=np.array([0]))
    assert one.kept[0].tolist() == [False, True]
    assert two.kept[0].tolist() == [True, False]


def test_two_rounds_absolute_and_sinks_by_hand():
    res = golden.score_rows(Q, K, np.zeros(1, int), np.array([10]), cfg("absolute", sink_keys=1),
                            round1_thresholds=np.array([1]))
    assert res.survived[0].tolist() == [True, False, False, False]
    res = golden.score_rows(Q, K, np.zeros(1, int), np.array([10]), cfg("absolute", window_keys=1),
                            round1_thresholds=np.array([0]))
    assert res.survived[0].tolist() == [True, True, True, True]  # E1 ≥ 0, and the window's last key
    assert res.kept[0].tolist() == [True, True, True, True]  # HH ≥ 10; key 3 (HH −32) by the window


def test_first_round_threshold_range_keeps_all_and_none():
    lo, hi = golden.round1_threshold_range(cfg(), 2)
    assert (lo, hi) == (0, 2 * 2 * 4)  # max |E1| = d · 2^(2(m1−1)) = 2 · 4
    assert golden.round1_threshold_range(cfg("absolute"), 2) == (-8, 9)
    rng = np.random.default_rng(7)
    k = rng.integers(-128, 128, size=(16, 2))
    keep_all = golden.score_rows(Q, k, np.zeros(1, int), np.array([0]), cfg(), round1_thresholds=np.array([hi]))
    assert keep_all.survived.all()
    none = golden.score_rows(Q, k, np.zeros(1, int), np.array([-8]), cfg("absolute"), round1_thresholds=np.array([9]))
    assert not none.survived.any() and not none.kept.any()


@pytest.mark.parametrize("mode", ["relative", "absolute"])
@pytest.mark.parametrize("recall", [0.5, 0.9, 0.99, 1.0])
def test_first_round_threshold_is_the_tightest_at_its_recall(mode, recall):
    seed = 11
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    samples = rng.integers(-40, 40, size=500)
    t1 = golden.round1_threshold(samples, recall, mode)
    passes = (lambda t: np.mean(samples <= t)) if mode == "relative" else (lambda t: np.mean(samples >= t))
    tighter = t1 - 1 if mode == "relative" else t1 + 1
    assert passes(t1) >= recall and passes(tighter) < recall


def test_a_first_round_needs_two_msb_bits():
    with pytest.raises(ValueError, match="msb_bits >= 2"):
        golden.round1_msb_bits(1)
