"""Design parameters: one small frozen dataclass per stage, composed by `LatteConfig`.

Every derived width is computed once, in `derive_score`, into the typed `ScoreWidths`.
Arithmetic (docs/spec.md §2): operands are signed ``bits``-bit integers split into a signed high part
``x_H = x >> lsb_bits`` (``msb_bits`` bits) and an unsigned low part ``x_L = x & (2**lsb_bits - 1)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from latte_rtl import golden
from latte_rtl.golden.attention import MAX_EXP_FRAC_BITS, PROB_FORMATS
from latte_rtl.golden.decode import DecodeSpec

from .buses import BUSES, EXTERNAL, NAMES, MemoryBus
from .buses import help_text as bus_help
from .errors import UserError
from .params import check_params, param, resolved_ranges

THRESHOLD_MODES = ("relative", "absolute")
# The default stage sizes: the explorer's best LATTE attention point on the real lm rows (docs/results/explore.md):
# an estimate array a key a beat, P·V 16 wide (at 12 % kept its 4·kept cycles a row stay under the score's N + 3·kept).
BALANCED_LANES = 64
BALANCED_PV_LANES = 16


def default_lanes(dim: int) -> int:
    """What lanes 0 means: min(dim, BALANCED_LANES), a key a beat up to d = 64."""
    return min(dim, BALANCED_LANES)


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

    def __add__(self, other: Interval) -> Interval:
        return Interval(self.lo + other.lo, self.hi + other.hi)

    def __mul__(self, factor: int) -> Interval:  # factor >= 0
        return Interval(self.lo * factor, self.hi * factor)

    def __lshift__(self, amount: int) -> Interval:
        return Interval(self.lo << amount, self.hi << amount)

    def union(self, other: Interval) -> Interval:
        return Interval(min(self.lo, other.lo), max(self.hi, other.hi))

    @property
    def width(self) -> int:
        return signed_width(self.lo, self.hi)


def _product(a: Interval, b: Interval) -> Interval:
    corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
    return Interval(min(corners), max(corners))


@dataclass(frozen=True)
class ScoreWidths:
    """Every width and range of the score stage (bits unless said otherwise), derived once."""

    lsb_bits: int
    nibble_width: int            # LATTE multiplier operand: max(m, l) + 1 (signed)
    lane_product_width: int
    beat_sum_width: int          # sum of one beat's `lanes` nibble products
    hh_width: int
    hl_width: int
    lh_width: int
    ll_width: int
    score_width: int             # exact q·k
    accumulator_width: int       # HH, then (HH << l) + HL + LH, then << l + LL
    dense_product_width: int
    dense_beat_sum_width: int
    max_hh: int                  # largest |HH|: dim · 2^(2(m−1))
    hh_range: tuple[int, int]
    max_estimate: int            # largest |E| the filter compares (golden.max_estimate; = max_hh for "hh")
    estimate_width: int          # signed width of E
    operand_sum_width: int       # centred estimate: signed width of Q + S_j = Σ_i (q_H[i] + k_H[j, i])
    score_range: tuple[int, int]
    threshold_range: tuple[int, int]
    threshold_signed: bool
    threshold_width: int
    head_width: int
    index_width: int
    count_width: int
    beats: int                   # cycles (words) per vector: ceil(dim / lanes)
    tail_lanes: int              # lanes used on a vector's final beat
    scan_width: int              # relative mode: buffered estimates compared per cycle
    completion_beat_sum_width: int  # sum of one beat's C completion-array nibble products (C = 0: one lane)


def derive_score(bits: int, msb_bits: int, dim: int, lanes: int, heads: int, max_keys: int,
                 threshold_mode: str, completion_lanes: int = 0, estimate: str = "hh") -> ScoreWidths:
    """Interval arithmetic over every intermediate (docs/spec.md §2), all operands included."""
    m, l, d = msb_bits, bits - msb_bits, dim
    hi = Interval(-(1 << (m - 1)), (1 << (m - 1)) - 1)  # x_H
    lo = Interval(0, (1 << l) - 1)  # x_L
    full = Interval(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    hh, hl, ll = _product(hi, hi) * d, _product(hi, lo) * d, _product(lo, lo) * d
    # Partial sums of terms that straddle 0 stay inside the full-sum interval.
    middle = (hh << l) + hl + hl
    accumulator = hh.union(middle).union((middle << l) + ll)
    lane_product = _product(hi, hi).union(_product(hi, lo)).union(_product(lo, lo))
    score = _product(full, full) * d
    max_hh = d * (1 << (2 * (m - 1)))
    max_e = golden.max_estimate(bits, m, d, estimate)
    thr = Interval(0, 2 * max_e) if threshold_mode == "relative" else Interval(-max_e, max_e + 1)
    beats = -(-d // lanes)
    return ScoreWidths(
        lsb_bits=l, nibble_width=max(m, l) + 1, lane_product_width=lane_product.width,
        beat_sum_width=(lane_product * lanes).width, hh_width=hh.width, hl_width=hl.width,
        lh_width=hl.width, ll_width=ll.width, score_width=score.width, accumulator_width=accumulator.width,
        dense_product_width=_product(full, full).width, dense_beat_sum_width=(_product(full, full) * lanes).width,
        max_hh=max_hh, hh_range=(hh.lo, hh.hi), max_estimate=max_e, estimate_width=Interval(-max_e, max_e).width,
        operand_sum_width=(hi * (2 * d)).width,
        score_range=(score.lo, score.hi),
        threshold_range=(thr.lo, thr.hi), threshold_signed=thr.lo < 0,
        threshold_width=thr.width if thr.lo < 0 else unsigned_width(thr.hi),
        head_width=unsigned_width(heads - 1), index_width=unsigned_width(max_keys - 1),
        count_width=unsigned_width(max_keys), beats=beats, tail_lanes=d - (beats - 1) * lanes,
        # The scan of N dropped keys then costs at most N*beats/16 cycles (<= 6.25 % of phase 1): on the real lm
        # rows the first kept key comes after 130 dropped ones on average.
        scan_width=min(max_keys, -(-16 // beats)),
        completion_beat_sum_width=(lane_product * max(1, completion_lanes)).width,
    )


@dataclass(frozen=True)
class ScoreConfig:
    """Parameters of the score stage (estimate → filter → exact completion, and its dense twin);
    each field's help and range is its `param(...)` spec."""

    bits: int = param(8, "operand width (signed)", lo=4, hi=16)
    msb_bits: int = param(4, "width m of the high part the estimate uses", lo=1, hi="bits-1")
    dim: int = param(64, "head dimension d (elements per q/k vector)", lo=1, hi=1024)
    lanes: int = param(0, "multipliers in the array = elements per beat (0: min(dim, 64), a key a beat up to d 64, "
                          "the explorer's balanced point on real rows)", lo=0, hi="dim")
    heads: int = param(8, "per-head register sets (thresholds, M_h, C_h)", lo=1, hi=64)
    max_keys: int = param(1024, "keys the key store holds (N ≤ max_keys)", lo=1, hi=65536)
    threshold_mode: str = param("relative", "relative: LATTE, keep E ≥ max E − T; absolute: Top-θ, keep E ≥ T "
                                            "(E: the estimate)", choices=THRESHOLD_MODES)
    sink_keys: int = param(0, "keys 0..K−1 of every row are always kept besides the threshold's (attention "
                              "sinks: the first tokens an LLM parks spare attention on)", lo=0, hi="max_keys",
                           symbol="K_sink")
    window_keys: int = param(0, "keys j ≥ key_limit − W of every row are always kept besides the threshold's "
                                "(a recent window: the last W keys the row sees)", lo=0, hi="max_keys",
                             symbol="W")
    estimate: str = param("hh", "what the filter compares: hh (the MS4B partial sum HH) or centred (2^(l+1)·HH + "
                                "(2^l − 1)·(Σq_H + Σk_H): both low parts at their bin's centre, unbiased per key)",
                          choices=golden.ESTIMATES)
    row_thresholds: bool = param(False, "each row brings its threshold T on the query's first beat instead of "
                                        "the per-head registers (per row-length or per-layer tables live in the "
                                        "host)")
    completion_lanes: int = param(0, "multipliers of a separate completion array that finishes kept keys while the "
                                     "estimate goes on (0: the estimate array completes them too); 0 or a divisor "
                                     "of lanes", lo=0, hi="lanes")
    rounds: int = param(1, "filter rounds: 2 adds a first round on the top m1 = ⌊m/2⌋ bits of q and k (E1 against its "
                           "own head-wise T1, docs/spec.md §2) before the m-bit estimate, which then runs on the "
                           "survivors only; built on the shared array (completion_lanes 0) with head-wise thresholds "
                           "(calibrate then also sets T1, evaluate adds two-round rows)", lo=1, hi=2)
    pipeline: bool = param(True, "register the lane products before the adder tree, in every engine "
                                 "(--no-pipeline: multiply and sum in one cycle, fewer flip-flops, a longer path)")
    widths: ScoreWidths = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.lanes == 0:
            object.__setattr__(self, "lanes", default_lanes(self.dim))
        check_params(self)
        if self.completion_lanes and self.lanes % self.completion_lanes:
            raise UserError(f"completion_lanes must be 0 or a divisor of lanes = {self.lanes} (the completion "
                            f"consumes a stored word over lanes / C cycles), not {self.completion_lanes}")
        self._check_rounds()
        object.__setattr__(self, "widths", derive_score(
            self.bits, self.msb_bits, self.dim, self.lanes, self.heads, self.max_keys, self.threshold_mode,
            self.completion_lanes, self.estimate))

    def _check_rounds(self) -> None:
        if self.rounds == 1:
            return
        if self.msb_bits < 2:
            raise UserError(f"rounds 2 needs msb_bits ≥ 2 (the first round reads the top ⌊m/2⌋ bits), not "
                            f"{self.msb_bits}")
        if self.completion_lanes:
            raise UserError(f"rounds 2 runs on the shared array: completion_lanes must be 0, not "
                            f"{self.completion_lanes}")
        if self.row_thresholds:
            raise UserError("rounds 2 takes head-wise thresholds T and T1: turn row_thresholds off")

    @property
    def round1_msb_bits(self) -> int:
        """m1: the first round's high part (rounds 2), ⌊m / 2⌋ bits (golden.round1_msb_bits)."""
        return golden.round1_msb_bits(self.msb_bits)

    def check_round1_threshold(self, value: int, what: str = "round1_threshold") -> None:
        lo, hi = golden.round1_threshold_range(self, self.dim)
        if not (lo <= value <= hi):
            raise UserError(f"{what}={value} is out of range for {self.threshold_mode} mode: expected "
                            f"{lo} ≤ T1 ≤ {hi} (the first round's estimate at {self.round1_msb_bits} bits)")

    # The golden model's parameter protocol (golden.ScoreArithmetic): bits, msb_bits, lsb_bits,
    # threshold_mode, beats.
    @property
    def lsb_bits(self) -> int:
        return self.bits - self.msb_bits

    @property
    def beats(self) -> int:
        return self.widths.beats

    @property
    def completion_ratio(self) -> int:
        """Cycles the completion array spends on one stored word: lanes / C (0 with the shared array)."""
        return self.lanes // self.completion_lanes if self.completion_lanes else 0

    @property
    def operand_range(self) -> tuple[int, int]:
        return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1

    def check_threshold(self, value: int, what: str = "threshold") -> None:
        lo, hi = self.widths.threshold_range
        if not (lo <= value <= hi):
            raise UserError(f"{what}={value} is out of range for {self.threshold_mode} mode: expected "
                            f"{lo} ≤ T ≤ {hi} (max |E| = {self.widths.max_estimate}, estimate {self.estimate})")


