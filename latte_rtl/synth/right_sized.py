"""The main job's right-sized dense baseline: the dense attention engine at its own best stage sizes on the
real lm rows (the explorer's best dense point, docs/results/explore.md), generated beside the design, run on
the same rows by the native engine (bit-exact against golden) and synthesized, so that LATTE's design is
compared with dense at its best and not only with its same-lanes twin."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from latte_rtl.config import LatteConfig

# `latte-rtl explore --family attention ... --dense-lanes 16,32,64 --dense-pv-lanes 8,16
# --dense-softmax-lanes 1,2,4` on the embedded lm dump: the most keys/cycle per transistor of any dense point,
# lanes 32, P·V 16 (pv_lanes 0: the default width, 16 at 32 lanes), softmax 4.
RIGHT_SIZED_DENSE = {"lanes": 32, "pv_lanes": 0, "softmax_lanes": 4}
TOP = "dense_attention_engine"
KEY = "dense_attention_right_sized"     # its column and comparison name in the main job's outputs
SUBDIR = "dense_right_sized"


def right_sized_config(cfg: LatteConfig) -> LatteConfig:
    """`cfg` with the dense engine's best stage sizes (lanes capped at d; no completion array, which only LATTE
    has and which must divide the lanes)."""
    return cfg.replace(**{**RIGHT_SIZED_DENSE, "lanes": min(RIGHT_SIZED_DENSE["lanes"], cfg.score.dim),
                          "completion_lanes": 0})


class RightSized(NamedTuple):
    """The right-sized dense engine's run: its config, its per-row costs on layer 1, its design directory."""
    cfg: LatteConfig
    costs: dict
    design: Path


def knobs_text(cfg: LatteConfig) -> str:
    return f"lanes {cfg.score.lanes}, pv_lanes {cfg.pv_width}, softmax_lanes {cfg.attention.softmax_lanes}"


def run_right_sized(cfg: LatteConfig, layer_input, out: Path, log=print):
    """Generate the right-sized dense design in OUT/dense_right_sized and run its attention top on
    `layer_input` (one layer's rows): a RightSized, or None where it disagrees with golden."""
    import time

    from latte_rtl.design import generate
    from latte_rtl.sim.shards import Engine, gather, run_rows

    from .endtoend import row_costs

    dcfg = right_sized_config(cfg)
    where = out / SUBDIR
    generate(dcfg, where, force=True)
    start = time.perf_counter()
    done = run_rows(where, TOP, Engine("native"), {1: layer_input}, jobs=2)
    bad = [d["mismatch"] or "no result" for d in done if d["mismatch"] or d["result"] is None]
    if bad:
        log(f"latte-rtl: RTL and golden disagree on the lm dump (right-sized dense): {bad[0]}")
        return None
    costs = row_costs(dcfg, gather(done, {1: layer_input.q.shape[0]})[1])
    log(f"  {TOP}, right-sized ({knobs_text(dcfg)}; {where}): matches golden on layer 1 "
        f"({time.perf_counter() - start:.1f} s); {costs['cycles_per_row']:.0f} cycles/row")
    return RightSized(dcfg, costs, where)
