import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from latte_rtl.golden import (
    float_attention,
    keep_mask,
    partial_sums,
    recombine,
    score_rows,
    split,
)


@dataclass(frozen=True)
class Params:
    """The golden model's parameter protocol (golden.ScoreArithmetic), without latte_rtl."""

    bits: int = 8
    msb_bits: int = 4
    threshold_mode: str = "relative"
    beats: int = 1

    @property
    def lsb_bits(self):
        return self.bits - self.msb_bits


@st.composite
def operands(draw):
    bits = draw(st.integers(4, 16))
    msb = draw(st.integers(1, bits - 1))
    d = draw(st.integers(1, 48))
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    elems = st.one_of(st.sampled_from([lo, hi, 0, -1]), st.integers(lo, hi))
    q = draw(hnp.arrays(np.int64, (draw(st.integers(1, 4)), d), elements=elems))
    k = draw(hnp.arrays(np.int64, (draw(st.integers(1, 5)), d), elements=elems))
    return Params(bits=bits, msb_bits=msb), q, k


@settings(max_examples=200, deadline=None)
@given(operands())
def test_recombination_equals_exact_product(case):
    cfg, q, k = case
    parts = partial_sums(q, k, cfg)
    expected = np.array([[sum(int(a) * int(b) for a, b in zip(qr, kr)) for kr in k] for qr in q])
    assert np.array_equal(recombine(parts, cfg.lsb_bits), expected)


