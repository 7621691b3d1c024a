"""Design-space exploration (issue 21): each engine over its own knobs, its Pareto front, and the
best-vs-best ratios (every engine at its own best point for the objective).

A point is one engine (a single top) at one setting of its knobs, synthesized through the sweep's
point cache and executor (`sweep.run_points`); its area (and on ihp130 fmax and energy) from synthesis.
Its throughput comes from real rows (`Plan.qk`, by default the embedded lm dump: `measured_cycles_per_row`,
the top's cycle model fed each row's own kept and p > 0 counts, rows back to back), or with `--keep` from
the cycle model at one keep ratio (`model_cycles_per_row`, every kept key taken to have p > 0).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np

from latte_rtl.config import LatteConfig, parameter_owners
from latte_rtl.errors import UserError

# Engine families: (LATTE top, its dense twin); `attention` generates the attention tops.
FAMILIES = {
    "score": ("latte_score_engine", "dense_score_engine"),
    "attention": ("latte_attention_engine", "dense_attention_engine"),
}
ENGINES = ("latte", "dense")
TARGETS = ("generic", "ihp130")
OBJECTIVES = ("throughput-per-area", "energy")

# Each engine's knobs: design parameter → default candidates (a CLI option --<engine>-<knob> each).
# A name the design does not declare is left out, so a new knob joins with one line here.
KNOBS = {
    "latte": {"lanes": (16, 32, 64), "msb_bits": (3, 4), "pipeline": (True, False), "completion_lanes": (0, 8),
              "pv_lanes": (0, 8), "softmax_lanes": (1,)},
    "dense": {"lanes": (8, 16, 32, 64), "pipeline": (True, False), "pv_lanes": (0, 4, 8), "softmax_lanes": (1, 2, 4)},
}
SHORT = {"msb_bits": "msb", "pipeline": "pipe", "completion_lanes": "clanes", "pv_lanes": "pv",
         "softmax_lanes": "sm"}  # knob names in tables
# Knobs that only the attention tops have: left at their default in the score family's points.
ATTENTION_KNOBS = ("pv_lanes", "softmax_lanes")

# Metric names → labels (table rows, plot axes) and short column headings.
LABELS = {
    "keys_per_cycle": "keys/cycle (model)", "transistors": "transistors (logic)",
    "keys_per_cycle_per_mtransistor": "keys/cycle per Mtransistor", "keys_per_s": "keys/s (model × fmax)",
    "total_mm2": "mm² incl. SRAM macros", "keys_per_s_per_mm2": "keys/s per mm²", "pj_per_row": "pJ per row",
    "fmax_mhz": "fmax MHz", "cycles_per_row": "cycles per row (model)",
    "sram_read_bits_per_cycle": "SRAM read bits/cycle (K and V ports)",
}
COLUMNS = {  # the same metrics as table column headings
    "keys_per_cycle": "keys/cycle", "transistors": "transistors", "keys_per_cycle_per_mtransistor": "keys/cyc/Mtr",
    "keys_per_s": "keys/s", "total_mm2": "mm²", "keys_per_s_per_mm2": "keys/s/mm²", "pj_per_row": "pJ/row",
    "fmax_mhz": "MHz", "cycles_per_row": "cycles/row", "sram_read_bits_per_cycle": "SRAM bits/cycle",
}
LOWER_IS_BETTER = {"transistors", "total_mm2", "pj_per_row", "cycles_per_row"}


def knob_table() -> dict[str, dict[str, tuple]]:
    """KNOBS filtered to the parameters LatteConfig declares."""
    owners = parameter_owners()
    return {engine: {k: v for k, v in knobs.items() if k in owners} for engine, knobs in KNOBS.items()}


SPEED = {"generic": "keys_per_cycle", "ihp130": "keys_per_s"}  # each target's throughput metric


def front_axes(target: str, objective: str) -> list[str]:
    """The metrics the Pareto front trades: throughput against area (and energy)."""
    if target == "generic":
        return [SPEED[target], "transistors"]
    return [SPEED[target], "total_mm2"] + (["pj_per_row"] if objective == "energy" else [])


def objective_metric(target: str, objective: str) -> str:
    if objective == "energy":
        return "pj_per_row"
    return "keys_per_cycle_per_mtransistor" if target == "generic" else "keys_per_s_per_mm2"


def shown_metrics(target: str, objective: str) -> list[str]:
    """The metrics of the tables and ratios: the objective, throughput per area, the front's axes."""
    return list(dict.fromkeys([objective_metric(target, objective),
                               objective_metric(target, "throughput-per-area"), *front_axes(target, objective)]))


