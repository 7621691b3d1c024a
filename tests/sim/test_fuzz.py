"""The parameter-space fuzzer (latte_rtl/sim/fuzz.py) in CI: a few random valid designs drawn by hypothesis
(fixed seed) and every regression design the fuzzer or the fault sweep found, each generated and every top
run on random and corner rows through the native engine with random stalls, bit-exact with golden and
within the cycle model's hang budget. The long run is benchmarks/fuzz_designs.py (docs/verification.md)."""

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from latte_rtl.config import LatteConfig
from latte_rtl.params import applies, param_fields, spec_of
from latte_rtl.sim.fuzz import (
    FUZZ_CAPS,
    RandomChooser,
    check_design,
    draw_params,
    hang_budget,
    hypothesis_chooser,
    valid_config,
)
from tests.conftest import require_simulator

FUZZ_SEED = 29
CI_DESIGNS = 2


def _params(**changes) -> dict:
    return {**LatteConfig().params(), **changes}


# Designs that failed once, each with what it broke and the seed of its stimulus and stalls; they run on
# every CI.
REGRESSIONS = {
    # issue 29: max_keys 16 below the 32 rows in flight: the MSB credit truncated to 0, no MSB row asked for
    "decode_max_keys_below_outstanding": (_params(kv_memory="axi", attention=True, threshold_mode="absolute", dim=8,
                                                  lanes=4, heads=6, group=3, max_keys=16, kept_buffer=8,
                                                  axi_data_width=64), FUZZ_SEED),
    # the same in relative mode (two MSB passes), a single query head for the group (heads < group)
    "decode_relative_one_head": (_params(kv_memory="axi", attention=True, threshold_mode="relative", dim=5, lanes=2,
                                         heads=1, group=2, max_keys=3, kept_buffer=2, axi_data_width=128,
                                         axi_outstanding=64), FUZZ_SEED),
    # long run seed 118: exp_bits 2 with F = 0 made the exp's shift clamp a constant comparison (d >> F is
    # 1 bit), which Verilator refuses (CMPCONST): the attention tops did not build
    "fuzz_118_exp_clamp_constant": (_params(attention=True, bits=15, completion_lanes=1, cycle_counter_bits=16, dim=12,
                                            exp_bits=2, exp_frac_bits=0, heads=5, lanes=10, max_keys=34, msb_bits=13,
                                            mult_bits=14, pipeline=False, prob_bits=12, scale_shift=48, sink_keys=32,
                                            vmean=True), 118),
    # long run seed 102: latte_attention_engine, absolute mode: a row's first kept score arrived in the cycle
    # the softmax took the previous row's record, went into the bank being closed and was lost; the row
    # read a stale entry (its probability at key 1 instead of key 0)
    "fuzz_102_prob_index": (_params(attention=True, bits=9, cycle_counter_bits=43, dim=10, exp_bits=17,
                                    exp_frac_bits=1, heads=1, lanes=10, max_keys=25, msb_bits=1, mult_bits=1,
                                    pipeline=False, prob_bits=16, prob_format="log2", scale_shift=42,
                                    threshold_mode="absolute", vmean=True), 102),
}


@pytest.mark.parametrize("name", REGRESSIONS)
def test_regression_designs(name, tmp_path):
    require_simulator("verilator")
    params, design_seed = REGRESSIONS[name]
    run = check_design(params, tmp_path, seed=design_seed)
    assert run.rows > 0 and run.cycles > 0


@seed(FUZZ_SEED)
@settings(max_examples=CI_DESIGNS, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_designs_are_bit_exact_and_never_hang(data, tmp_path_factory):
    """check_design raises on a mismatch with golden or a quiet stretch beyond the hang budget."""
    require_simulator("verilator")
    params = draw_params(hypothesis_chooser(data))
    if valid_config(params) is None:
        return
    run = check_design(params, tmp_path_factory.mktemp("fuzz"), seed=FUZZ_SEED)
    assert run.rows > 0 and set(run.tops)


def test_draws_cover_every_parameter_within_its_range():
    """Over 300 seeded draws: every parameter of every stage takes more than one value, each within its
    range (capped where FUZZ_CAPS says), both memories and both modes appear, and nearly all draws are
    designs the product accepts."""
    draws = [draw_params(RandomChooser(s)) for s in range(300)]
    accepted = [p for p in draws if valid_config(p) is not None]
    assert len(accepted) >= 0.9 * len(draws)
    for cls in (type(getattr(LatteConfig(), stage)) for stage in ("score", "attention", "row", "decode")):
        for f in param_fields(cls):
            values = {p[f.name] for p in accepted}
            assert len(values) > 1, f"{f.name} never varies"
            drawn = [p[f.name] for p in accepted if applies(p, spec_of(f))]
            if f.name in FUZZ_CAPS:
                assert max(drawn) <= FUZZ_CAPS[f.name]
    assert {p["kv_memory"] for p in accepted} == {"onchip", "axi"}
    assert any(p["kv_memory"] == "axi" and p["max_keys"] < p["axi_outstanding"] for p in accepted)
    assert any(p["kv_memory"] == "axi" and p["group"] > 1 for p in accepted)
    assert any(p["sink_keys"] for p in accepted) and any(p["max_keys"] == 1 for p in accepted)


def test_hang_budget_grows_with_the_row_and_the_latency():
    small, big = (LatteConfig.from_params(max_keys=n, dim=8, lanes=4) for n in (4, 40))
    assert hang_budget(small, 0) < hang_budget(big, 0)
    axi = LatteConfig.from_params(**REGRESSIONS["decode_max_keys_below_outstanding"][0])
    assert hang_budget(axi, 0) < hang_budget(axi, 40)
