"""Payload layouts of every stream, derived from the stage config (one place for port formats)."""

from amaranth import signed, unsigned
from amaranth.lib import data, enum

from ..config import LatteConfig, ScoreConfig


class PassKind(enum.Enum, shape=2):
    """What a token asks of the dot-product pipeline (see dot.Accumulator)."""

    HH = 0   # phase 1 (estimate), or the whole product in the dense engine
    MID = 1  # HL and LH passes, accumulated on top of HH << l
    LOW = 2  # LL pass: after its last beat the accumulator holds q·k
    ROUND1 = 3  # rounds 2: the first round's estimate, from the top m1 bits of q_H and k_H


def vector(cfg: ScoreConfig) -> data.ArrayLayout:
    """One beat of a q/k vector: `lanes` signed `bits`-bit elements; lane i of beat b is element
    b·lanes + i."""
    return data.ArrayLayout(signed(cfg.bits), cfg.lanes)


def key_beat(cfg: ScoreConfig) -> data.StructLayout:
    """Key load beat: `lanes` operands; `last` marks the final beat of the final key of the set."""
    return data.StructLayout({"data": vector(cfg), "last": 1})


def query_beat(cfg: ScoreConfig) -> data.StructLayout:
    """Query beat: `lanes` operands, the head id and the key limit (both sampled on the first beat
    of a row): the row sees keys j < min(N, key_limit) only (causal prefill); with `row_thresholds`
    also the row's threshold T (sampled on the first beat), in place of its head's register."""
    members = {"data": vector(cfg), "head": cfg.widths.head_width, "key_limit": cfg.widths.count_width}
    if cfg.row_thresholds:
        members["threshold"] = threshold_shape(cfg)
    return data.StructLayout(members)


def threshold_shape(cfg: ScoreConfig):
    w = cfg.widths
    return signed(w.threshold_width) if w.threshold_signed else unsigned(w.threshold_width)


def threshold_write(cfg: ScoreConfig) -> data.StructLayout:
    return data.StructLayout({"head": cfg.widths.head_width, "value": threshold_shape(cfg)})


def estimate_shape(cfg: ScoreConfig):
    """The estimate E the filter compares (signed): HH, or the centred estimate (wider)."""
    w = cfg.widths
    return signed(w.estimate_width if cfg.estimate == "centred" else w.hh_width)


def buffered_estimate(cfg: ScoreConfig):
    """What the filter keeps of a key until its decision: HH (the completion reuses it), and with the
    centred estimate also E (`centred`)."""
    if cfg.estimate == "centred":
        return data.StructLayout({"hh": signed(cfg.widths.hh_width), "centred": estimate_shape(cfg)})
    return signed(cfg.widths.hh_width)


def buffered_fields(cfg: ScoreConfig, entry):
    """(HH, E) of a `buffered_estimate` value (E is HH itself unless the estimate is centred)."""
    return (entry.hh, entry.centred) if cfg.estimate == "centred" else (entry, entry)


def estimate(cfg: ScoreConfig) -> data.StructLayout:
    """The estimate of one key: its MS4B partial sum HH, and with the centred estimate E = 2^(l+1)·HH +
    (2^l − 1)·(Q + S_j) (`centred`, what the filter then compares; `compared`)."""
    members = {"index": cfg.widths.index_width, "hh": signed(cfg.widths.hh_width)}
    if cfg.estimate == "centred":
        members["centred"] = estimate_shape(cfg)
    return data.StructLayout(members)


def compared(cfg: ScoreConfig, estimate_view):
    """The value the filter compares of an `estimate` view: E (HH unless the estimate is centred)."""
    return estimate_view.centred if cfg.estimate == "centred" else estimate_view.hh


def scored_key(cfg: ScoreConfig) -> data.StructLayout:
    """Score stage output: a kept key, its exact score q·k and its HH (the partial sum the completion reused;
    0 in dense)."""
    w = cfg.widths
    return data.StructLayout({"index": w.index_width, "score": signed(w.score_width),
                              "estimate": signed(w.hh_width)})


def row_job(cfg: ScoreConfig) -> data.StructLayout:
    """Start of a row for the datapath: the head and the keys it sees, min(N, key_limit); with
    `row_thresholds` the row's threshold."""
    members = {"head": cfg.widths.head_width, "n_keys": cfg.widths.count_width}
    if cfg.row_thresholds:
        members["threshold"] = threshold_shape(cfg)
    return data.StructLayout(members)


def filter_job(cfg: ScoreConfig) -> data.StructLayout:
    """Start of a row for the threshold filter: N (the row's threshold is sampled beside it, on the
    filter's `threshold` input: a register file's value that may change while the job waits)."""
    return data.StructLayout({"n_keys": cfg.widths.count_width})


def row_summary(cfg: ScoreConfig) -> data.StructLayout:
    """What the datapath reports when a row is finished."""
    return data.StructLayout({"kept_count": cfg.widths.count_width, "max_estimate": estimate_shape(cfg)})


