"""Golden model of docs/spec.md §7 (softmax + P·V after the scores): hand-computed rows, a naive
scalar reference written straight from the spec formulas (docs/spec.md §7), its properties, LUT exactness."""

from decimal import ROUND_FLOOR, Decimal, localcontext

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from latte_rtl.golden.attention import (
    attention_rows,
    dense_attention_rows,
    exp_table,
    exp_values,
    floor_log2,
    key_limit_mask,
    log2_quantize,
    max_exp_shift,
    pv_rows,
    softmax_rows,
    vmean_of,
)

FAST = settings(derandomize=True, deadline=None, max_examples=150)


# ---------------------------------------------------------------- naive scalar reference

def ref_lut(F, P):
    """LUT[f] = floor(2^P * 2^(-f/2^F) + 0.5), 80 significant decimal digits (independent of
    the implementation's integer bisection)."""
    with localcontext() as ctx:
        ctx.prec = 80
        return [int((Decimal(2) ** (Decimal(P) - Decimal(f) / Decimal(2 ** F)) + Decimal("0.5"))
                    .to_integral_value(rounding=ROUND_FLOOR)) for f in range(2 ** F)]


def ref_softmax_row(s, kept, M, C, F, P, B, R, fmt, L):
    """One row with Python ints and loops, docs/spec.md §7 line by line. Returns (e, D, inv, p)."""
    n = len(s)
    K = [j for j in range(n) if kept[j]]
    if not K:
        return [0] * n, C, 0, [0] * n
    lut = ref_lut(F, P)
    t = {j: (s[j] * M) >> R for j in K}          # Python >> on ints is a floor shift
    m = max(t.values())
    e = [0] * n
    for j in K:
        d = m - t[j]
        i, f = d >> F, d & (2 ** F - 1)
        e[j] = 0 if i > P else lut[f] >> i
    D = sum(e) + C
    inv = ((2 ** B - 1) << P) // D
    p = [(e[j] * inv) >> P for j in range(n)]
    if fmt == "log2":
        p = [2 ** (x.bit_length() - 1) if x > 0 and x.bit_length() - 1 >= B - L else 0 for x in p]
    return e, D, inv, p


