"""The §7 integer softmax arithmetic of a decode step as Amaranth expressions (docs/spec.md §7, §9), the
twins of `golden.attention.softmax_rows`: t = (s · M) >> R, e = exp(m − t), p = (e · inv) >> P (log2
format: p's leading power of two, or 0 below 2^(B − L)). The decode top's passes call these per query row
on the kept-score buffer's entries; their widths are `AttentionConfig.widths` (config.py), every top's.
"""

from __future__ import annotations

from amaranth import Array, C, Mux, signed

from ..golden.attention import exp_table


def scaled_parts(score, mult):
    """The two halves of s · M (signed score, unsigned M): (s · M_low, s · M_high), M split at half its
    width, so that each multiplier is half as deep (`scaled_from_parts` adds them)."""
    half = (len(mult) + 1) // 2
    return score * mult[:half], score * mult[half:]


def scaled_from_parts(low, high, mult_bits: int, scale_shift: int):
    """t = (s · M) >> R from `scaled_parts`: ((s · M_high) << half + s · M_low) >> R, floor shift."""
    return ((high << ((mult_bits + 1) // 2)) + low) >> scale_shift


def exp_of(d, softmax: dict, exp_width: int):
    """e = LUT[d mod 2^F] >> min(d >> F, P + 1), d >= 0 (golden.exp_values)."""
    f, p = softmax["exp_frac_bits"], softmax["exp_bits"]
    lut = Array(C(int(v), exp_width) for v in exp_table(f, p))
    frac = d[:f] if f else C(0, 1)
    return lut[frac] >> clamped_shift(d >> f, p + 1)


def clamped_shift(whole, limit: int):
    """min(whole, limit) as a shift amount of bit_length(limit) bits; `whole` itself where it cannot exceed
    `limit` (a constant comparison there fails Verilator's CMPCONST lint: exp_bits 2, a 1-bit d >> F)."""
    if (1 << len(whole)) - 1 <= limit:
        return whole
    return Mux(whole > limit, limit, whole)[:max(1, limit.bit_length())]


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