def row_record(cfg: LatteConfig) -> data.StructLayout:
    """End-of-row record on `rows`: the summary, the row's head and the cycles the row took."""
    return data.StructLayout({"summary": row_summary(cfg.score), "head": cfg.score.widths.head_width,
                              "cycles": cfg.row.cycle_counter_bits})


def prob_beat(cfg: LatteConfig) -> data.StructLayout:
    """Softmax output: a kept key and its probability p_j (B bits; a power of two or 0 in log2)."""
    return data.StructLayout({"index": cfg.score.widths.index_width, "prob": cfg.attention_widths.prob_width})


def softmax_row(cfg: LatteConfig) -> data.StructLayout:
    """What the softmax stage reports after a row's last probability."""
    w = cfg.attention_widths
    return data.StructLayout({"kept_count": cfg.score.widths.count_width, "prob_sum": w.prob_sum_width,
                              "head": cfg.score.widths.head_width})


def out_beat(cfg: LatteConfig) -> data.StructLayout:
    """P·V output beat: `lanes` exact accumulators o_i (element b·lanes + i on beat b)."""
    return data.StructLayout({"data": data.ArrayLayout(signed(cfg.attention_widths.out_width), cfg.score.lanes)})


def attention_record(cfg: LatteConfig) -> data.StructLayout:
    """End-of-row record of an attention top, after the row's `beats` output beats."""
    w = cfg.score.widths
    return data.StructLayout({"kept_count": w.count_width, "prob_sum": cfg.attention_widths.prob_sum_width,
                              "v_reads": w.count_width, "head": w.head_width,
                              "cycles": cfg.row.cycle_counter_bits})


class ConfigReg(enum.Enum, shape=2):
    """Which per-head register a `config` write addresses."""

    THRESHOLD = 0      # T_h of the LATTE filter
    SOFTMAX_MULT = 1   # M_h
    DENOM_COMP = 2     # C_h
    ROUND1_THRESHOLD = 3  # T1_h of the first filter round (rounds 2)


def config_write(cfg: LatteConfig) -> data.StructLayout:
    """A write on an attention top's `config` port: register kind, head, value (wide enough for
    each kind; a threshold is sign-extended from the value's low bits)."""
    w, a = cfg.score.widths, cfg.attention_widths
    value = max(w.threshold_width, cfg.attention.mult_bits, a.comp_width)
    return data.StructLayout({"reg": ConfigReg, "head": w.head_width, "value": value})


def token(cfg: ScoreConfig, init_width: int) -> data.StructLayout:
    """One beat of work for the multiplier array: which operands, where in the pass, which key."""
    return data.StructLayout({
        "kind": PassKind,
        "q_low": 1,  # multiply q_L (else q_H)
        "k_low": 1,  # multiply k_L (else k_H)
        "beat": max(1, (cfg.beats - 1).bit_length()),
        "first": 1,  # first beat of an accumulation (see dot.Accumulator)
        "last": 1,   # last beat of a pass whose result leaves the accumulator
        "index": cfg.widths.index_width,
        "init": signed(init_width),  # HH of the key, for the first beat of a completion
    })


def operands(cfg: ScoreConfig, token_layout, operand_width: int, lanes: int | None = None) -> data.StructLayout:
    """A token with its `lanes` (default: the array's) pairs of multiplier operands."""
    lanes = data.ArrayLayout(signed(operand_width), lanes or cfg.lanes)
    return data.StructLayout({"token": token_layout, "a": lanes, "b": lanes})


def operand_sum_width(cfg: ScoreConfig) -> int:
    """Width of the estimate pipeline's operand sum Q + S_j: the centred estimate's only (0: none)."""
    return cfg.widths.operand_sum_width if cfg.estimate == "centred" else 0


def beat_sum(token_layout, sum_width: int, operand_sum_width: int = 0) -> data.StructLayout:
    """A token with the sum of its beat's lane products, and with `operand_sum_width` the sum of its
    beat's operands, Σ (a + b) (on an HH pass: q_H and k_H, the centred estimate's Q + S_j)."""
    members = {"token": token_layout, "sum": signed(sum_width)}
    if operand_sum_width:
        members["operand_sum"] = signed(operand_sum_width)
    return data.StructLayout(members)


def acc_result(cfg: ScoreConfig, acc_width: int, init_width: int, operand_sum_width: int = 0) -> data.StructLayout:
    """What leaves the accumulator: HH (kind HH) or an exact score (kind LOW) of key `index`,
    with the token's `init` (the key's HH on a completion pass); with `operand_sum_width` also the
    pass's operand sum (an HH pass: Q + S_j)."""
    members = {"kind": PassKind, "index": cfg.widths.index_width, "value": signed(acc_width),
               "init": signed(init_width)}
    if operand_sum_width:
        members["operand_sum"] = signed(operand_sum_width)
    return data.StructLayout(members)