@dataclass(frozen=True)
class RowConfig:
    """Row control and observability shared by every top."""

    cycle_counter_bits: int = param(32, "width of the per-row cycle counter (saturating)", lo=16, hi=64)
    monitor: bool = param(True, "the monitor port (every estimate, SRAM read counters) for verification and "
                                "energy accounting; --no-monitor for a production build")

    def __post_init__(self):
        check_params(self)


@dataclass(frozen=True)
class AttentionWidths:
    """Widths of the softmax and P·V stages (bits), derived once."""

    t_width: int          # t_j = (s_j · M_h) >> R, signed
    d_width: int          # m − t_j >= 0
    exp_width: int        # e_j <= 2^P
    denominator_width: int  # D = Σ e_j + C_h
    comp_width: int       # C_h register
    prob_width: int       # p_j <= 2^B − 1
    log_shift_width: int  # log2 format: k_j in 0..B−1
    out_width: int        # o_i, |o_i| <= (2^B − 1) · 2^(bits−1)
    prob_sum_width: int   # Σ p_j <= 2^B − 1
    lut: tuple[int, ...]  # the 2^F-entry exp table (golden.exp_table)


_ATTENTION = (("attention", True),)  # the softmax and P·V parameters apply to the attention tops


@dataclass(frozen=True)
class AttentionConfig:
    """Parameters of the softmax and P·V stages (docs/spec.md §7); `attention` adds the attention tops."""

    attention: bool = param(False, "also generate the attention tops (score filter → softmax → P·V), LATTE "
                                   "and dense")
    exp_frac_bits: int = param(2, "fractional bits of the base-2 exponent (exp table of 2^F entries)", lo=0,
                               hi=MAX_EXP_FRAC_BITS, requires=_ATTENTION, symbol="F")
    exp_bits: int = param(12, "precision of the exp values (the max key's e = 2^P)", lo=1, hi=24,
                          requires=_ATTENTION, symbol="P")
    prob_bits: int = param(8, "probability width (unsigned)", lo=1, hi=16, requires=_ATTENTION, symbol="B")
    scale_shift: int = param(20, "shift in t = (s · M_h) >> R", lo=0, hi=48, requires=_ATTENTION, symbol="R")
    mult_bits: int = param(16, "width of the per-head softmax multiplier M_h", lo=1, hi=24, requires=_ATTENTION)
    prob_format: str = param("linear", "linear, or log2 (powers of two: P·V by shifts, Ji et al.)",
                             choices=PROB_FORMATS, requires=_ATTENTION)
    log_levels: int = param(7, "non-zero levels of the log2 format", lo=1, hi="prob_bits",
                            requires=_ATTENTION + (("prob_format", "log2"),), symbol="L")
    vmean: bool = param(False, "Top-θ V-mean compensation: o += ((2^B − 1) − Σp) · floor(mean V)",
                        requires=_ATTENTION)
    softmax_lanes: int = param(1, "kept scores a cycle through the softmax's max and sum passes (S buffer banks, S "
                                  "multipliers and exp units; the emit pass stays one a cycle)", lo=1, hi=64,
                               requires=_ATTENTION, symbol="S")
    pv_lanes: int = param(0, "P·V multipliers and accumulator adders: V elements per cycle (0: the largest divisor "
                             "of lanes up to 16, P·V sized to the kept keys); else a divisor of lanes, each V word "
                             "then taking lanes / pv_lanes cycles", lo=0, hi=1024,
                          requires=_ATTENTION)

    def __post_init__(self):
        check_params(self)

    def widths(self, score: ScoreWidths, bits: int, max_keys: int, kept: int | None = None) -> AttentionWidths:
        """The one derivation of the softmax and P·V widths (every top's): a row's softmax sums at most `kept`
        scores (None: max_keys; the decode tops: their kept-score buffer), C_h holds up to max_keys · 2^P."""
        f, p, b = self.exp_frac_bits, self.exp_bits, self.prob_bits
        t = Interval(score.score_range[0] * ((1 << self.mult_bits) - 1) >> self.scale_shift,
                     score.score_range[1] * ((1 << self.mult_bits) - 1) >> self.scale_shift)
        comp_max = max_keys << p
        kept = max_keys if kept is None else kept
        return AttentionWidths(
            t_width=t.width, d_width=unsigned_width(t.hi - t.lo), exp_width=unsigned_width(1 << p),
            denominator_width=unsigned_width(kept * (1 << p) + comp_max), comp_width=unsigned_width(comp_max),
            prob_width=unsigned_width((1 << b) - 1), log_shift_width=unsigned_width(max(1, b - 1)),
            out_width=signed_width(-((1 << b) - 1) << (bits - 1), ((1 << b) - 1) * ((1 << (bits - 1)) - 1)),
            prob_sum_width=unsigned_width((1 << b) - 1), lut=tuple(int(x) for x in golden.exp_table(f, p)))

    def golden_params(self) -> dict:
        """Keyword arguments of golden.attention's softmax functions."""
        return {"exp_frac_bits": self.exp_frac_bits, "exp_bits": self.exp_bits, "prob_bits": self.prob_bits,
                "scale_shift": self.scale_shift, "prob_format": self.prob_format, "log_levels": self.log_levels,
                "vmean": self.vmean}


