"""The overlapped attention cycle model (docs/spec.md §3, §7) on hand-worked rows: constants 22
(hand-overs), 12 (of them after the score stage) and 2 (the score stage's hand-over between rows)."""

import numpy as np

from latte_rtl import golden


def test_one_row_alone_is_the_sum_of_the_stages():
    back = golden.attention_back_cycles(10, 2, 4, 6)
    assert back == 48  # 3·10 + 6 + 4·3
    latency, interval = golden.attention_pipeline([100], [back], [np.array([0])])
    assert latency.tolist() == [170] == [golden.attention_cycles(100, 10, 2, 4, 6)]  # 100 + 48 + 22
    assert interval.tolist() == [170]


def test_score_bound_rows_complete_a_score_stage_apart():
    # row 1 starts 2 cycles after row 0's score record (cycle 110) and finishes at 112 + 110 + 42
    latency, interval = golden.attention_pipeline([100, 100], [30, 30], [np.array([0, 1])])
    assert latency.tolist() == [152, 152]
    assert interval.tolist() == [152, 112]
    assert golden.attention_interval(100, 30) == 112


def test_back_end_bound_rows_queue_behind_the_softmax_and_wait_for_a_bank():
    # back ends of 112 cycles back to back: completions 132, 244, 356; row 2's record waits until
    # row 0 frees its bank (cycle 132), its first q beat was taken at 44
    latency, interval = golden.attention_pipeline([10, 10, 10], [100, 100, 100], [np.array([0, 1, 2])])
    assert latency.tolist() == [132, 222, 312]
    assert interval.tolist() == [132, 112, 112]
    assert golden.attention_interval(10, 100) == 112


def test_groups_restart_the_pipeline():
    latency, interval = golden.attention_pipeline([100, 100, 100], [30, 30, 30], [np.array([0, 2]), np.array([1])])
    assert latency.tolist() == [152, 152, 152]
    assert interval.tolist() == [152, 152, 112]


def test_overlapped_score_rows_by_hand():
    """golden.score_overlap on two rows worked out by hand (beats 1, r = 4, scan width 4, N = 4):
    row 0 keeps keys 0 and 3: front 1·(1+4)+6 = 11, completions 11+12 = 23 and 23+12 = 35, record
    35+8 = 43; row 1 (first q beat at 11) keeps key 1: front 11+1·(1+4+2)+6 = 24, waits for 43+1 = 44,
    completion 56, record 64: latency 64−11 = 53, interval 64−43 = 21."""
    from latte_rtl.config import ScoreConfig

    cfg = ScoreConfig(dim=8, lanes=8, max_keys=4, completion_lanes=2)
    assert (cfg.beats, cfg.completion_ratio, cfg.widths.scan_width) == (1, 4, 4)
    kept = np.array([[1, 0, 0, 1], [0, 1, 0, 0]], dtype=bool)
    latency, interval = golden.score_overlap(cfg, 4, kept, [np.array([0, 1])])
    assert latency.tolist() == [43, 53] and interval.tolist() == [43, 21]
    latency, interval = golden.score_overlap(cfg, 4, kept, [np.array([0]), np.array([1])])  # each alone
    assert latency.tolist() == [43, 1 + 4 + 6 + 12 + 8] and interval.tolist() == latency.tolist()
