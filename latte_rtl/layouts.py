"""Payload layouts of every stream, derived from the config (one place for port formats)."""

from amaranth import signed, unsigned
from amaranth.lib import data

from .config import LatteConfig

# Pass kinds of a token on the shared multiplier array (see estimator.Estimator).
KIND_HH, KIND_MID, KIND_LOW = 0, 1, 2


def vector(cfg: LatteConfig) -> data.ArrayLayout:
    """One beat of a q/k vector: `lanes` signed `bits`-bit elements."""
    return data.ArrayLayout(signed(cfg.bits), cfg.lanes)


def key_beat(cfg: LatteConfig) -> data.StructLayout:
    """Key load beat: `lanes` operands; `last` marks the final beat of the final key."""
    return data.StructLayout({"data": vector(cfg), "last": 1})


def query_beat(cfg: LatteConfig) -> data.StructLayout:
    """Query beat: `lanes` operands and the head id (sampled on the first beat of a row)."""
    return data.StructLayout({"data": vector(cfg), "head": cfg.head_width})


def threshold_shape(cfg: LatteConfig):
    return signed(cfg.threshold_width) if cfg.threshold_signed else unsigned(cfg.threshold_width)


def threshold_write(cfg: LatteConfig) -> data.StructLayout:
    return data.StructLayout({"head": cfg.head_width, "value": threshold_shape(cfg)})


def estimate(cfg: LatteConfig) -> data.StructLayout:
    """An MS4B estimate HH of one key."""
    return data.StructLayout({"index": cfg.index_width, "hh": signed(cfg.hh_width)})


def result(cfg: LatteConfig) -> data.StructLayout:
    """Output beat: a kept key's exact score, or (end=1) the end-of-row marker."""
    return data.StructLayout({
        "end": 1,
        "index": cfg.index_width,
        "score": signed(cfg.score_width),
        "kept_count": cfg.count_width,
        "max_estimate": signed(cfg.hh_width),
        "cycles": cfg.cycle_counter_bits,
    })


def token(cfg: LatteConfig, init_width: int) -> data.StructLayout:
    """One beat of work for the multiplier array: which operands, where in the pass, which key."""
    return data.StructLayout({
        "kind": 2,
        "q_low": 1,  # multiply q_L (else q_H)
        "k_low": 1,  # multiply k_L (else k_H)
        "beat": max(1, (cfg.beats - 1).bit_length()),
        "first": 1,
        "last": 1,
        "index": cfg.index_width,
        "init": signed(init_width),  # HH of the key, for the first beat of a completion
    })