def better(metric: str, a: float, b: float) -> bool:
    """a strictly better than b."""
    return a < b if metric in LOWER_IS_BETTER else a > b


def pareto_front(points: list[dict], axes: list[str]) -> list[int]:
    """Indices of the points no other point dominates (at least as good on every axis, better on
    one); points missing an axis are left out; equal points all stay."""
    valid = [i for i, p in enumerate(points) if all(p.get(a) is not None for a in axes)]

    def dominates(p, q):
        return (all(not better(a, q[a], p[a]) for a in axes) and any(better(a, p[a], q[a]) for a in axes))

    return [i for i in valid if not any(dominates(points[j], points[i]) for j in valid if j != i)]


def best_point(points: list[dict], metric: str) -> int | None:
    """Index of the point best on `metric` (the first of equals), None if none has it."""
    best = None
    for i, p in enumerate(points):
        if p.get(metric) is not None and (best is None or better(metric, p[metric], points[best][metric])):
            best = i
    return best


def advantage(metric: str, latte: float | None, dense: float | None) -> float | None:
    """How many times better LATTE is than dense on `metric` (> 1: LATTE better)."""
    if not latte or not dense:
        return None
    return dense / latte if metric in LOWER_IS_BETTER else latte / dense


@dataclasses.dataclass(frozen=True)
class Plan:
    """What `explore` runs: the design every point starts from, the grids, target and objective."""

    dim: int
    max_keys: int
    keep: float
    target: str
    objective: str
    families: tuple[str, ...]
    grids: dict  # engine → {knob: [values]}
    qk: str | None = None  # real rows the throughput is measured on (None: the model at `keep`)
    heads: int | None = None  # the rows' heads where they are more than the design's default

    def base(self, family: str) -> dict:
        heads = {"heads": self.heads} if self.heads else {}
        return {"dim": self.dim, "max_keys": self.max_keys, **heads, "attention": family == "attention"}

    def points(self) -> list[dict]:
        """Every (family, engine, knobs) of the plan, in a stable order."""
        out = []
        for family in self.families:
            for engine, top in zip(ENGINES, FAMILIES[family], strict=True):
                grid = {k: v for k, v in self.grids[engine].items()
                        if family == "attention" or k not in ATTENTION_KNOBS}
                for values in itertools.product(*grid.values()):
                    knobs = dict(zip(grid, values, strict=True))
                    out.append({"family": family, "engine": engine, "top": top, "knobs": knobs,
                                "params": {**self.base(family), **knobs}})
        return out


def parse_values(engine: str, knob: str, text: str | None, dim: int, lanes=()) -> list:
    """The candidates of one knob: a comma list from --<engine>-<knob>, else the defaults (lanes
    beyond `dim` left out; completion and P·V lanes that do not divide every explored `lanes` left out)."""
    option = f"--{engine}-{knob.replace('_', '-')}"
    default = KNOBS[engine][knob]
    if text is None:
        if knob == "lanes":
            return [v for v in default if v <= dim] or [dim]
        if knob in ("completion_lanes", "pv_lanes"):
            return [v for v in default if v == 0 or all(n % v == 0 for n in lanes)]
        return list(default)
    items = [t.strip().lower() for t in text.split(",") if t.strip()]
    if not items:
        raise UserError(f"{option} is empty: expected a comma-separated list")
    if isinstance(default[0], bool):
        flags = {"on": True, "off": False, "true": True, "false": False}
        bad = [t for t in items if t not in flags]
        if bad:
            raise UserError(f"{option} must be a comma-separated list of on, off, not {text!r}")
        values = [flags[t] for t in items]
    else:
        try:
            values = [int(t) for t in items]
        except ValueError:
            raise UserError(f"{option} must be a comma-separated list of integers, not {text!r}") from None
    if len(set(values)) != len(values):
        raise UserError(f"{option} lists a value twice: {text!r}")
    return values


def check_plan(plan: Plan) -> None:
    """Every point is a valid design and the objective fits the target, or one UserError names
    what is wrong (before any work)."""
    if plan.objective == "energy" and plan.target != "ihp130":
        raise UserError("--objective energy needs --target ihp130: the generic flow has no energy model")
    for point in plan.points():
        try:
            LatteConfig.from_params(**point["params"])
        except UserError as exc:
            raise UserError(f"explore {point['family']} {point['engine']} point {knob_text(point['knobs'])} is not "
                            f"a valid design (--{point['engine']}-… lists): {exc}") from None


