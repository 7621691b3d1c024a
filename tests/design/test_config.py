import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latte_rtl.config import LatteConfig, RowConfig, ScoreConfig, signed_width
from latte_rtl.errors import UserError
from latte_rtl.golden import partial_sums, recombine


@pytest.mark.parametrize("changes, name", [
    ({"bits": 3}, "bits"), ({"bits": 17}, "bits"), ({"msb_bits": 0}, "msb_bits"), ({"msb_bits": 8}, "msb_bits"),
    ({"dim": 0}, "dim"), ({"dim": 1025}, "dim"), ({"lanes": -1}, "lanes"), ({"lanes": 65}, "lanes"),
    ({"heads": 65}, "heads"), ({"max_keys": 0}, "max_keys"), ({"max_keys": 65537}, "max_keys"),
    ({"threshold_mode": "topk"}, "threshold_mode"), ({"dim": 2.5}, "dim"),
    ({"cycle_counter_bits": 15}, "cycle_counter_bits"),
    ({"cycle_counter_bits": 65}, "cycle_counter_bits"), ({"monitor": 1}, "monitor"),
])
def test_invalid_parameter_names_parameter_value_and_range(changes, name):
    """Amaranth-style wording: "name must be …, not value" (with the range where there is one)."""
    with pytest.raises(UserError) as err:
        LatteConfig.from_params(**changes)
    message = str(err.value)
    assert message.startswith(name) and " must be " in message and ", not " in message, message


def test_unknown_parameter_and_stage_types():
    with pytest.raises(UserError, match="unknown design parameter 'lane'"):
        LatteConfig.from_params(lane=4)
    with pytest.raises(TypeError, match="score must be a ScoreConfig"):
        LatteConfig(score=RowConfig())


def test_cross_check_cycle_counter_width():
    """The top-level config checks that the row counter can count the longest row of the model."""
    with pytest.raises(UserError, match="cycle_counter_bits=16 is too narrow"):
        LatteConfig.from_params(dim=1024, lanes=1, max_keys=65536, cycle_counter_bits=16)
    LatteConfig.from_params(dim=1024, lanes=1, max_keys=65536, cycle_counter_bits=32)


def test_params_round_trip():
    cfg = LatteConfig.from_params(dim=12, lanes=5, cycle_counter_bits=20, monitor=False)
    assert LatteConfig.from_params(**cfg.params()) == cfg
    assert cfg.params()["cycle_counter_bits"] == 20 and cfg.row == RowConfig(20, False)
    assert cfg.replace(lanes=3).score == ScoreConfig(dim=12, lanes=3)


def test_config_is_frozen_and_hashable():
    cfg = LatteConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.dim = 3
    assert cfg == LatteConfig() and hash(cfg) == hash(LatteConfig())


def test_signed_width():
    assert signed_width(-128, 127) == 8
    assert signed_width(-129, 127) == 9
    assert signed_width(0, 128) == 9
    assert signed_width(0, 0) == 1


configs = st.builds(
    lambda bits, m_frac, dim, mode: ScoreConfig(
        bits=bits, msb_bits=max(1, min(bits - 1, round(m_frac * bits))), dim=dim, lanes=1, threshold_mode=mode),
    st.integers(4, 16), st.floats(0, 1), st.integers(1, 1024), st.sampled_from(["relative", "absolute"]))


@settings(max_examples=60, deadline=None)
@given(configs)
def test_widths_hold_the_extreme_operands(cfg):
    """All operands at each extreme: every partial sum and the score fit their derived widths."""
    lo, hi = cfg.operand_range
    for qv in (lo, hi, -1, 0):
        for kv in (lo, hi, -1, 0):
            q = np.full((1, cfg.dim), qv)
            k = np.full((1, cfg.dim), kv)
            parts = partial_sums(q, k, cfg)
            w = cfg.widths
            for name, width in (("HH", w.hh_width), ("HL", w.hl_width), ("LH", w.lh_width), ("LL", w.ll_width)):
                v = int(parts[name][0, 0])
                assert -(1 << (width - 1)) <= v < (1 << (width - 1)), (name, v, width)
            score = int(recombine(parts, cfg.lsb_bits)[0, 0])
            assert score == qv * kv * cfg.dim
            assert -(1 << (w.score_width - 1)) <= score < (1 << (w.score_width - 1))
            assert w.accumulator_width >= w.score_width
    assert w.max_hh == cfg.dim * (1 << (2 * (cfg.msb_bits - 1)))
    assert int(partial_sums(np.full((1, cfg.dim), lo), np.full((1, cfg.dim), lo), cfg)["HH"][0, 0]) == w.max_hh


