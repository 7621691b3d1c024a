"""The cocotb regression of a generated design: every engine, every simulator, every case,
with and without backpressure. Used by `latte-rtl sim` and by the pytest sweep."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from golden import score_rows
from latte_rtl.config import LatteConfig
from latte_rtl.errors import UserError
from latte_rtl.npzio import load_qk

from .runner import simulate
from .stimulus import regression_cases, write_cases

ENGINE_TOPS = ("latte_score_engine", "dense_score_engine")
# (name, probability a source offers a beat, probability the sink takes one)
TRAFFIC = (("steady", 1.0, 1.0), ("backpressure", 0.6, 0.5))
# Fixed per-row overhead on top of the cycle model (besides the q load, `beats`): pipeline fill
# and drain of phase 1 and of the completion, the start of the scan, the end-of-row beat.
OVERHEAD_CYCLES = 12


def load_design(design_dir: str | Path) -> tuple[LatteConfig, dict]:
    design_dir = Path(design_dir)
    manifest_path = design_dir / "latte_score_engine.json"
    if not manifest_path.is_file():
        raise UserError(f"{design_dir} is not a generated design (no latte_score_engine.json): run "
                        f"`latte-rtl generate -o {design_dir}` first")
    try:
        manifest = json.loads(manifest_path.read_text())
        return LatteConfig(**manifest["params"]), manifest
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{manifest_path} is not a valid manifest ({exc}): regenerate the design") from None


def cycle_bound(cfg: LatteConfig, n_keys: int, kept) -> np.ndarray:
    """Cycles a row may take: 1.15 × the model, plus the fixed q-load and pipeline overhead."""
    return np.floor(1.15 * cfg.ideal_cycles(n_keys, np.asarray(kept))) + cfg.beats + OVERHEAD_CYCLES


def run_regression(design_dir: str | Path, *, sims=("icarus", "verilator"), tops=ENGINE_TOPS, seed: int = 1,
                   rows: int = 6, keys: int | None = None, waves: bool = False, log=print) -> dict:
    """Run the regression; returns a report dict. Raises AssertionError on any mismatch."""
    design_dir = Path(design_dir).resolve()
    cfg, _ = load_design(design_dir)
    work = design_dir / "sim_build"
    stim_dir = work / f"stimulus_seed{seed}"
    cases = regression_cases(cfg, seed, rows=rows, keys=keys)
    stimuli = write_cases(cases, stim_dir)
    log(f"regression of {design_dir} with seed {seed}: {len(stimuli)} cases ({', '.join(cases)})")
    report = {"seed": seed, "config": cfg.params(), "runs": []}
    for sim in sims:
        for top in tops:
            for traffic, valid_prob, ready_prob in TRAFFIC:
                results = [stim_dir / f"{p.stem}.{sim}.{top}.{traffic}.result.npz" for p in stimuli]
                simulate(design_dir, stimuli, results, top=top, sim=sim, seed=seed, valid_prob=valid_prob,
                         ready_prob=ready_prob, waves=waves, work_dir=work)
                run = {"sim": sim, "top": top, "traffic": traffic, "status": "pass"}
                if top == "latte_score_engine" and traffic == "steady":
                    run.update(_cycle_report(cfg, stimuli, results))
                report["runs"].append(run)
                extra = f", cycles measured/ideal = {run['cycle_ratio']:.3f}" if "cycle_ratio" in run else ""
                log(f"  {sim:9s} {top:20s} {traffic:12s} pass{extra}")
    return report


def _cycle_report(cfg: LatteConfig, stimuli: list[Path], results: list[Path]) -> dict:
    measured = ideal = 0
    worst = 0.0
    for stim, res in zip(stimuli, results):
        inp = load_qk(stim, cfg)
        out = np.load(res)
        gold = score_rows(inp.q, inp.k, inp.heads, inp.thresholds, cfg)
        bound = cycle_bound(cfg, inp.n_keys, gold.kept.sum(axis=1))
        if np.any(out["cycles"] > bound):
            r = int(np.argmax(out["cycles"] - bound))
            raise AssertionError(f"{stim.stem} row {r}: {out['cycles'][r]} cycles, over the bound {bound[r]:.0f} "
                                 f"(1.15 × model {gold.cycles[r]} + overhead)")
        measured += int(out["cycles"].sum())
        ideal += int(gold.cycles.sum())
        worst = max(worst, float(np.max(out["cycles"] / gold.cycles)))
    return {"cycle_ratio": measured / ideal, "worst_row_ratio": worst}