_EXTERNAL = (("kv_memory", EXTERNAL),)  # the decode parameters apply with every external bus (buses/)


@dataclass(frozen=True)
class DecodeConfig:
    """The memory bus (`kv_memory`, a `buses.BUSES` name) and long-context decode over external memory
    (docs/spec.md §9): an external bus (axi: K and V behind an AXI4 read master) generates the decode tops
    instead of the on-chip tops."""

    kv_memory: str = param("onchip", bus_help(), choices=NAMES)
    axi_data_width: int = param(256, "AXI4 read data width in bits (a power of two)", lo=64, hi=512, requires=_EXTERNAL)
    axi_addr_width: int = param(32, "AXI4 address width in bits", lo=13, hi=64, requires=_EXTERNAL)
    kept_buffer: int = param(1024, "kept-score buffer entries per query row (keys kept past it are dropped and "
                                   "counted in overflow); at most max_keys", lo=1, hi=65536, requires=_EXTERNAL)
    axi_outstanding: int = param(32, "AXI4 read bursts in flight at most (hides the memory latency)", lo=1, hi=256,
                                 requires=_EXTERNAL)
    rows_in_flight: int = param(0, "plane rows a decode top keeps asked for ahead of its datapath (MSB rows of the "
                                   "score pass, V rows of the walk; its FIFOs are this deep); 0: max(8, "
                                   "axi_outstanding). Hiding latency L at B bytes per cycle takes about L·B / "
                                   "row bytes", lo=0, hi=1024, requires=_EXTERNAL)
    group: int = param(1, "query rows per KV head processed together in one decode step (grouped-query "
                          "attention; SmolLM2-135M: 3)", lo=1, hi=16, requires=_EXTERNAL, symbol="G")

    def __post_init__(self):
        check_params(self)
        if self.axi_data_width & (self.axi_data_width - 1):
            raise UserError(f"axi_data_width must be a power of two in 64..512, not {self.axi_data_width!r}")


