"""One entry per top: its component, its golden function, its report blocks.

Generation, regression, `run`, synthesis, sweeps and reports iterate `TOPS`; nothing else names a
particular top but its scoreboard's registration. Adding a top is one `Top(...)` here plus its
scoreboard class in sim/, registered for the top's name with `@scoreboard_for` (sim/scoreboards.py;
hardware never imports sim/). tests/tops/test_registry.py checks that every top has one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from latte_rtl import golden

from ..config import LatteConfig
from ..errors import UserError
from ..stages.score import DenseScoreStage, LatteScoreStage
from .attention import DenseAttentionEngine, LatteAttentionEngine
from .decode import DenseDecodeEngine, LatteDecodeEngine


@dataclass(frozen=True)
class Top:
    """A generated top-level module.

    name            Verilog module name (and file stem)
    key             short name in reports and tables ("latte", "dense")
    component       Amaranth component class, constructed with the LatteConfig
    expected        golden function (AttentionInput, LatteConfig) -> expected result dict
                    (`hh`, `kept`, `scores`, `cycles` [R, ...] as in docs/spec.md §6, plus `max_estimate`
                    [R] and `reads` {bank: [R]} for the scoreboard)
    keys_per_cycle  throughput model (LatteConfig, keep ratio) -> keys per cycle
    blocks          submodule or SRAM instance path below the top -> report block (the rest: "control +
                    stores"); a `*` stands for an index ("divider_*": divider_0, divider_1, ...)
    baseline        the top it is compared against in reports, if any
    """

    name: str
    key: str
    component: type
    expected: Callable
    keys_per_cycle: Callable[[LatteConfig, float], float]
    blocks: dict = field(default_factory=dict)
    baseline: str | None = None
    attention: bool = False  # generated only with the `attention` parameter
    description: str = ""
    decode: bool = False  # a decode top: generated only (and alone) with an external kv_memory (buses/)
    check_input: Callable | None = None  # (inp, cfg): UserError for an input it cannot take, before any work

    def build(self, cfg: LatteConfig):
        return self.component(cfg)

    def block_of(self, path: str) -> str:
        """Report block of a submodule path ("dot.multipliers"): longest registered prefix."""
        parts = path.split(".")
        for n in range(len(parts), 0, -1):
            prefix = ".".join(parts[:n])
            block = self.blocks.get(prefix) or next(
                (b for key, b in self.blocks.items() if "*" in key and block_pattern(key).fullmatch(prefix)), None)
            if block:
                return block
        return "control + stores"


@functools.cache
def block_pattern(key: str) -> re.Pattern:
    """The paths a report-block key names: itself, each `*` an index (digits)."""
    return re.compile(r"\d+".join(re.escape(part) for part in key.split("*")))


def score_row_groups(inp) -> list[np.ndarray]:
    """The rows the score testbench streams back to back when rows overlap, in order: those of each head
    when every head has its own keys (a load between heads), else every row."""
    if inp.k.ndim == 3:
        return [np.flatnonzero(inp.heads == h) for h in np.unique(inp.heads)]
    return [np.arange(inp.q.shape[0])]


def latte_score_expected(inp, cfg: LatteConfig) -> dict:
    """Keys at or past a row's key limit are invisible: no estimate (0 here), never kept. Relative mode with
    a completion array: `cycles` (latency) and `interval` of the rows back to back (golden.score_overlap);
    `alone`: each row's cycles through an empty stage (golden.score_row_cycles)."""
    mask = inp.key_mask
    res = golden.score_rows(inp.q, inp.k, inp.heads, inp.thresholds, cfg.score, key_mask=mask,
                            row_thresholds=inp.row_thresholds, round1_thresholds=inp.round1_thresholds)
    kept, visible = res.kept.sum(axis=1), inp.key_limit
    hh = np.where(mask, res.hh, 0)
    seen = mask if res.survived is None else mask & res.survived  # the keys whose estimate the filter compares
    survived = 0 if res.survived is None else seen.sum(axis=1)
    alone = golden.score_row_cycles(cfg.score, visible, res.kept, None if res.survived is None else seen)
    out = {"hh": hh, "estimate": np.where(mask, res.estimate, 0), "kept": res.kept, "scores": res.scores,
           "exact": res.exact, "kept_count": kept, "cycles": alone, "alone": alone, "seen": seen,
           "max_estimate": np.where(seen.any(axis=1), np.where(seen, res.estimate, np.iinfo(np.int64).min).max(axis=1),
                                    0),
           "reads": golden.score_reads(cfg.score.beats, visible, kept, golden.reads_lsb_once(cfg.score), survived)}
    if golden.rows_overlap(cfg.score):
        out["cycles"], out["interval"] = golden.score_overlap(cfg.score, visible, res.kept, score_row_groups(inp))
    return out


def dense_score_expected(inp, cfg: LatteConfig) -> dict:
    mask = inp.key_mask
    res = golden.score_rows(inp.q, inp.k, inp.heads, inp.thresholds, cfg.score)
    rows = res.exact.shape[0]
    return {"hh": np.zeros_like(res.hh), "estimate": np.zeros_like(res.hh), "kept": mask, "seen": mask,
            "scores": np.where(mask, res.exact, 0), "exact": res.exact, "kept_count": mask.sum(axis=1),
            "cycles": golden.dense_cycles(cfg.score.beats, inp.key_limit), "max_estimate": np.zeros(rows, np.int64),
            "reads": golden.dense_reads(cfg.score.beats, inp.key_limit)}


def attention_row_groups(inp, v) -> list[np.ndarray]:
    """The rows the testbench streams back to back, in order: those of each head (ascending) when keys
    or values are per head (a load between heads), else every row."""
    if inp.k.ndim == 3 or v.ndim == 3:
        return [np.flatnonzero(inp.heads == h) for h in np.unique(inp.heads)]
    return [np.arange(inp.q.shape[0])]


def _back_cycles(cfg: LatteConfig, kept, nonzero):
    """golden.attention_back_cycles of `cfg`'s softmax and P·V."""
    return golden.attention_back_cycles(kept, nonzero, cfg.score.beats, cfg.attention.prob_bits, cfg.pv_ratio,
                                        cfg.attention.softmax_lanes)


def _attention_expected(score: dict, inp, cfg: LatteConfig, *, latte: bool) -> dict:
    """The §7 softmax and P·V over a score top's kept keys (golden.attention_rows); `cycles` (latency)
    and `interval` of the rows streamed back to back per group (golden.attention_pipeline; the LATTE score
    stage's rows overlapped where it overlaps them, the dense one's never)."""
    from ..npzio import load_attention

    arrays = load_attention(inp, cfg)
    att = golden.attention_rows(score["scores"], score["kept"], arrays.v, inp.heads, arrays.mult, arrays.comp,
                                **cfg.attention.golden_params())
    nonzero = (att["probs"] > 0).sum(axis=1)
    kept = score["kept"].sum(axis=1)
    back = _back_cycles(cfg, kept, nonzero)
    overlap = (cfg.score, inp.key_limit, score["kept"]) if latte and golden.rows_overlap(cfg.score) else None
    cycles, interval = golden.attention_pipeline(score.get("alone", score["cycles"]), back,
                                                 attention_row_groups(inp, arrays.v), overlap,
                                                 early=latte and golden.hands_over_early(cfg.score))
    return {**score, "probs": att["probs"], "out": att["out"], "prob_sum": att["prob_sum"], "v_reads": nonzero,
            "cycles": cycles, "interval": interval}


def latte_attention_expected(inp, cfg: LatteConfig) -> dict:
    return _attention_expected(latte_score_expected(inp, cfg), inp, cfg, latte=True)


def dense_attention_expected(inp, cfg: LatteConfig) -> dict:
    return _attention_expected(dense_score_expected(inp, cfg), inp, cfg, latte=False)


DECODE_RESULT = ("bytes_read", "bytes_read_k_msb", "bytes_read_k_lsb", "bytes_read_v", "overflow")


def check_decode_input(inp, cfg: LatteConfig, *, dense: bool) -> list:
    """The decode steps of `inp` (npzio.decode_steps); UserError for what a decode top cannot take."""
    from ..npzio import decode_steps

    if dense and inp.n_keys > cfg.decode.kept_buffer:
        raise UserError(f"the dense decode top keeps every key in its score buffer: N = {inp.n_keys} keys must be "
                        f"at most kept_buffer = {cfg.decode.kept_buffer}")
    return decode_steps(inp, cfg.decode.group)


def decode_expected(inp, cfg: LatteConfig, *, engine: str = "latte") -> dict:
    """golden.decode.decode_step over the decode steps of `inp` (npzio.decode_steps: the G rows of a KV
    head at a time). Per row: hh, estimate, kept, scores, probs [N]; out [d]; kept_count, overflow; its step's bytes
    (`bytes_read`, `bytes_read_<plane>`, shared by the step's G rows) and model cycles; `steps` the row groups."""
    from ..golden.decode import decode_step
    from ..npzio import load_attention

    steps = check_decode_input(inp, cfg, dense=engine != "latte")
    arrays, spec = load_attention(inp, cfg), cfg.decode_spec()
    rows, n, d = inp.q.shape[0], inp.n_keys, cfg.score.dim
    res = {name: np.zeros((rows, n), np.int64) for name in ("hh", "estimate", "scores", "probs")}
    res.update({"kept": np.zeros((rows, n), bool), "out": np.zeros((rows, d), np.int64),
                **{name: np.zeros(rows, np.int64) for name in ("kept_count", "cycles") + DECODE_RESULT}})
    for group in steps:
        h = inp.heads[group]
        v = arrays.v if arrays.v.ndim == 2 else arrays.v[h[0]]
        step = decode_step(spec, inp.q[group], inp.keys_of_head(int(h[0])), v, inp.thresholds[h], arrays.mult[h],
                           arrays.comp[h], engine=engine)
        for name in ("hh", "estimate", "kept", "scores", "probs", "out", "kept_count", "overflow"):
            res[name][group] = step[name]
        res["cycles"][group] = step["cycles"]["total"]
        res["bytes_read"][group] = step["bytes"]["total"]
        for plane in ("k_msb", "k_lsb", "v"):
            res[f"bytes_read_{plane}"][group] = step["bytes"][plane]
    return {**res, "steps": steps}


def _decode_keys_per_cycle(cfg: LatteConfig, keep: float, *, dense: bool) -> float:
    """Keys per cycle of one decode step of N = max_keys keys at a keep ratio, every kept key with p > 0, at
    the memory model's default bandwidth (bus bytes per cycle) and latency (golden.decode_cycles)."""
    spec, n = cfg.decode_spec(), cfg.score.max_keys
    kept = n if dense else max(1, round(keep * n))
    rows = {p: spec.row_beats(p) for p in ("k_msb", "k_lsb", "v")}
    reads = golden.decode_reads(rows, spec.bus_bytes, n, kept, kept)
    cycles = golden.decode_cycles(spec, reads, n_keys=n, lsb_rows=kept, v_rows=kept, entries=kept,
                                  group=cfg.decode.group, bandwidth=spec.bus_bytes, latency=100, dense=dense)
    return n / cycles["total"]


def _attention_keys_per_cycle(cfg: LatteConfig, keep: float, *, dense: bool) -> float:
    """Keys per cycle of rows of N = max_keys keys back to back at a keep ratio (all kept in dense;
    every kept key taken to have p > 0): N / golden.attention_interval (an overlapping score stage:
    the steady interval of golden.attention_pipeline)."""
    n = cfg.score.max_keys
    kept = n if dense else max(1, round(keep * n))
    sc = cfg.score
    back = _back_cycles(cfg, kept, kept)
    if not dense and golden.rows_overlap(sc):  # the steady interval of eight equal rows, kept keys spread
        mask = np.zeros((8, n), dtype=bool)
        mask[:, np.linspace(0, n - 1, kept).round().astype(int)] = True
        _, interval = golden.attention_pipeline(None, np.full(8, back), [np.arange(8)], (sc, n, mask))
        return n / float(interval[-1])
    score = golden.dense_cycles(sc.beats, n) if dense else golden.score_cycles(
        sc.beats, n, kept, sc.completion_ratio, sc.threshold_mode, round(golden.survived_fraction(sc, keep) * n))
    return n / float(golden.attention_interval(score, back, not dense and golden.hands_over_early(sc)))


_SCORE_BLOCKS = {
    "dot.multipliers": "multiplier array",
    "dot": "adder tree + accumulator",
    "accumulator": "adder tree + accumulator",
}
# LATTE only: the completion unit, and with completion_lanes > 0 its own array (fetch, lane splitter,
# multipliers, adder tree, accumulator, q copy), the MSB port arbiter and the phase-1 credits.
_COMPLETION_BLOCKS = {
    "completion": "completion", "arbiter": "completion", "credits": "completion", "k_msb_arbiter": "completion",
    "completion_fetch": "completion array", "completion_split": "completion array",
    "completion_dot": "completion array", "completion_dot.multipliers": "completion multipliers",
    "completion_accumulator": "completion array", "completion_q": "completion array",
    "completion_q0": "completion array", "completion_q1": "completion array",
}

# LATTE with rounds 2: the first round's filter, T1 registers and its survivors' HH issue.
_ROUND1_BLOCKS = {name: "first round" for name in ("round1_filter", "round1_thresholds", "survivor_issuer",
                                                     "round1_arbiter", "round1_fork")}

_DECODE_BLOCKS = {"score": "score (estimate, filter, completion)", "score.fetcher": "AXI read master + fetch",
                  "buffer": "kept-score buffer", "asks": "P·V", "probs": "P·V",
                  "divider_*": "softmax dividers"}


TOPS: dict[str, Top] = {t.name: t for t in (
    Top(name="latte_score_engine", key="latte", component=LatteScoreStage, expected=latte_score_expected,
        keys_per_cycle=lambda cfg, keep: golden.keys_per_cycle(cfg.score.beats, keep, cfg=cfg.score,
                                                               ratio=cfg.score.completion_ratio,
                                                               mode=cfg.score.threshold_mode),
        blocks={**_SCORE_BLOCKS, "filter": "threshold filter", "thresholds": "threshold filter",
                **_COMPLETION_BLOCKS, **_ROUND1_BLOCKS},
        baseline="dense_score_engine",
        description="LATTE score stage: MSB estimate, threshold filter, exact completion reusing HH"),
    Top(name="dense_score_engine", key="dense", component=DenseScoreStage, expected=dense_score_expected,
        keys_per_cycle=lambda cfg, keep: golden.keys_per_cycle(cfg.score.beats, keep, dense=True),
        blocks=dict(_SCORE_BLOCKS),
        description="dense baseline: every key's exact score on full-width multipliers"),
    Top(name="latte_attention_engine", key="latte_attention", component=LatteAttentionEngine,
        expected=latte_attention_expected,
        keys_per_cycle=lambda cfg, keep: _attention_keys_per_cycle(cfg, keep, dense=False),
        blocks={**{f"score.{k}": v for k, v in _SCORE_BLOCKS.items()}, "score.filter": "threshold filter",
                "score.thresholds": "threshold filter",
                **{f"score.{k}": v for k, v in {**_COMPLETION_BLOCKS, **_ROUND1_BLOCKS}.items()},
                "softmax": "softmax", "pv": "P·V"},
        baseline="dense_attention_engine", attention=True,
        description="LATTE attention: score filter → softmax → P·V over the kept keys only"),
    Top(name="dense_attention_engine", key="dense_attention", component=DenseAttentionEngine,
        expected=dense_attention_expected,
        keys_per_cycle=lambda cfg, keep: _attention_keys_per_cycle(cfg, keep, dense=True),
        blocks={**{f"score.{k}": v for k, v in _SCORE_BLOCKS.items()}, "softmax": "softmax", "pv": "P·V"},
        attention=True, description="dense attention: the same softmax and P·V over every key"),
    Top(name="latte_decode_engine", key="latte_decode", component=LatteDecodeEngine,
        expected=decode_expected,
        keys_per_cycle=lambda cfg, keep: _decode_keys_per_cycle(cfg, keep, dense=False),
        blocks=_DECODE_BLOCKS, baseline="dense_decode_engine", attention=True, decode=True,
        check_input=lambda inp, cfg: check_decode_input(inp, cfg, dense=False),
        description="LATTE decode: K MSB plane of every key, K LSB of kept keys and V of keys with p > 0 "
                    "read over AXI4; G query rows per KV head"),
    Top(name="dense_decode_engine", key="dense_decode", component=DenseDecodeEngine,
        expected=lambda inp, cfg: decode_expected(inp, cfg, engine="dense"),
        keys_per_cycle=lambda cfg, keep: _decode_keys_per_cycle(cfg, keep, dense=True),
        blocks=_DECODE_BLOCKS, attention=True, decode=True,
        check_input=lambda inp, cfg: check_decode_input(inp, cfg, dense=True),
        description="dense decode: K and V of every key read over AXI4; G query rows per KV head"),
)}

DEFAULT_TOP = "latte_score_engine"


def default_top(cfg: LatteConfig) -> str:
    """The top `golden` and `run` use unless told: of the LATTE tops the design generates (those with a
    baseline), the first attention top (softmax and P·V), else the first."""
    latte = [t for t in tops_for(cfg) if t.baseline]
    return max(latte, key=lambda t: t.attention).name


def get_top(name: str) -> Top:
    if name not in TOPS:
        raise UserError(f"unknown top {name!r}: expected one of {', '.join(TOPS)}")
    return TOPS[name]


def tops_for(cfg: LatteConfig) -> list[Top]:
    """The tops a design generates, as its memory bus says (`MemoryBus.generates`): on chip the score tops,
    and the attention tops with `attention`; with an external bus (kv_memory axi) the decode tops only."""
    return [t for t in TOPS.values() if cfg.bus.generates(t, cfg)]


def comparison_pairs(names) -> list[tuple[Top, Top]]:
    """(top, its baseline) for every top among `names` whose baseline is also there."""
    names = set(names)
    return [(t, TOPS[t.baseline]) for t in TOPS.values() if t.name in names and t.baseline in names]