def test_threshold_range_and_check():
    rel = ScoreConfig(dim=64, msb_bits=4)
    assert rel.widths.threshold_range == (0, 2 * 4096)
    rel.check_threshold(8192)
    with pytest.raises(UserError, match="out of range"):
        rel.check_threshold(8193)
    with pytest.raises(UserError, match="out of range"):
        rel.check_threshold(-1)
    ab = ScoreConfig(dim=64, msb_bits=4, threshold_mode="absolute")
    assert ab.widths.threshold_range == (-4096, 4097)
    ab.check_threshold(-4096)
    assert ab.widths.threshold_signed and not rel.widths.threshold_signed


def test_beats_and_tail():
    from latte_rtl import golden

    cfg = ScoreConfig(dim=10, lanes=3)
    assert (cfg.beats, cfg.widths.tail_lanes) == (4, 1)
    assert golden.score_cycles(cfg.beats, 100, 10) == 4 * (100 + 30)
    assert golden.dense_cycles(cfg.beats, 100) == 400


def test_completion_lanes_must_divide_lanes():
    assert ScoreConfig(lanes=16, completion_lanes=4).completion_ratio == 4
    assert ScoreConfig(lanes=16).completion_ratio == 0
    with pytest.raises(UserError, match=r"completion_lanes must be 0 or a divisor of lanes = 16 .*, not 3$"):
        ScoreConfig(lanes=16, completion_lanes=3)
    with pytest.raises(UserError, match="completion_lanes must be an integer 0 ≤ completion_lanes ≤ lanes = 8, not 16"):
        ScoreConfig(lanes=8, completion_lanes=16)


