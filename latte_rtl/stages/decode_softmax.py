"""The §7 integer softmax arithmetic of a decode step as Amaranth expressions (docs/spec.md §7, §9), the
twins of `golden.attention.softmax_rows`: widths, t = (s · M) >> R, e = exp(m − t), p = (e · inv) >> P
(log2 format: p's leading power of two, or 0 below 2^(B − L)). The decode top's passes call these per
query row on the kept-score buffer's entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import Array, C, Mux, signed

from ..config import Interval, unsigned_width
from ..golden.attention import exp_table


@dataclass(frozen=True)
class SoftmaxWidths:
    """Widths of the decode softmax (bits): t signed, d = m − t >= 0, e <= 2^P, D = Σ e + C, p <= 2^B − 1,
    out o_i = Σ p_j v_ji (signed), comp (C_h register), mult (M_h register)."""

    t_width: int
    d_width: int
    exp_width: int
    denominator_width: int
    comp_width: int
    prob_width: int
    out_width: int
    mult_bits: int


def softmax_widths(score_range: tuple[int, int], softmax: dict, *, bits: int, mult_bits: int, kept: int,
                   max_keys: int) -> SoftmaxWidths:
    """`kept` scores at most per row (the buffer), comp registers up to max_keys · 2^P."""
    p, b, r = softmax["exp_bits"], softmax["prob_bits"], softmax["scale_shift"]
    top = (1 << mult_bits) - 1
    t = Interval(score_range[0] * top >> r, score_range[1] * top >> r)
    comp_max = max_keys << p
    out = Interval(-((1 << b) - 1) << (bits - 1), ((1 << b) - 1) * ((1 << (bits - 1)) - 1))
    return SoftmaxWidths(t_width=t.width, d_width=unsigned_width(t.hi - t.lo), exp_width=unsigned_width(1 << p),
                         denominator_width=unsigned_width(kept * (1 << p) + comp_max),
                         comp_width=unsigned_width(comp_max), prob_width=unsigned_width((1 << b) - 1),
                         out_width=out.width, mult_bits=mult_bits)


def scaled(score, mult, scale_shift: int):
    """t = (s · M) >> R: signed score, unsigned M, floor shift."""
    return (score * mult) >> scale_shift


def exp_of(d, softmax: dict, exp_width: int):
    """e = LUT[d mod 2^F] >> min(d >> F, P + 1), d >= 0 (golden.exp_values)."""
    f, p = softmax["exp_frac_bits"], softmax["exp_bits"]
    lut = Array(C(int(v), exp_width) for v in exp_table(f, p))
    whole = d >> f
    shift = Mux(whole > p + 1, p + 1, whole)
    frac = d[:f] if f else C(0, 1)
    return lut[frac] >> shift[:max(1, (p + 1).bit_length())]


def prob_of(e, inv, softmax: dict):
    """p = (e · inv) >> P; log2 format: 2^floor(log2 p) when floor(log2 p) >= B − L, else 0."""
    b = softmax["prob_bits"]
    p = ((e * inv) >> softmax["exp_bits"])[:b]
    if softmax.get("prob_format", "linear") != "log2":
        return p
    quantized = C(0, b)
    for k in range(b - softmax["log_levels"], b):
        quantized = Mux(p[k:] == 1, C(1 << k, b), quantized)
    return quantized


def lowest(width: int):
    """The most negative width-bit signed value (the running max's start)."""
    return C(-(1 << (width - 1)), signed(width))
