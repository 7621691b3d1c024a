"""One frozen, validated configuration; every derived width is computed here and only here.

Arithmetic (SPEC §2): operands are signed ``bits``-bit integers split into a signed high part
``x_H = x >> lsb_bits`` (``msb_bits`` bits) and an unsigned low part ``x_L = x & (2**lsb_bits - 1)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .errors import UserError

THRESHOLD_MODES = ("relative", "absolute")

# (name, lowest, highest) for every integer parameter; msb_bits and lanes depend on others.
_RANGES = {
    "bits": (4, 16),
    "dim": (1, 1024),
    "heads": (1, 64),
    "max_keys": (1, 65536),
    "cycle_counter_bits": (16, 64),
}


def signed_width(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi]."""
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi <= (1 << (width - 1)) - 1):
        width += 1
    return width


def unsigned_width(hi: int) -> int:
    """Smallest unsigned width holding every integer in [0, hi] (at least 1 bit)."""
    return max(1, int(hi).bit_length())


@dataclass(frozen=True)
class Interval:
    """A closed integer range; ``width`` is the signed width that holds it."""

    lo: int
    hi: int

    def __add__(self, other: "Interval") -> "Interval":
        return Interval(self.lo + other.lo, self.hi + other.hi)

    def __mul__(self, factor: int) -> "Interval":  # factor >= 0
        return Interval(self.lo * factor, self.hi * factor)

    def union(self, other: "Interval") -> "Interval":
        return Interval(min(self.lo, other.lo), max(self.hi, other.hi))

    @property
    def width(self) -> int:
        return signed_width(self.lo, self.hi)


def _product(a: Interval, b: Interval) -> Interval:
    corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
    return Interval(min(corners), max(corners))


@dataclass(frozen=True)
class LatteConfig:
    """Generation parameters of both engines (LATTE and the dense baseline).

    bits           operand width (signed), 4..16
    msb_bits       width m of the high part used by the estimate, 1..bits-1
    dim            head dimension d (elements per q/k vector), 1..1024
    lanes          multipliers in the array = elements per beat, 1..dim
    heads          thresholds in the register file, 1..64
    max_keys       keys the key store holds (N ≤ max_keys), 1..65536
    threshold_mode "relative" (LATTE: keep HH ≥ max HH − T) or "absolute" (Top-θ: keep HH ≥ T)
    cycle_counter_bits  width of the per-row cycle counter (saturating), 16..64
    """

    bits: int = 8
    msb_bits: int = 4
    dim: int = 64
    lanes: int = 16
    heads: int = 8
    max_keys: int = 1024
    threshold_mode: str = "relative"
    cycle_counter_bits: int = 32
    # derived quantities, filled in by __post_init__
    derived: dict = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        for name, (lo, hi) in _RANGES.items():
            _check_int(name, getattr(self, name), lo, hi)
        _check_int("msb_bits", self.msb_bits, 1, self.bits - 1, f"bits-1 = {self.bits - 1}")
        _check_int("lanes", self.lanes, 1, self.dim, f"dim = {self.dim}")
        if self.threshold_mode not in THRESHOLD_MODES:
            raise UserError(
                f"threshold_mode={self.threshold_mode!r} is not valid: expected one of "
                + ", ".join(THRESHOLD_MODES)
            )
        object.__setattr__(self, "derived", self._derive())

    # --- derived quantities (one place) -----------------------------------------------------
    def _derive(self) -> dict:
        m, l, d = self.msb_bits, self.lsb_bits, self.dim
        hi = Interval(-(1 << (m - 1)), (1 << (m - 1)) - 1)  # x_H
        lo = Interval(0, (1 << l) - 1)  # x_L
        full = Interval(-(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1)
        hh, hl, ll = _product(hi, hi) * d, _product(hi, lo) * d, _product(lo, lo) * d
        # The accumulator holds HH, then (HH << l) + partial HL + LH, then that << l + partial LL
        # (partial sums of terms that straddle 0 stay inside the full-sum interval).
        middle = Interval(hh.lo << l, hh.hi << l) + hl + hl
        last = Interval(middle.lo << l, middle.hi << l) + ll
        accumulator = hh.union(middle).union(last)
        lane_product = _product(hi, hi).union(_product(hi, lo)).union(_product(lo, lo))
        score = _product(full, full) * d
        max_hh = d * (1 << (2 * (m - 1)))
        if self.threshold_mode == "relative":
            thr = Interval(0, 2 * max_hh)
        else:
            thr = Interval(-max_hh, max_hh + 1)
        beats = -(-d // self.lanes)
        return {
            "lsb_bits": l,
            "nibble_width": max(m, l) + 1,
            "lane_product_width": lane_product.width,
            "beat_sum_width": (lane_product * self.lanes).width,
            "hh_width": hh.width,
            "hl_width": hl.width,
            "lh_width": hl.width,
            "ll_width": ll.width,
            "score_width": score.width,
            "accumulator_width": accumulator.width,
            "dense_product_width": _product(full, full).width,
            "dense_beat_sum_width": (_product(full, full) * self.lanes).width,
            "max_hh": max_hh,
            "hh_range": [hh.lo, hh.hi],
            "score_range": [score.lo, score.hi],
            "threshold_range": [thr.lo, thr.hi],
            "threshold_signed": self.threshold_mode == "absolute",
            "threshold_width": thr.width if thr.lo < 0 else unsigned_width(thr.hi),
            "head_width": unsigned_width(self.heads - 1),
            "index_width": unsigned_width(self.max_keys - 1),
            "count_width": unsigned_width(self.max_keys),
            "beats": beats,
            "tail_lanes": d - (beats - 1) * self.lanes,
            # Relative mode scans `scan_width` buffered estimates per cycle, so the scan of N
            # dropped keys costs at most N*beats/8 cycles (<= 12.5 % of phase 1).
            "scan_width": min(self.max_keys, -(-8 // beats)),
        }

    def __getattr__(self, name):
        # Derived quantities read as attributes: cfg.hh_width, cfg.beats, ...
        derived = self.__dict__.get("derived")
        if derived is not None and name in derived:
            return derived[name]
        raise AttributeError(name)

    @property
    def lsb_bits(self) -> int:
        return self.bits - self.msb_bits

    @property
    def operand_range(self) -> tuple[int, int]:
        return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1

    def ideal_cycles(self, n_keys: int, kept: int) -> int:
        """Throughput model (SPEC §3): phase 1 over every key, three completion passes per kept key."""
        return self.beats * (n_keys + 3 * kept)

    def check_threshold(self, value: int, what: str = "threshold") -> None:
        lo, hi = self.threshold_range
        if not (lo <= value <= hi):
            raise UserError(
                f"{what}={value} is out of range for {self.threshold_mode} mode: expected "
                f"{lo} ≤ T ≤ {hi} (maxHH = {self.max_hh})"
            )

    def params(self) -> dict:
        """The generation parameters (no derived values), in a stable order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def replace(self, **changes) -> "LatteConfig":
        return dataclasses.replace(self, **changes)


def _check_int(name, value, lo, hi, hi_text=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{name}={value!r} is not an integer: expected {lo} ≤ {name} ≤ {hi_text or hi}")
    if not (lo <= value <= hi):
        raise UserError(f"{name}={value} is out of range: expected {lo} ≤ {name} ≤ {hi_text or hi}")