@pytest.mark.parametrize("bits", range(4, 17))
def test_all_operands_most_negative(bits):
    """q = k = -2^(bits-1) everywhere, at dim = 1024: the largest product magnitude there is."""
    for msb in {1, bits // 2, bits - 1}:
        cfg = Params(bits=bits, msb_bits=msb)
        x = np.full((1, 1024), -(1 << (bits - 1)))
        parts = partial_sums(x, x, cfg)
        assert int(recombine(parts, cfg.lsb_bits)[0, 0]) == 1024 * (1 << (2 * bits - 2))
        assert int(parts["HH"][0, 0]) == 1024 * (1 << (2 * (msb - 1)))  # maxHH


def test_split_by_hand():
    hi, lo = split(np.array([-128, -1, 0, 1, 127, -17]), 8, 4)
    assert hi.tolist() == [-8, -1, 0, 0, 7, -2]
    assert lo.tolist() == [0, 15, 0, 1, 15, 15]


def test_hand_computed_row():
    """q = [17, -3], k0 = [2, 5], k1 = [-128, 100], bits 8, msb 4 (l = 4), 2 beats per key."""
    cfg = Params(beats=2)
    q = np.array([[17, -3]])
    k = np.array([[2, 5], [-128, 100]])
    # q_H = [1, -1], q_L = [1, 13]; k0_H = [0, 0], k1_H = [-8, 6]
    res = score_rows(q, k, np.array([0]), np.array([5]), cfg)
    assert res.hh.tolist() == [[0, -14]]
    assert res.exact.tolist() == [[17 * 2 - 3 * 5, 17 * -128 - 3 * 100]]
    # relative: max HH = 0, keep HH >= -5 → only key 0
    assert res.kept.tolist() == [[True, False]]
    assert res.scores.tolist() == [[19, 0]]
    assert res.cycles.tolist() == [2 * (2 + 3 * 1)]








def test_one_key_and_per_head_keys():
    cfg = Params()
    q = np.array([[1, 2, 3], [4, 5, 6]])
    k = np.array([[[1, 1, 1]], [[2, 0, 0]]])  # [H=2, N=1, d]
    res = score_rows(q, k, np.array([0, 1]), np.array([0, 0]), cfg)
    assert res.exact.tolist() == [[6], [8]]
    assert res.kept.all()  # relative: the max is always kept


def test_float_attention_matches_softmax_and_handles_empty_rows():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    s = q @ k.T / 2
    p = np.exp(s - s.max(1, keepdims=True))
    assert np.allclose(float_attention(q, k, v), (p / p.sum(1, keepdims=True)) @ v)
    keep = np.zeros((3, 5), bool)
    keep[0, 1] = True
    out = float_attention(q, k, v, keep)
    assert np.allclose(out[0], v[1]) and np.all(out[1:] == 0)


def test_threshold_for_keep_by_hand():
    from latte_rtl.golden import threshold_for_keep

    hh = np.array([[10, 7, 6, 10, -3]])
    # relative: gaps [0, 3, 4, 0, 13]; 40 % quantile = 1.8 → T = 1 keeps the two 10s
    assert threshold_for_keep(hh, 0.4, "relative") == 1
    assert keep_mask(hh, np.array([1]), "relative").sum() == 2
    # absolute: 60 % quantile of HH = 8.2 → T = 8 keeps the two 10s
    assert threshold_for_keep(hh, 0.4, "absolute") == 8
    # a key mask leaves keys out of the max and of the sample
    assert threshold_for_keep(hh, 1.0, "relative", np.array([[False, True, True, False, True]])) == 10


def _loads_none_of(imports: str, forbidden: tuple[str, ...]) -> None:
    """Importing `imports` in a fresh interpreter loads no module named by or under `forbidden`."""
    code = (f"import sys, {imports}; bad = [m for m in sys.modules if any(m == f or m.startswith(f + '.') "
            f"for f in {forbidden!r})]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_golden_imports_nothing_of_latte_rtl():
    """latte_rtl.golden is the spec: importing all of it loads no other latte_rtl package, no amaranth."""
    others = ("latte_rtl.sim", "latte_rtl.synth", "latte_rtl.hw", "latte_rtl.stages", "latte_rtl.tops",
              "latte_rtl.design", "latte_rtl.config", "latte_rtl.cli", "latte_rtl.workloads", "amaranth")
    _loads_none_of("latte_rtl.golden, latte_rtl.golden.attention", others)


def test_hardware_packages_import_neither_sim_nor_synth():
    _loads_none_of("latte_rtl.hw, latte_rtl.stages.score, latte_rtl.tops, latte_rtl.design",
                   ("latte_rtl.sim", "latte_rtl.synth", "cocotb"))


@given(operands())
@settings(max_examples=60, deadline=None)
def test_centred_estimate_is_the_product_of_bin_centres(ops):
    """E(centred) = Σ (2^(l+1) q_H + 2^l − 1)(2^(l+1) k_H + 2^l − 1) / 2^(l+1) − d (2^l − 1)^2 / 2^(l+1):
    the product of both operands taken at the centre of their low part's bin, less a row constant."""
    from latte_rtl.golden import estimates, max_estimate

    params, q, k = ops
    bits, msb = params.bits, params.msb_bits
    cfg = CentredParams(bits=bits, msb_bits=msb)
    lsb, d = bits - msb, q.shape[1]
    centre = lambda x: (2 << lsb) * (x >> lsb) + (1 << lsb) - 1  # noqa: E731  2 × the bin's centre
    want = (centre(q).astype(object) @ centre(k).astype(object).T - d * ((1 << lsb) - 1) ** 2)
    assert (want % (2 << lsb) == 0).all()
    est = estimates(partial_sums(q, k, cfg)["HH"], q, k, cfg)
    assert est.tolist() == (want // (2 << lsb)).tolist()
    assert np.abs(est).max() <= max_estimate(bits, msb, d, "centred")


@dataclass(frozen=True)
class CentredParams(Params):
    estimate: str = "centred"


def test_max_estimate_is_reached():
    """max |E| is attained by all operands = −2^(bits−1) (HH and Σ both at their extremes)."""
    from latte_rtl.golden import estimates, max_estimate

    for bits, msb, d in ((8, 4, 64), (5, 2, 3), (4, 1, 1)):
        x = np.full((1, d), -(1 << (bits - 1)))
        cfg = CentredParams(bits=bits, msb_bits=msb)
        hh = partial_sums(x, x, cfg)["HH"]
        assert abs(int(hh[0, 0])) == max_estimate(bits, msb, d, "hh")
        assert abs(int(estimates(hh, x, x, cfg)[0, 0])) <= max_estimate(bits, msb, d, "centred")


def test_window_and_sink_keys_by_hand():
    est = np.array([[9, 0, 0, 0, 0, 0], [9, 0, 0, 0, 0, 0]])
    causal = np.array([[True] * 4 + [False] * 2, [True] * 6])
    kept = keep_mask(est, np.array([1, 1]), "relative", causal, sink_keys=0, window_keys=2)
    assert kept.tolist() == [[True, False, True, True, False, False], [True, False, False, False, True, True]]
    kept = keep_mask(est, np.array([100, 100]), "absolute", None, sink_keys=1, window_keys=1)
    assert kept.tolist() == [[True, False, False, False, False, True]] * 2