def ref_out_row(p, v, B, vmean):
    """o_i = sum_j p_j v[j][i] (+ w * floor(sum_j v[j][i] / N)), Python ints."""
    n, d = len(v), len(v[0])
    o = [sum(p[j] * v[j][i] for j in range(n)) for i in range(d)]
    if vmean:
        w = 2 ** B - 1 - sum(p)
        o = [o[i] + w * (sum(v[j][i] for j in range(n)) // n) for i in range(d)]
    return o


def ref_attention(case):
    """Reference of attention_rows for a case dict (see `cases`)."""
    s, kept, heads, v = (case[k].tolist() for k in ("scores", "kept", "heads", "v"))
    p_ = case["params"]
    rows = []
    for r in range(len(s)):
        h = heads[r]
        n = len(s[r])
        limit = n if case["key_limit"] is None else int(case["key_limit"][r])
        k_r = [kept[r][j] and j < limit for j in range(n)]
        e, D, inv, p = ref_softmax_row(s[r], k_r, int(case["mult"][h]), int(case["comp"][h]),
                                       p_["exp_frac_bits"], p_["exp_bits"], p_["prob_bits"],
                                       p_["scale_shift"], p_["prob_format"], p_["log_levels"])
        o = ref_out_row(p, v[h] if case["v"].ndim == 3 else v, p_["prob_bits"], p_["vmean"])
        rows.append((e, D, inv, p, o, sum(k_r)))
    return rows


# ---------------------------------------------------------------- strategies

SCORE = st.one_of(st.integers(-60, 60), st.sampled_from([2 ** 40, -2 ** 40, 2 ** 40 - 1, 1 - 2 ** 40, 0, -1]),
                  st.integers(-2 ** 40, 2 ** 40))


@st.composite
def params(draw):
    F = draw(st.integers(0, 4))
    P = draw(st.integers(1, 24))
    B = draw(st.integers(1, 16))
    return {"exp_frac_bits": F, "exp_bits": P, "prob_bits": B, "scale_shift": draw(st.integers(0, 12)),
            "prob_format": draw(st.sampled_from(["linear", "log2"])), "log_levels": draw(st.integers(1, B)),
            "vmean": draw(st.booleans())}


@st.composite
def cases(draw):
    p = draw(params())
    n_rows, n_keys, d, n_heads = (draw(st.integers(1, hi)) for hi in (4, 6, 3, 3))
    vbits = draw(st.sampled_from([8, 16]))
    vmin = -(1 << vbits - 1)
    velem = st.one_of(st.integers(vmin, -vmin - 1), st.sampled_from([vmin, -1]))
    v_shape = (n_heads, n_keys, d) if draw(st.booleans()) else (n_keys, d)
    mult = st.one_of(st.integers(0, 64), st.integers(0, 2 ** 20))
    comp = st.one_of(st.just(0), st.integers(0, 2 ** (p["exp_bits"] + 3)))
    return {
        "params": p,
        "scores": draw(hnp.arrays(np.int64, (n_rows, n_keys), elements=SCORE)),
        "kept": draw(hnp.arrays(np.bool_, (n_rows, n_keys))),
        "heads": draw(hnp.arrays(np.int64, n_rows, elements=st.integers(0, n_heads - 1))),
        "mult": np.array(draw(st.lists(mult, min_size=n_heads, max_size=n_heads)), dtype=np.int64),
        "comp": np.array(draw(st.lists(comp, min_size=n_heads, max_size=n_heads)), dtype=np.int64),
        "v": draw(hnp.arrays(np.int64, v_shape, elements=velem)),
        "key_limit": draw(st.none() | hnp.arrays(np.int64, n_rows, elements=st.integers(0, n_keys))),
    }


def run_case(case, **over):
    kw = {**case["params"], **over}
    return attention_rows(case["scores"], case["kept"], case["v"], case["heads"], case["mult"], case["comp"],
                          key_limit=case["key_limit"], **kw)


# ---------------------------------------------------------------- hand-computed rows

def test_hand_row_f0_linear_and_log2():
    """F=0, P=4, B=4, R=0, M=1, C=0; scores [5, 3, 4, -10], all kept.
    t = s; m = 5; d = [0, 2, 1, 15]; LUT = [16]; e = 16 >> d = [16, 4, 8, 0 (15 > P)].
    D = 28; inv = floor(15*16 / 28) = floor(240/28) = 8 (224 <= 240 < 252).
    p = (e*8) >> 4 = [8, 2, 4, 0] (= inv >> i since F = 0), sum 14 <= 15.
    log2, L = 2: levels need k >= B - L = 2: 8 -> 8, 2 (k=1) -> 0, 4 -> 4; sum 12."""
    kw = {"exp_frac_bits": 0, "exp_bits": 4, "prob_bits": 4, "scale_shift": 0}
    s, kept = np.array([[5, 3, 4, -10]]), np.ones((1, 4), bool)
    res = softmax_rows(s, kept, [1], [0], **kw)
    assert res["e"].tolist() == [[16, 4, 8, 0]]
    assert res["denominator"].tolist() == [28] and res["inv"].tolist() == [8]
    assert res["probs"].tolist() == [[8, 2, 4, 0]] and res["prob_sum"].tolist() == [14]
    log = softmax_rows(s, kept, [1], [0], prob_format="log2", log_levels=2, **kw)
    assert log["probs"].tolist() == [[8, 0, 4, 0]] and log["prob_sum"].tolist() == [12]
    # v rows [1,-2], [3,0], [-1,5], [7,-9]: column sums 10, -6 -> vmean = [10//4, -6//4] = [2, -2]
    v = np.array([[1, -2], [3, 0], [-1, 5], [7, -9]])
    # linear: 8[1,-2] + 2[3,0] + 4[-1,5] = [10, 4]; w = 15 - 14 = 1 -> [12, 2]
    out = attention_rows(s, kept, v, [0], [1], **kw, vmean=True)["out"]
    assert out.tolist() == [[12, 2]]
    assert attention_rows(s, kept, v, [0], [1], **kw)["out"].tolist() == [[10, 4]]
    # log2: 8[1,-2] + 4[-1,5] = [4, 4]; w = 15 - 12 = 3 -> [4 + 6, 4 - 6] = [10, -2]
    out = attention_rows(s, kept, v, [0], [1], **kw, prob_format="log2", log_levels=2, vmean=True)["out"]
    assert out.tolist() == [[10, -2]]


def test_hand_row_f2():
    """F=2, P=8, B=8, R=2, M=3. LUT = 256 * 2^(-f/4) + 0.5 floored:
    256, 215.27 -> 215, 181.02 -> 181, 152.22 -> 152.
    s = [10, 7, 2, -3]: s*M = [30, 21, 6, -9]; >> 2 (floor) -> t = [7, 5, 1, -3] (-9/4 = -2.25 -> -3).
    d = [0, 2, 6, 10]; i = d >> 2 = [0, 0, 1, 2]; f = d & 3 = [0, 2, 2, 2];
    e = [256, 181, 181 >> 1 = 90, 181 >> 2 = 45]; D = 572.
    C = 0: inv = floor(255*256 / 572) = floor(65280/572) = 114 (65208 <= 65280 < 65780);
      p = (e*114) >> 8 = [29184, 20634, 10260, 5130] >> 8 = [114, 80, 40, 20], sum 254.
    C = 100: D = 672; inv = floor(65280/672) = 97 (65184 <= 65280 < 65856);
      p = [24832, 17557, 8730, 4365] >> 8 = [97, 68, 34, 17], sum 216.
    log2, L = 3 (C = 0): k >= 5: 114 -> 64, 80 -> 64, 40 -> 32, 20 (k=4) -> 0.
    Key 3 dropped (its score given as 0, docs/spec.md §6): D = 256+181+90 = 527; inv = floor(65280/527) = 123
      (64821 <= 65280 < 65348); p = [31488, 22263, 11070] >> 8 = [123, 86, 43], 0."""
    kw = {"exp_frac_bits": 2, "exp_bits": 8, "prob_bits": 8, "scale_shift": 2}
    assert exp_table(2, 8).tolist() == [256, 215, 181, 152]
    s, kept = np.array([[10, 7, 2, -3]]), np.ones((1, 4), bool)
    res = softmax_rows(s, kept, [3], [0], **kw)
    assert res["t"].tolist() == [[7, 5, 1, -3]] and res["m"].tolist() == [7]
    assert res["e"].tolist() == [[256, 181, 90, 45]] and res["denominator"].tolist() == [572]
    assert res["inv"].tolist() == [114] and res["probs"].tolist() == [[114, 80, 40, 20]]
    res = softmax_rows(s, kept, [3], [100], **kw)
    assert res["denominator"].tolist() == [672] and res["inv"].tolist() == [97]
    assert res["probs"].tolist() == [[97, 68, 34, 17]] and res["prob_sum"].tolist() == [216]
    res = softmax_rows(s, kept, [3], [0], prob_format="log2", log_levels=3, **kw)
    assert res["probs"].tolist() == [[64, 64, 32, 0]]
    res = softmax_rows(np.array([[10, 7, 2, 0]]), np.array([[True, True, True, False]]), [3], [0], **kw)
    assert res["denominator"].tolist() == [527] and res["inv"].tolist() == [123]
    assert res["probs"].tolist() == [[123, 86, 43, 0]] and res["e"].tolist() == [[256, 181, 90, 0]]


def test_hand_row_max_over_kept_only():
    """All kept scores negative, a dropped key stored as 0: the max is over K only.
    F=0, P=4, B=4: s = [-7, (0 dropped), -9]; m = -7; d = [0, 2]; e = [16, 4]; D = 20;
    inv = 240 / 20 = 12; p = [12, 3] (sum 15 = 2^B - 1 exactly)."""
    res = softmax_rows(np.array([[-7, 0, -9]]), np.array([[True, False, True]]), [1], [0],
                       exp_frac_bits=0, exp_bits=4, prob_bits=4, scale_shift=0)
    assert res["m"].tolist() == [-7] and res["e"].tolist() == [[16, 0, 4]]
    assert res["inv"].tolist() == [12] and res["probs"].tolist() == [[12, 0, 3]]


def test_exp_shift_is_clamped_not_wrapped():
    """F=0, P=4, LUT = [16]: e = 16 >> d, 0 for d > 4. d = 64 and 2^41 would wrap to a shift of 0
    in an unclamped int64 shift (x86 takes the count mod 64)."""
    assert max_exp_shift(4) == 5
    d = np.array([0, 3, 4, 5, 63, 64, 65, 2 ** 41, 2 ** 62])
    assert exp_values(d, 0, 4).tolist() == [16, 2, 1, 0, 0, 0, 0, 0, 0]
    # F=2, P=8 (LUT [256, 215, 181, 152]): d = 4i + f; i = 8 -> only LUT[0] survives as 1
    d = np.array([32, 33, 35, 36, 4 * 64, 4 * 64 + 1])
    assert exp_values(d, 2, 8).tolist() == [1, 0, 0, 0, 0, 0]
    # through softmax_rows: scores +-2^40, M = 1 -> d = 2^41 for the low key
    res = softmax_rows(np.array([[2 ** 40, -2 ** 40]]), np.ones((1, 2), bool), [1], [0],
                       exp_frac_bits=0, exp_bits=4, prob_bits=4, scale_shift=0)
    assert res["e"].tolist() == [[16, 0]] and res["probs"].tolist() == [[15, 0]]


def test_pv_exact_beyond_float53():
    """B = 40: p = [2^39 + 1, 2^39 - 2] (sum 2^40 - 1), v = [[2^22 - 1, 3], [1, -2^22]]:
    o_0 = (2^39 + 1)(2^22 - 1) + 2^39 - 2 = 2^61 + 2^22 - 3, which float64 cannot hold."""
    p = np.array([[2 ** 39 + 1, 2 ** 39 - 2]])
    v = np.array([[2 ** 22 - 1, 3], [1, -(2 ** 22)]])
    expected = [2 ** 61 + 2 ** 22 - 3, 3 * (2 ** 39 + 1) - (2 ** 39 - 2) * 2 ** 22]
    assert pv_rows(p, v, prob_bits=40).tolist() == [expected]
    as_float = (p.astype(np.float64) @ v.astype(np.float64))[0]
    assert [int(x) for x in as_float] != expected          # a float BLAS product would be wrong here


def test_vmean_floors_toward_minus_infinity():
    v = np.array([[-1, 3, -7], [0, 0, 0], [0, 1, 0]])
    # sums -1, 4, -7 over N = 3: -1/3 -> -1, 4/3 -> 1, -7/3 -> -3
    assert vmean_of(v).tolist() == [-1, 1, -3]
    assert vmean_of(np.stack([v, -v])).tolist() == [[-1, 1, -3], [0, -2, 2]]


def test_key_limit_mask_and_dense_causal():
    """Causal limits [1, 2]: row 0 sees key 0 only, so p = [2^B - 1, 0, 0]."""
    assert key_limit_mask([1, 3], 2, 3).tolist() == [[True, False, False], [True, True, True]]
    res = dense_attention_rows(np.array([[-5, 100, 100], [0, 0, 100]]), np.eye(3, dtype=np.int64),
                               [0, 0], [1],
                               exp_frac_bits=0, exp_bits=4, prob_bits=4, scale_shift=0, key_limit=[1, 2])
    # row 1: keys 0, 1 tie: e = [16, 16]; D = 32; inv = 240/32 = 7; p = 112 >> 4 = 7 each
    assert res["probs"].tolist() == [[15, 0, 0], [7, 7, 0]]
    assert res["out"].tolist() == [[15, 0, 0], [7, 7, 0]]
    assert res["kept_count"].tolist() == [1, 2]


# ---------------------------------------------------------------- reference comparison

@FAST
@given(cases())
def test_matches_scalar_reference(case):
    res = run_case(case)
    for r, (e, D, inv, p, o, count) in enumerate(ref_attention(case)):
        assert res["e"][r].tolist() == e
        assert int(res["denominator"][r]) == D and int(res["inv"][r]) == inv
        assert res["probs"][r].tolist() == p and int(res["prob_sum"][r]) == sum(p)
        assert res["out"][r].tolist() == o
        assert int(res["kept_count"][r]) == count and bool(res["zero_keep"][r]) == (count == 0)


def test_matches_scalar_reference_larger_numpy_batch():
    seed = 20240611
    print(f"numpy seed {seed}")
    rng = np.random.default_rng(seed)
    for trial in range(6):
        n_rows, n_keys, n_heads = 24, 20, 3
        P, F = int(rng.integers(4, 20)), int(trial % 5)
        case = {
            "params": {"exp_frac_bits": F, "exp_bits": P, "prob_bits": int(rng.integers(4, 17)),
                       "scale_shift": int(rng.integers(0, 8)), "prob_format": ["linear", "log2"][trial % 2],
                       "log_levels": 3, "vmean": bool(trial % 3)},
            "scores": rng.integers(-3000, 3000, (n_rows, n_keys)),
            "kept": rng.random((n_rows, n_keys)) < 0.4,
            "heads": rng.integers(0, n_heads, n_rows),
            "mult": rng.integers(0, 40, n_heads), "comp": rng.integers(0, 2 ** P, n_heads),
            "v": rng.integers(-128, 128, (n_heads, n_keys, 4)),
            "key_limit": rng.integers(0, n_keys + 1, n_rows) if trial % 2 else None,
        }
        res = run_case(case)
        for r, (e, _D, inv, p, o, _) in enumerate(ref_attention(case)):
            got = (res["e"][r].tolist(), int(res["inv"][r]), res["probs"][r].tolist(), res["out"][r].tolist())
            assert got == (e, inv, p, o), f"seed {seed} trial {trial} row {r}"


@FAST
@given(cases())
def test_shared_v_equals_per_head_copies(case):
    """v [N, d] shared by all heads gives the same as [H, N, d] holding H copies."""
    v = case["v"] if case["v"].ndim == 2 else case["v"][0]
    a = run_case({**case, "v": v})
    b = run_case({**case, "v": np.stack([v] * len(case["mult"]))})
    assert np.array_equal(a["out"], b["out"]) and np.array_equal(a["probs"], b["probs"])


# ---------------------------------------------------------------- docs/spec.md §7 properties

@FAST
@given(cases())
def test_spec_properties(case):
    p = case["params"]
    B, P, L = p["prob_bits"], p["exp_bits"], p["log_levels"]
    res = run_case(case)
    kept, probs, e = res["kept"], res["probs"], res["e"]
    assert (res["prob_sum"] <= 2 ** B - 1).all()
    assert not probs[~kept].any() and not e[~kept].any()
    assert ((probs >= 0) & (probs < 2 ** B)).all() and ((e >= 0) & (e <= 2 ** P)).all()
    for r in np.flatnonzero(~res["zero_keep"]):       # the max key gets e = 2^P
        assert e[r][np.argmax(np.where(kept[r], res["t"][r], np.iinfo(np.int64).min))] == 2 ** P
        assert res["denominator"][r] >= 2 ** P
    if p["prob_format"] == "log2":
        nz = probs[probs > 0]
        assert ((nz & (nz - 1)) == 0).all() and (nz >= 2 ** (B - L)).all()


@FAST
@given(params(), st.lists(SCORE, min_size=1, max_size=4), st.integers(0, 2 ** 7), st.integers(0, 2 ** 20))
def test_zero_keep_row(p, scores, comp, mult):
    """A row keeping nothing: probs 0, prob_sum 0, D = C_h, inv = 0, o = w * vmean, w = 2^B - 1."""
    n = len(scores)
    v = np.arange(n * 2, dtype=np.int64).reshape(n, 2) * np.array([1, -1]) - 3
    res = attention_rows(np.array([scores]), np.zeros((1, n), bool), v, [0], [mult], [comp], **p)
    assert res["zero_keep"].tolist() == [True] and res["kept_count"].tolist() == [0]
    assert not res["probs"].any() and res["prob_sum"].tolist() == [0] and not res["e"].any()
    assert res["denominator"].tolist() == [comp] and res["inv"].tolist() == [0]
    vm = [sum(int(x) for x in v[:, i]) // n for i in range(2)]
    w = 2 ** p["prob_bits"] - 1
    assert res["out"].tolist() == [[w * vm[0], w * vm[1]] if p["vmean"] else [0, 0]]


@FAST
@given(params(), st.lists(st.integers(-2000, 2000), min_size=1, max_size=8), st.integers(1, 300),
       st.lists(st.booleans(), min_size=9, max_size=9), st.integers(-2 ** 40, -2 ** 30))
def test_latte_equals_dense_when_dropped_keys_have_zero_exp(p, scores, mult, extra, far):
    """C_h = 0, vmean off: keep the keys within (P+1)*2^F of the max t (plus random extra keys);
    every dropped key then has d >= (P+1) 2^F, i.e. i > P and e = 0, so LATTE == dense."""
    p = {**p, "vmean": False}
    F, P, R = p["exp_frac_bits"], p["exp_bits"], p["scale_shift"]
    s = scores + [far]                                   # one key always far below (dropped)
    t = [(x * mult) >> R for x in s]                      # Python ints: floor shift
    kept = [max(t) - x < (P + 1) * 2 ** F or (extra[j] and x != t[-1]) for j, x in enumerate(t)]
    assume(not all(kept))
    n = len(s)
    v = ((np.arange(n * 3).reshape(n, 3) * 37) % 255 - 127).astype(np.int64)
    latte = attention_rows(np.array([np.where(kept, s, 0)]), np.array([kept]), v, [0], [mult], [0], **p)
    dense = dense_attention_rows(np.array([s]), v, [0], [mult], [0], **p)
    for key in ("probs", "out", "denominator", "inv", "e"):
        assert np.array_equal(latte[key], dense[key]), key
    assert dense["kept_count"].tolist() == [n] and latte["kept_count"].tolist() == [sum(kept)]


def test_latte_differs_from_dense_when_a_dropped_key_mattered():
    """The counter-case: dropping a key with e > 0 changes D (so the property above is not vacuous).
    F=0, P=4, B=4: dense s = [0, -1]: e = [16, 8], D = 24, inv = 10, p = [10, 5];
    LATTE keeps key 0 only: D = 16, inv = 15, p = [15, 0]."""
    kw = {"exp_frac_bits": 0, "exp_bits": 4, "prob_bits": 4, "scale_shift": 0}
    v = np.array([[1], [0]])
    dense = dense_attention_rows(np.array([[0, -1]]), v, [0], [1], **kw)
    latte = attention_rows(np.array([[0, 0]]), np.array([[True, False]]), v, [0], [1], **kw)
    assert dense["probs"].tolist() == [[10, 5]] and latte["probs"].tolist() == [[15, 0]]


# ---------------------------------------------------------------- LUT and helpers

@pytest.mark.parametrize("F", range(5))
def test_lut_exact(F):
    for P in range(1, 25):
        lut = exp_table(F, P)
        assert lut.dtype == np.int64 and len(lut) == 2 ** F
        assert lut.tolist() == ref_lut(F, P), (F, P)
        assert lut[0] == 2 ** P and (np.diff(lut) <= 0).all() and (lut >= 2 ** (P - 1)).all()


def test_lut_exact_large_p():
    for F in range(5):
        for P in (40, 52, 53, 54, 61, 62):
            assert exp_table(F, P).tolist() == ref_lut(F, P), (F, P)


def test_floor_log2_exact_for_large_values():
    xs = [1, 2, 3, 7, 8, 2 ** 31 - 1, 2 ** 31, 2 ** 53 - 1, 2 ** 53 + 1, 2 ** 62, 2 ** 63 - 1]
    assert floor_log2(np.array(xs)).tolist() == [x.bit_length() - 1 for x in xs]


def test_log2_quantize_levels():
    # B = 8, L = 3: levels 128, 64, 32; below 32 -> 0
    probs = np.array([0, 1, 31, 32, 63, 64, 100, 255])
    assert log2_quantize(probs, 8, 3).tolist() == [0, 0, 0, 32, 32, 64, 64, 128]
    # L = B keeps every non-zero value's leading one (1 -> 1)
    assert log2_quantize(np.array([1, 2, 3, 5]), 4, 4).tolist() == [1, 2, 2, 4]


# ---------------------------------------------------------------- argument checks

GOOD = {"exp_frac_bits": 2, "exp_bits": 8, "prob_bits": 8, "scale_shift": 0}


@pytest.mark.parametrize("bad, name", [
    ({"exp_frac_bits": 5}, "exp_frac_bits"), ({"exp_frac_bits": -1}, "exp_frac_bits"),
    ({"exp_bits": 0}, "exp_bits"), ({"prob_bits": 0}, "prob_bits"), ({"prob_bits": 56}, "prob_bits"),
    ({"scale_shift": -1}, "scale_shift"), ({"prob_format": "log"}, "prob_format"),
    ({"prob_format": "log2", "log_levels": 9}, "log_levels"), ({"log_levels": 0}, "log_levels"),
    ({"exp_bits": 2.0}, "exp_bits"),
])
def test_bad_parameters_rejected(bad, name):
    with pytest.raises(ValueError, match=name):
        softmax_rows(np.zeros((1, 2), np.int64), np.ones((1, 2), bool), [1], [0], **{**GOOD, **bad})


@pytest.mark.parametrize("args, name", [
    ((np.zeros((1, 2)), np.ones((1, 2), bool), [1], [0]), "scores"),          # float scores
    ((np.zeros((1, 2), int), np.ones((1, 3), bool), [1], [0]), "kept"),
    ((np.zeros((1, 2), int), np.ones((1, 2), int), [1], [0]), "kept"),       # not bool
    ((np.zeros((1, 2), int), np.ones((1, 2), bool), [-1], [0]), "mult"),
    ((np.zeros((1, 2), int), np.ones((1, 2), bool), [1], [-3]), "comp"),
    ((np.zeros((1, 2), int), np.ones((1, 2), bool), [1, 2], [0]), "mult"),
    ((np.full((1, 2), 2 ** 40), np.ones((1, 2), bool), [2 ** 22], [0]), "2\\^62"),  # s * M overflow
])
def test_bad_softmax_inputs_rejected(args, name):
    with pytest.raises(ValueError, match=name):
        softmax_rows(*args, **GOOD)


def test_bad_attention_inputs_rejected():
    s, k, v = np.zeros((2, 3), np.int64), np.ones((2, 3), bool), np.zeros((3, 2), np.int64)
    with pytest.raises(ValueError, match="heads"):
        attention_rows(s, k, v, [0, 1], [1], **GOOD)
    with pytest.raises(ValueError, match="v must"):
        attention_rows(s, k, np.zeros((2, 3, 2), np.int64), [0, 0], [1], **GOOD)
    with pytest.raises(ValueError, match="key_limit"):
        attention_rows(s, k, v, [0, 0], [1], key_limit=[0, 4], **GOOD)
    with pytest.raises(ValueError, match="comp"):
        attention_rows(s, k, v, [0, 0], [1], [0, 0], **GOOD)
    with pytest.raises(ValueError, match="probs"):
        pv_rows(np.array([[200, 100, 0]]), v, prob_bits=8)                   # row sum > 255
    with pytest.raises(ValueError, match="vmean"):
        pv_rows(np.array([[1, 0, 0]]), v, vmean=np.zeros(3, np.int64), prob_bits=8)
    with pytest.raises(ValueError, match="v must"):
        vmean_of(np.zeros((0, 2), np.int64))