# Stages in the order of the pipeline.
STAGES = {"score": ScoreConfig, "attention": AttentionConfig, "row": RowConfig, "decode": DecodeConfig}


@dataclass(frozen=True)
class LatteConfig:
    """The whole design: one config per stage, cross-checked here. Flat parameter names (the
    CLI's and the manifest's) map to exactly one stage field; see `params` / `from_params`."""

    score: ScoreConfig = field(default_factory=ScoreConfig)
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    row: RowConfig = field(default_factory=RowConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    def __post_init__(self):
        for name, cls in STAGES.items():
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"{name} must be a {cls.__name__}, not {getattr(self, name)!r}")
        object.__setattr__(self, "attention_widths", self.attention.widths(
            self.score.widths, self.score.bits, self.score.max_keys))
        if self.attention.exp_bits + self.attention.prob_bits > 40:
            raise UserError(f"exp_bits + prob_bits = {self.attention.exp_bits + self.attention.prob_bits} is too "
                            "wide: the divider's numerator (2^B − 1) << P must stay within 40 bits")
        if self.attention.pv_lanes and self.score.lanes % self.attention.pv_lanes:
            raise UserError(f"pv_lanes must be 0 or a divisor of lanes = {self.score.lanes} (P·V consumes a V word "
                            f"over lanes / pv_lanes cycles), not {self.attention.pv_lanes}")
        # A row's cycle count must be able to reach the longest row of the model.
        sc = self.score
        longest = golden.score_cycles(sc.beats, sc.max_keys, sc.max_keys, sc.completion_ratio,
                                      survived=(sc.rounds - 1) * sc.max_keys)
        if longest >= 1 << self.row.cycle_counter_bits:
            raise UserError(f"cycle_counter_bits={self.row.cycle_counter_bits} is too narrow: a row of "
                            f"max_keys={self.score.max_keys} takes up to {longest} cycles")
        if self.score.rounds == 2 and self.bus.external:
            raise UserError(f"rounds 2 is built in the on-chip tops: kv_memory must be onchip, not "
                            f"{self.decode.kv_memory!r}")
        self.bus.check(self)

    @property
    def pv_width(self) -> int:
        """P·V multipliers: pv_lanes, or with 0 the largest divisor of lanes up to BALANCED_PV_LANES."""
        lanes = self.score.lanes
        return self.attention.pv_lanes or max(p for p in range(1, min(lanes, BALANCED_PV_LANES) + 1)
                                              if lanes % p == 0)

    @property
    def pv_ratio(self) -> int:
        """Cycles P·V spends on one V word: lanes / pv_width."""
        return self.score.lanes // self.pv_width

    @property
    def bus(self) -> MemoryBus:
        """The memory bus of `kv_memory` (buses/): its tops, checks, manifest sections and models."""
        return BUSES[self.decode.kv_memory]

    @classmethod
    def from_params(cls, **params) -> LatteConfig:
        """Build from flat names (bits=8, lanes=16, monitor=False, ...); unknown names are errors. The bus's
        implied parameters apply unless given (`implied_params`: kv_memory axi turns attention on and the
        threshold mode absolute)."""
        per_stage = {name: {} for name in STAGES}
        owners = parameter_owners()
        for key, value in implied_params(params).items():
            if key not in owners:
                raise UserError(f"unknown design parameter {key!r}: expected one of {', '.join(owners)}")
            per_stage[owners[key]][key] = value
        return cls(**{name: STAGES[name](**values) for name, values in per_stage.items()})

    def params(self) -> dict:
        """Every generation parameter, flat, in a stable order (no derived values)."""
        out = {}
        for name in STAGES:
            stage = getattr(self, name)
            out.update({f.name: getattr(stage, f.name) for f in dataclasses.fields(stage) if f.init})
        return out

    def replace(self, **changes) -> LatteConfig:
        return LatteConfig.from_params(**{**self.params(), **changes})

    def param_ranges(self) -> dict:
        """Every parameter's valid range (or choices) resolved for this design, for the manifest."""
        out = {}
        for name in STAGES:
            out.update(resolved_ranges(getattr(self, name)))
        return out

    def derived(self) -> dict:
        """Derived quantities for the manifest (typed fields of every stage, as JSON values)."""
        out = dict(dataclasses.asdict(self.score.widths))
        if self.attention.attention:
            out["attention"] = dataclasses.asdict(self.attention_widths)
            if not self.bus.external:
                out["pv_width"] = self.pv_width
        out.update(self.bus.derived(self))
        return json_values(out)

    def decode_spec(self) -> DecodeSpec:
        """The one map LatteConfig → DecodeSpec of the decode tops' golden model (DecodeSpec has no defaults)."""
        sc, at = self.score, self.attention
        softmax = {k: v for k, v in at.golden_params().items() if k != "vmean"}
        return DecodeSpec(bits=sc.bits, msb_bits=sc.msb_bits, dim=sc.dim, lanes=sc.lanes,
                          threshold_mode=sc.threshold_mode, kept_buffer=self.decode.kept_buffer,
                          bus_bytes=self.decode.axi_data_width // 8, max_keys=sc.max_keys,
                          addr_width=self.decode.axi_addr_width, mult_bits=at.mult_bits, softmax=softmax,
                          estimate=sc.estimate, sink_keys=sc.sink_keys, window_keys=sc.window_keys,
                          rows_in_flight=self.decode.rows_in_flight or max(8, self.decode.axi_outstanding),
                          outstanding=self.decode.axi_outstanding, max_burst=getattr(self.bus, "max_burst", 0) or 1)


def implied_params(params: dict) -> dict:
    """`params` with what its bus implies where not given (buses/: an external bus implies attention on and
    threshold_mode absolute, one MSB pass); the one place the rule is applied, for the config and the CLI."""
    bus = BUSES.get(params.get("kv_memory", DecodeConfig.kv_memory))
    if not bus:
        return dict(params)
    given = {k: v for k, v in params.items() if not (k == "lanes" and v == 0 and k in bus.implies)}  # 0: the default
    return {**bus.implies, **given}


def json_values(x):
    """Tuples → lists, recursively (the manifest's JSON form)."""
    if isinstance(x, dict):
        return {k: json_values(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return [json_values(v) for v in x]
    return x


def parameter_owners() -> dict[str, str]:
    """{flat parameter name: stage name}."""
    return {f.name: stage for stage, cls in STAGES.items() for f in dataclasses.fields(cls) if f.init}