def model_cycles_per_row(top, cfg: LatteConfig, keep: float) -> float:
    """Model cycles of a row of N = max_keys keys at keep ratio `keep` (golden/cycles.py through the
    registry's throughput model). The one place `explore` maps a point to its throughput: extend
    here when a knob changes the model beyond the registry's."""
    return cfg.score.max_keys / top.keys_per_cycle(cfg, keep)


REFERENCE = {"msb_bits": 4, "estimate": "hh", "threshold_mode": "relative"}  # what a dump's thresholds are for


def reference_keep(qk: str, base: dict) -> float:
    """The fraction of visible keys the file's own thresholds keep on the default LATTE design (m 4, HH,
    relative) of `base` (dim, max_keys, ...): every LATTE point of `explore --qk` keeps that fraction
    (`measured_cycles_per_row`)."""
    from latte_rtl.npzio import load_qk
    from latte_rtl.tops.registry import latte_score_expected

    cfg = LatteConfig.from_params(**base, **REFERENCE, lanes=1)  # lanes do not change what is kept
    inp = load_qk(qk, cfg.score)
    return float(latte_score_expected(inp, cfg)["kept"].sum() / inp.key_mask.sum())


@functools.lru_cache(maxsize=64)
def measured_cycles_per_row(top_name: str, params: tuple, qk: str, keep: float) -> tuple[float, float]:
    """(cycles per row, visible keys per row) of one point on the rows of `qk`, means over the rows: the
    top's cycle model (its registry `expected`, the one the regression checks the RTL against) fed each
    row's own kept and p > 0 counts, the rows back to back (their interval where rows overlap). LATTE
    points whose estimate is not the file's (REFERENCE) are calibrated to keep `keep` of the keys."""
    from latte_rtl.npzio import load_qk
    from latte_rtl.tops import get_top
    from latte_rtl.workloads.dump import calibrate

    top, cfg = get_top(top_name), LatteConfig.from_params(**dict(params))
    inp = load_qk(qk, cfg.score)
    if top.key == "latte" and any(getattr(cfg.score, k) != v for k, v in REFERENCE.items()):
        inp = dataclasses.replace(inp, thresholds=np.asarray(calibrate(inp, cfg.score, keep=keep)["thresholds"]))
    expected = top.expected(inp, cfg)
    cycles = expected.get("interval", expected["cycles"])
    return float(np.mean(cycles)), float(inp.key_mask.sum(axis=1).mean())


def point_metrics(point: dict, result: dict | None, keep: float, qk: str | None = None) -> dict:
    """The metrics of one synthesized point (None where its flows gave nothing): throughput on the rows of
    `qk` (measured_cycles_per_row), else from the model at `keep`."""
    from latte_rtl.tops import get_top

    top = get_top(point["top"])
    cfg = LatteConfig.from_params(**point["params"])
    if qk:
        cycles, keys = measured_cycles_per_row(top.name, tuple(sorted(point["params"].items())), qk, keep)
    else:
        cycles, keys = model_cycles_per_row(top, cfg, keep), cfg.score.max_keys
    m = {"cycles_per_row": cycles, "keys_per_cycle": keys / cycles}
    flows = (result or {}).get(top.name, {})
    m["transistors"] = flows.get("generic", {}).get("transistors")
    m["keys_per_cycle_per_mtransistor"] = m["keys_per_cycle"] / m["transistors"] * 1e6 if m["transistors"] else None
    asic = flows.get("ihp130", {})
    m["fmax_mhz"] = asic.get("fmax_mhz")
    m["total_mm2"] = asic["total_um2"] / 1e6 if asic.get("total_um2") else None
    m["keys_per_s"] = m["keys_per_cycle"] * m["fmax_mhz"] * 1e6 if m["fmax_mhz"] else None
    m["keys_per_s_per_mm2"] = m["keys_per_s"] / m["total_mm2"] if m["keys_per_s"] and m["total_mm2"] else None
    m["pj_per_row"] = (asic.get("energy") or {}).get("pj_per_row")
    m["sram_read_bits_per_cycle"] = sram_read_bits_per_cycle(top, cfg)
    return m