def test_default_stage_sizes_are_the_balanced_point():
    """lanes 0 (the default): min(d, 64), 16 with an external KV memory; pv_lanes 0: the largest divisor of lanes
    up to 16 (lanes itself up to 16)."""
    for params, lanes, pv in (({}, 64, 16), ({"dim": 32}, 32, 16), ({"dim": 12}, 12, 12), ({"dim": 128}, 64, 16),
                              ({"lanes": 48}, 48, 16), ({"lanes": 40}, 40, 10), ({"lanes": 8}, 8, 8),
                              ({"lanes": 0, "dim": 8}, 8, 8), ({"lanes": 64, "pv_lanes": 64}, 64, 64)):
        cfg = LatteConfig.from_params(attention=True, **params)
        assert (cfg.score.lanes, cfg.pv_width, cfg.pv_ratio) == (lanes, pv, lanes // pv), params
        assert cfg.params()["lanes"] == lanes and cfg.derived()["pv_width"] == pv
    assert LatteConfig.from_params(kv_memory="axi").score.lanes == 16
    assert LatteConfig.from_params(kv_memory="axi", lanes=0).score.lanes == 16   # 0: the default, the bus's
    assert "pv_width" not in LatteConfig.from_params(kv_memory="axi").derived()
    assert LatteConfig.from_params(kv_memory="axi", lanes=32).score.lanes == 32


def test_pv_lanes_must_divide_lanes_and_stay_on_chip():
    """pv_lanes: 0 (auto) or a divisor of lanes; r = lanes / pv_lanes cycles a V word; the decode tops refuse it."""
    assert LatteConfig.from_params(attention=True, lanes=16).pv_ratio == 1
    assert LatteConfig.from_params(attention=True, lanes=16, pv_lanes=4).pv_ratio == 4
    assert LatteConfig.from_params(attention=True, lanes=16, pv_lanes=16).pv_ratio == 1
    with pytest.raises(UserError, match="pv_lanes must be 0 or a divisor of lanes = 16.*not 5"):
        LatteConfig.from_params(attention=True, lanes=16, pv_lanes=5)
    with pytest.raises(UserError, match="pv_lanes must be 0, not 4"):
        LatteConfig.from_params(kv_memory="axi", pv_lanes=4)
    with pytest.raises(UserError, match="softmax_lanes must be 1, not 2"):
        LatteConfig.from_params(kv_memory="axi", softmax_lanes=2)


def test_completion_cycle_model_by_hand():
    """beats 4, r = lanes / C = 2: relative 4·N + 24·kept; absolute, keys 0 and 1 of 10 kept:
    c_1 = 4·1 + 24 = 28, c_2 = max(28, 4·(1 + 2)) + 24 = 52 > the estimate's 4·(10 + 2) = 48;
    keys 8 and 9: c_1 = 4·9 + 24 = 60, c_2 = max(60, 4·11) + 24 = 84."""
    import numpy as np

    from latte_rtl import golden

    for mode, want in (("relative", [88, 88]), ("absolute", [52, 84])):
        cfg = ScoreConfig(dim=16, lanes=4, completion_lanes=2, threshold_mode=mode)
        kept = np.zeros((2, 10), bool)
        kept[0, :2] = kept[1, 8:] = True
        assert list(golden.score_row_cycles(cfg, np.array([10, 10]), kept)) == want
    assert golden.score_cycles(4, 100, 10, 2, "absolute") == 4 * 110  # the estimate is the longer
    assert golden.score_cycles(4, 100, 10, 4, "absolute") == 3 * 4 * 4 * 10  # the completion is


def test_a_parameter_without_a_spec_is_named():
    """A stage field declared without param(...) is a clear TypeError naming it, not a KeyError."""
    import dataclasses

    from latte_rtl.params import param, param_fields, spec_of

    @dataclasses.dataclass(frozen=True)
    class Stage:
        lanes: int = param(4, "multipliers", lo=1, hi=8)
        depth: int = 2

    assert [f.name for f in param_fields(Stage)] == ["lanes", "depth"]
    with pytest.raises(TypeError, match="'depth' must be declared with param"):
        spec_of(param_fields(Stage)[1])


def test_ranges_resolve_against_the_design():
    cfg = LatteConfig.from_params(dim=12, lanes=4, bits=6, attention=True, prob_format="log2", prob_bits=5,
                                  log_levels=3)
    ranges = cfg.param_ranges()
    assert ranges["lanes"] == [0, 12] and ranges["msb_bits"] == [1, 5] and ranges["log_levels"] == [1, 5]
    assert ranges["threshold_mode"] == ["relative", "absolute"] and ranges["monitor"] == [False, True]
    # log_levels does not apply in the linear format: its bound is prob_bits' own maximum, 16
    assert LatteConfig.from_params(prob_bits=4).param_ranges()["log_levels"] == [1, 16]


DECODE = {"kv_memory": "axi", "attention": True, "threshold_mode": "absolute"}


@pytest.mark.parametrize("changes, message", [
    ({"kv_memory": "axi", "attention": False}, "needs attention on"),
    ({**DECODE, "vmean": True}, "vmean"),
    ({**DECODE, "axi_data_width": 96}, "axi_data_width must be a power of two"),
    ({**DECODE, "axi_data_width": 1024}, "axi_data_width=1024 is out of range"),
    ({**DECODE, "kept_buffer": 1025}, "kept_buffer must be at most max_keys = 1024, not 1025"),
    ({**DECODE, "group": 0}, "group=0 is out of range"),
    ({**DECODE, "row_thresholds": True}, "row_thresholds must be off"),
    ({**DECODE, "kv_memory": "dram"}, "kv_memory must be one of onchip, axi"),
])
def test_decode_parameters_refused_in_one_line(changes, message):
    with pytest.raises(UserError, match=re.escape(message)):
        LatteConfig.from_params(**changes)


def test_kv_memory_axi_implies_attention_and_absolute_thresholds():
    """The bus's rule, in the config (the CLI only calls it): attention on and absolute thresholds unless given."""
    cfg = LatteConfig.from_params(kv_memory="axi")
    assert cfg.attention.attention and cfg.score.threshold_mode == "absolute"
    assert LatteConfig.from_params(kv_memory="axi", threshold_mode="relative").score.threshold_mode == "relative"
    assert LatteConfig.from_params(**cfg.params()) == cfg
    assert LatteConfig.from_params().score.threshold_mode == "relative"   # on chip: nothing implied


def test_decode_spec_is_the_one_map_from_the_config():
    cfg = LatteConfig.from_params(**DECODE, bits=6, msb_bits=2, dim=24, lanes=8, max_keys=65536, kept_buffer=300,
                                  axi_data_width=128, axi_addr_width=40, group=3, prob_bits=6, exp_bits=10)
    spec = cfg.decode_spec()
    assert (spec.bits, spec.msb_bits, spec.dim, spec.lanes, spec.kept_buffer, spec.bus_bytes, spec.max_keys,
            spec.addr_width, spec.threshold_mode) == (6, 2, 24, 8, 300, 16, 65536, 40, "absolute")
    assert spec.softmax["prob_bits"] == 6 and spec.softmax["exp_bits"] == 10 and "vmean" not in spec.softmax
    # 24 elements: 2-bit MSB fields = 6 bytes, 4-bit LSB = 12 bytes, 6-bit V = 18 bytes: 1, 1, 2 beats of 16
    assert cfg.derived()["decode"]["row_bytes"] == {"k_msb": 6, "k_lsb": 12, "v": 18}
    assert cfg.derived()["decode"]["row_beats"] == {"k_msb": 1, "k_lsb": 1, "v": 2}
    assert LatteConfig.from_params(**cfg.params()) == cfg
    assert "decode" not in LatteConfig().derived()
