"""Fuzzer over the parameter space: random valid designs drawn from the one parameter source (the
`param(...)` specs of every stage in config.py), each generated, then every top run on random and corner
rows through the native engine with random stalls (and, for the decode tops, a random memory latency),
bit-exact with golden and with a hang budget from the cycle model.

`draw_params(choose)` draws one parameter set through `choose` (a `Chooser`: hypothesis's `data.draw`
in the tests, see `hypothesis_chooser`); `check_design(params, workdir, seed)` runs it. Sizes are capped
(`FUZZ_CAPS`) so a design simulates in seconds; every other range is the parameter's own.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..buses import BUSES
from ..config import STAGES, LatteConfig, default_lanes
from ..errors import UserError
from ..params import applies, param_fields, spec_of

# Upper bounds the fuzzer puts on size parameters (a simulation of seconds); the lower bounds and every
# other parameter's range come from params.py.
FUZZ_CAPS = {"dim": 12, "pv_lanes": 12, "softmax_lanes": 5, "heads": 6, "max_keys": 40, "kept_buffer": 40, "group": 4,
             "axi_outstanding": 64}
# Parameters whose rule is narrower than their lo..hi (a power of two): drawn from these values.
FUZZ_CHOICES = {"axi_data_width": (64, 128, 256, 512)}
# Stage order of the draw: the memory first (an external kv_memory needs the attention tops on).
DRAW_ORDER = ("decode", "score", "attention", "row")
HANG_SLACK = 4          # the hang budget: HANG_SLACK x the model's longest step, plus the stalls' margin
STALL_MARGIN = 2000     # cycles: random valid/ready stalls at probability >= 0.3 and the memory latency


class Chooser(Protocol):
    def integer(self, lo: int, hi: int) -> int: ...
    def choice(self, options: tuple) -> object: ...


class RandomChooser:
    """A Chooser from `random.Random(seed)` (the long run's designs), corners drawn one time in four."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        if self.rng.random() < 0.25:
            return self.rng.choice((lo, hi))
        return self.rng.randint(lo, hi)

    def choice(self, options: tuple):
        return self.rng.choice(options)


def hypothesis_chooser(data):
    """A Chooser drawing through hypothesis's `st.data()` object (shrinks toward the low bounds)."""
    from hypothesis import strategies as st

    class _Chooser:
        def integer(self, lo, hi):
            return data.draw(st.integers(lo, hi))

        def choice(self, options):
            return data.draw(st.sampled_from(options))

    return _Chooser()


def _draw_stage(stage_cls, choose: Chooser, drawn: dict, fixed: dict) -> dict:
    """One stage's parameters: each in its own range (bounds naming another parameter resolved against
    what is drawn already), capped by FUZZ_CAPS; a parameter that does not apply keeps its default."""
    values = {}
    for f in param_fields(stage_cls):
        spec = spec_of(f)
        if f.name in fixed:
            value = fixed[f.name]
        elif not applies({**drawn, **values}, spec):
            value = f.default
        elif spec.choices or f.name in FUZZ_CHOICES:
            value = choose.choice(spec.choices or FUZZ_CHOICES[f.name])
        elif isinstance(f.default, bool):
            value = choose.choice((False, True))
        else:
            hi = spec.hi
            if isinstance(hi, str):
                name, _, minus = hi.partition("-")
                hi = {**drawn, **values}[name] - int(minus or 0)
            value = choose.integer(spec.lo, min(hi, FUZZ_CAPS.get(f.name, hi)))
        values[f.name] = value
    return values


def draw_params(choose: Chooser) -> dict:
    """A flat parameter set (LatteConfig.from_params) drawn through `choose`; it may still be invalid as
    a whole (cross-parameter rules): `valid_config` says."""
    drawn: dict = {}
    for stage in DRAW_ORDER:
        external = stage != "decode" and BUSES[drawn["kv_memory"]].external
        fixed = {"attention": True} if stage == "attention" and external else {}
        if stage == "score" and external:
            fixed = {"completion_lanes": 0, "row_thresholds": False, "rounds": 1}  # T_g per query row already
        drawn.update(_draw_stage(STAGES[stage], choose, drawn, fixed))
    drawn["lanes"] = drawn["lanes"] or default_lanes(drawn["dim"])   # 0: the default, drawn as its value
    if BUSES[drawn["kv_memory"]].external:
        drawn["kept_buffer"] = min(drawn["kept_buffer"], drawn["max_keys"])
        drawn["vmean"] = False
        drawn["pv_lanes"], drawn["softmax_lanes"] = 0, 1
        drawn["axi_addr_width"] = max(drawn["axi_addr_width"], _addr_bits_needed(drawn))
    else:
        for knob in ("completion_lanes", "pv_lanes"):   # 0 or a divisor of lanes: 1 divides every lanes
            if drawn[knob] and drawn["lanes"] % drawn[knob]:
                drawn[knob] = 1
        if drawn["completion_lanes"] or drawn["row_thresholds"] or drawn["msb_bits"] < 2:
            drawn["rounds"] = 1  # two rounds: the shared array, head-wise T1, m ≥ 2
    return drawn


def _addr_bits_needed(params: dict) -> int:
    """Address bits of the decode testbench's memory (planes of max_keys keys above its base)."""
    from ..config import AttentionConfig, ScoreConfig
    from .decode_scoreboard import memory_bytes

    score = ScoreConfig(bits=params["bits"], msb_bits=params["msb_bits"], dim=params["dim"], lanes=params["lanes"],
                        max_keys=params["max_keys"])
    cfg = LatteConfig(score=score, attention=AttentionConfig(attention=True))
    spec = dataclasses.replace(cfg.decode_spec(), bus_bytes=params["axi_data_width"] // 8)
    return (memory_bytes(spec) - 1).bit_length()


def valid_config(params: dict) -> LatteConfig | None:
    """The design of `params`, or None where the product refuses it (a cross-parameter rule)."""
    try:
        return LatteConfig.from_params(**params)
    except UserError:
        return None


@dataclass
class DesignRun:
    """What one fuzzed design did: the tops run, rows checked, cycles simulated, the hang budget."""
    params: dict
    seed: int
    tops: list
    rows: int = 0
    cycles: int = 0
    budget: int = 0


def hang_budget(cfg: LatteConfig, latency: int) -> int:
    """Cycles with no beat moving after which a run counts as hung: HANG_SLACK x the model's longest
    step (every key kept, every V row read; a decode step at one byte per cycle and `latency`), plus
    STALL_MARGIN."""
    from .. import golden

    sc, a = cfg.score, cfg.attention
    n = sc.max_keys
    if cfg.bus.external:
        spec = cfg.decode_spec()
        rows = {p: spec.row_beats(p) for p in ("k_msb", "k_lsb", "v")}
        reads = golden.decode_reads(rows, spec.bus_bytes, n, n, n, msb_passes=2)
        longest = golden.decode_cycles(spec, reads, n_keys=n, lsb_rows=n, v_rows=n, entries=n, group=cfg.decode.group,
                                       bandwidth=1, latency=latency, queue=1, msb_passes=2)["total"]
        longest += 2 * latency * math.ceil(reads["total"] / spec.bus_bytes)   # no overlap at all
    else:
        score = golden.score_cycles(sc.beats, n, n, sc.completion_ratio, sc.threshold_mode)
        longest = (int(golden.attention_cycles(score, n, n, sc.beats, a.prob_bits, cfg.pv_ratio,
                                                      a.softmax_lanes)) if a.attention
                   else int(score))
        longest += n * sc.beats     # the key load
    return HANG_SLACK * int(longest) + STALL_MARGIN


def _cases(cfg: LatteConfig, top, seed: int, directory: Path) -> list[Path]:
    """The stimulus files of `top`: random and corner rows (stimulus.regression_cases or decode_cases), those
    the top refuses left out (its `check_input`: the dense decode twin takes N <= kept_buffer only)."""
    import numpy as np

    from .regression import refused
    from .stimulus import add_attention_arrays, decode_cases, regression_cases, write_cases

    if top.decode:
        cases = decode_cases(cfg, seed, keys=random.Random(seed).randint(1, cfg.score.max_keys))
    else:
        cases = regression_cases(cfg.score, seed, rows=3)
        if top.attention:
            add_attention_arrays(cfg, cases, np.random.default_rng(seed + 1))
    return [p for p in write_cases(cases, directory / top.name) if not refused(cfg, top.name, p)]


def check_design(params: dict, workdir: Path, seed: int, log=print) -> DesignRun:
    """Generate `params` into `workdir`, run every top natively on its cases with random stalls (valid
    and ready probabilities in 0.3..1, a memory latency 0..40 for the decode tops), bit-exact with
    golden and no quiet stretch beyond `hang_budget`. Raises AssertionError on a mismatch or a hang."""
    from ..design import generate
    from ..tops.registry import tops_for
    from .native import simulate_native

    cfg = LatteConfig.from_params(**params)
    rng = random.Random(seed)
    run = DesignRun(params, seed, [t.name for t in tops_for(cfg)])
    log(f"fuzz design seed {seed}: {json.dumps(params, sort_keys=True)}")
    generate(cfg, workdir / "design")
    for top in tops_for(cfg):
        stimuli = _cases(cfg, top, rng.randrange(1 << 30), workdir)
        results = [workdir / "results" / top.name / p.name for p in stimuli]
        results[0].parent.mkdir(parents=True, exist_ok=True)
        valid, ready = (round(rng.uniform(0.3, 1.0), 2) for _ in range(2))
        latency = rng.randint(0, 40) if top.decode else 0
        budget = hang_budget(cfg, latency)
        memory = (latency, float(rng.choice((1, 4, cfg.decode_spec().bus_bytes)))) if top.decode else (0, None)
        stats = simulate_native(workdir / "design", stimuli, results, top=top.name, seed=seed, valid_prob=valid,
                                ready_prob=ready, memory=memory, hang_limit=budget)
        rows = sum(len(_rows_of(r)) for r in results)
        log(f"  {top.name}: {len(stimuli)} cases, {rows} rows, valid {valid} ready {ready} latency {latency}: "
            f"{stats['cycles']} cycles, bit-exact (hang budget {budget})")
        run.rows += rows
        run.cycles += stats["cycles"]
        run.budget = max(run.budget, budget)
    return run


def _rows_of(path: Path) -> list:
    """The rows of one result file (its `kept_count` or `kept`, whichever the top writes)."""
    import numpy as np

    with np.load(path) as result:
        key = "kept_count" if "kept_count" in result else "kept"
        return list(result[key])