def sram_read_bits_per_cycle(top, cfg: LatteConfig) -> int:
    """The read bandwidth a point's K and V stores offer: the word bits of every K bank the score stage
    reads (LATTE: the MSB and LSB planes; dense: whole K) and, in the attention tops, of V."""
    from .endtoend import bank_bits

    bits = bank_bits(cfg)
    banks = ["msb", "lsb"] if top.key == "latte" else ["full"]
    return sum(bits[b] for b in banks + (["v"] if top.attention else []))


# What LATTE's best point is matched against besides dense's best: dense's fastest point within LATTE's
# budget of the named resource (its area, its SRAM read bandwidth), per target.
BUDGETS = {"generic": {"equal_area": "transistors", "equal_bandwidth": "sram_read_bits_per_cycle"},
           "ihp130": {"equal_area": "total_mm2", "equal_bandwidth": "sram_read_bits_per_cycle"}}


def matched_points(target: str, latte: dict, dense: list[dict]) -> dict:
    """{budget: (dense point id or None, LATTE's throughput over that point's)} for BUDGETS[target]: dense's
    fastest point using at most LATTE's best point's area (or SRAM read bits per cycle); none fits: None."""
    speed = SPEED[target]
    out = {}
    for budget, resource in BUDGETS[target].items():
        limit = latte["metrics"].get(resource)
        fits = [p for p in dense if limit is not None and p["metrics"].get(resource) is not None
                and p["metrics"][resource] <= limit and p["metrics"].get(speed)]
        best = max(fits, key=lambda p: p["metrics"][speed], default=None)
        out[budget] = (None, None) if best is None or not latte["metrics"].get(speed) else (
            best["id"], latte["metrics"][speed] / best["metrics"][speed])
    return out


def knob_text(knobs: dict) -> str:
    """'lanes=16 msb=4 pipe=on'."""
    return " ".join(f"{SHORT.get(k, k)}={('on' if v else 'off') if isinstance(v, bool) else v}"
                    for k, v in knobs.items())


def summarize(plan: Plan, points: list[dict]) -> dict:
    """Per family: each engine's front and best point (ids into `points`), and the best-vs-best
    ratios of the objective and of every front axis."""
    axes, objective = front_axes(plan.target, plan.objective), objective_metric(plan.target, plan.objective)
    families = {}
    for family in plan.families:
        fam = {"front": {}, "best": {}}
        for engine in ENGINES:
            mine = [p for p in points if p["family"] == family and p["engine"] == engine and p["status"] == "ok"]
            fam["front"][engine] = [mine[i]["id"] for i in pareto_front([p["metrics"] for p in mine], axes)]
            best = best_point([p["metrics"] for p in mine], objective)
            fam["best"][engine] = None if best is None else mine[best]["id"]
        if None not in fam["best"].values():
            a, b = (points[fam["best"][e]]["metrics"] for e in ENGINES)
            fam["ratios"] = {metric: advantage(metric, a.get(metric), b.get(metric))
                             for metric in shown_metrics(plan.target, plan.objective)}
            dense = [p for p in points if p["family"] == family and p["engine"] == "dense" and p["status"] == "ok"]
            matched = matched_points(plan.target, points[fam["best"]["latte"]], dense)
            fam["matched"] = {budget: point for budget, (point, _) in matched.items()}
            fam["ratios"].update({f"throughput_at_{budget}": ratio for budget, (_, ratio) in matched.items()})
        else:
            fam["ratios"], fam["matched"] = None, None
        families[family] = fam
    return {"axes": axes, "objective_metric": objective, "metrics": shown_metrics(plan.target, plan.objective),
            "target": plan.target, "families": families}


def explore(plan: Plan, out_dir, *, jobs: int = 2, scheduler: str | None = None) -> tuple[list[dict], dict]:
    """Synthesize every point of the plan (cached, local or Dask; a failed point is reported in
    its record); returns (points, summary)."""
    from .sweep import point_pool, run_points

    check_plan(plan)
    points = plan.points()
    targets = [plan.target]
    with point_pool(out_dir, targets, jobs=jobs, scheduler=scheduler) as (pool, cache):
        results = run_points(pool, [(p["params"], [p["top"]]) for p in points], targets, cache, plan.keep,
                             "explore")
    for i, (point, result) in enumerate(zip(points, results, strict=True)):
        point.update(id=i, status="failed" if result.get("error") else "ok", error=result.get("error"),
                     cached=result["cached"], seconds=result["seconds"], cache_key=result["key"])
        point["metrics"] = point_metrics(point, result.get("results"), plan.keep, plan.qk)
    return points, summarize(plan, points)
