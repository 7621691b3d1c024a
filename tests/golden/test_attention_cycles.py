"""The overlapped attention cycle model (docs/spec.md §3, §7) on hand-worked rows: constants 20
(hand-overs), 12 (of them after the score stage) and 2 (the score stage's hand-over between rows; −2 on
LATTE's shared array)."""

import numpy as np

from latte_rtl import golden


def test_one_row_alone_is_the_sum_of_the_stages():
    back = golden.attention_back_cycles(10, 2, 4, 6)
    assert back == 48  # 3·10 + 6 + 4·3
    latency, interval = golden.attention_pipeline([100], [back], [np.array([0])])
    assert latency.tolist() == [168] == [golden.attention_cycles(100, 10, 2, 4, 6)]  # 100 + 48 + 20
    assert interval.tolist() == [168]


def test_score_bound_rows_complete_a_score_stage_apart():
    # row 1 starts 2 cycles after row 0's score record (cycle 108) and finishes at 110 + 108 + 42
    latency, interval = golden.attention_pipeline([100, 100], [30, 30], [np.array([0, 1])])
    assert latency.tolist() == [150, 150]
    assert interval.tolist() == [150, 110]
    assert golden.attention_interval(100, 30) == 110


def test_the_shared_array_takes_the_next_row_before_its_record():
    """LATTE's shared array: row 1's first q beat 2 cycles before row 0's score record (cycle 108); back-end
    bound rows: row 2 starts at row 1's front − 2 (cycle 16 + 18 − 2 = 32), row 0's record (cycle 18) taken,
    and its record waits for row 0's bank (cycle 130)."""
    from latte_rtl.config import ScoreConfig

    shared, split = ScoreConfig(dim=8, lanes=8, max_keys=4), ScoreConfig(dim=8, lanes=8, max_keys=4, completion_lanes=2)
    assert (golden.hands_over_early(shared), golden.hands_over_early(split), golden.hands_over_early(None)) == \
        (True, False, False)
    latency, interval = golden.attention_pipeline([100, 100], [30, 30], [np.array([0, 1])], early=True)
    assert latency.tolist() == [150, 150] and interval.tolist() == [150, 106]
    assert golden.attention_interval(100, 30, early=True) == 106
    latency, interval = golden.attention_pipeline([10, 10, 10], [100, 100, 100], [np.array([0, 1, 2])], early=True)
    assert latency.tolist() == [130, 226, 322]  # completions 130, 242, 354; first q beats 0, 16, 32
    assert interval.tolist() == [130, 112, 112]


def test_back_end_bound_rows_queue_behind_the_softmax_and_wait_for_a_bank():
    # back ends of 112 cycles back to back: completions 130, 242, 354; row 2's record waits until
    # row 0 frees its bank (cycle 130), its first q beat was taken at 40
    latency, interval = golden.attention_pipeline([10, 10, 10], [100, 100, 100], [np.array([0, 1, 2])])
    assert latency.tolist() == [130, 222, 314]
    assert interval.tolist() == [130, 112, 112]
    assert golden.attention_interval(10, 100) == 112


def test_groups_restart_the_pipeline():
    latency, interval = golden.attention_pipeline([100, 100, 100], [30, 30, 30], [np.array([0, 2]), np.array([1])])
    assert latency.tolist() == [150, 150, 150]
    assert interval.tolist() == [150, 150, 110]


def test_overlapped_score_rows_by_hand():
    """golden.score_overlap on two rows worked out by hand (beats 1, r = 4, scan width 4, N = 4):
    row 0 keeps keys 0 and 3: front 1·(1+4)+5 = 10, completions 10+12 = 22 and 22+12 = 34, record
    34+7 = 41; row 1 (first q beat at 10) keeps key 1: front 10+1·(1+4+2)+5 = 22, waits for 41+1 = 42,
    completion 54, record 61: latency 61−10 = 51, interval 61−41 = 20."""
    from latte_rtl.config import ScoreConfig

    cfg = ScoreConfig(dim=8, lanes=8, max_keys=4, completion_lanes=2)
    assert (cfg.beats, cfg.completion_ratio, cfg.widths.scan_width) == (1, 4, 4)
    kept = np.array([[1, 0, 0, 1], [0, 1, 0, 0]], dtype=bool)
    latency, interval = golden.score_overlap(cfg, 4, kept, [np.array([0, 1])])
    assert latency.tolist() == [41, 51] and interval.tolist() == [41, 20]
    latency, interval = golden.score_overlap(cfg, 4, kept, [np.array([0]), np.array([1])])  # each alone
    assert latency.tolist() == [41, 1 + 4 + 5 + 12 + 7] and interval.tolist() == latency.tolist()
