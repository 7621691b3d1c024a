"""The regression of a generated design: every registered top, every simulator, every case, with and
without backpressure, through cocotb (or the native engine: the Verilator harness, cycle-exact with
cocotb). Used by `latte-rtl sim`, by `flow` (native) and by the pytest sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latte_rtl.config import LatteConfig
from latte_rtl.design import load_design
from latte_rtl.errors import UserError
from latte_rtl.golden.cycles import CYCLE_SLACK, score_cycle_bound
from latte_rtl.npzio import load_qk
from latte_rtl.tops import get_top

from .runner import simulate
from .stimulus import write_cases

# (name, fraction of cycles a source offers a beat, fraction a sink takes one)
TRAFFIC = (("steady", 1.0, 1.0), ("backpressure", 0.6, 0.5))


def cycle_bound(cfg: LatteConfig, model_cycles) -> np.ndarray:
    """Cycles a row may take (golden.cycles.score_cycle_bound)."""
    return score_cycle_bound(cfg.score.beats, np.asarray(model_cycles), cfg.score.rounds)


def run_regression(design_dir: str | Path, *, sims=("icarus", "verilator"), tops=None, seed: int = 1,
                   rows: int = 6, keys: int | None = None, waves: bool = False, native: bool = False,
                   log=print) -> dict:
    """Run the regression; returns a report dict. Raises AssertionError on any mismatch. `native`: the
    native engine instead of cocotb (Verilator only, no waves; its harness builds serve `run` after)."""
    design_dir = Path(design_dir).resolve()
    cfg, manifest = load_design(design_dir)
    tops = list(manifest["tops"]) if tops is None else list(tops)
    work = design_dir / "sim_build"
    stim_dir = work / f"stimulus_seed{seed}"
    cases = cfg.bus.regression_cases(cfg, seed, rows=rows, keys=keys)
    stimuli = write_cases(cases, stim_dir)
    log(f"regression of {design_dir} with seed {seed}: {len(stimuli)} cases ({', '.join(cases)})")
    report = {"seed": seed, "config": cfg.params(), "runs": []}
    for sim in sims:
        for top in tops:
            taken = [p for p in stimuli if not refused(cfg, top, p)]
            for traffic, valid_prob, ready_prob in TRAFFIC:
                results = [stim_dir / f"{p.stem}.{sim}.{top}.{traffic}.result.npz" for p in taken]
                info = _simulate(design_dir, taken, results, top=top, sim=sim, seed=seed, valid_prob=valid_prob,
                                 ready_prob=ready_prob, waves=waves, native=native)
                run = {"sim": sim, "top": top, "traffic": traffic, "status": "pass"}
                if info["waves"]:
                    run["waves"] = str(keep_waves(info["waves"], work / "waves", f"{top}.{sim}.{traffic}"))
                if traffic == "steady" and cfg.bus.model_cycles:  # else: the scoreboard checks cycles
                    run.update(cycle_report(cfg, top, taken, results))
                report["runs"].append(run)
                extra = f", cycles measured/model = {run['cycle_ratio']:.3f}" if "cycle_ratio" in run else ""
                if "interval_ratio" in run:
                    extra += f", interval measured/model = {run['interval_ratio']:.3f}"
                log(f"  {sim:9s} {top:20s} {traffic:12s} pass{extra}")
    return report


def _simulate(design_dir: Path, stimuli, results, *, sim: str, waves: bool, native: bool, **kwargs) -> dict:
    """runner.simulate, or sim.native.simulate_native when `native` (Verilator only)."""
    if not native:
        return simulate(design_dir, stimuli, results, sim=sim, waves=waves, **kwargs)
    if sim != "verilator" or waves:
        raise ValueError(f"the native engine runs Verilator without waves, not {sim!r} (waves {waves})")
    from .native import simulate_native

    return {**simulate_native(design_dir, stimuli, results, **kwargs), "waves": None}


def refused(cfg: LatteConfig, top: str, stimulus: Path) -> bool:
    """A case the top refuses (its `check_input`: the dense decode top, more keys than its buffer holds)."""
    check = get_top(top).check_input
    if check is None:
        return False
    try:
        check(load_qk(stimulus, cfg.score), cfg)
    except UserError:
        return True
    return False


def keep_waves(wave_file: Path, directory: Path, stem: str) -> Path:
    """Move a simulation's waveform to directory/<stem>.<fst|vcd> (one file per run)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{stem}{wave_file.suffix}"
    wave_file.replace(target)
    return target


def cycle_report(cfg: LatteConfig, top: str, stimuli: list[Path], results: list[Path]) -> dict:
    """Measured cycles against the top's model: every row's latency and, for tops whose rows overlap,
    the running sum of the intervals between completions (each row's completion since the stream
    began: single intervals jitter as rows bunch up behind a busy stage) within `cycle_bound`; the ratios."""
    sums = {"cycles": [0, 0], "interval": [0, 0]}
    worst = 0.0
    for stim, res in zip(stimuli, results, strict=True):
        inp = load_qk(stim, cfg.score)
        out = np.load(res)
        expected = get_top(top).expected(inp, cfg)
        for key in [k for k in sums if k in expected]:
            got, want = out[key], expected[key]
            if key == "interval":
                got, want = np.cumsum(got), np.cumsum(want)
            bound = cycle_bound(cfg, want)
            if np.any(got > bound):
                r = int(np.argmax(got - bound))
                raise AssertionError(f"{top} {stim.stem} row {r}: {key} {got[r]}, over the bound "
                                     f"{bound[r]:.0f} ({CYCLE_SLACK} × model {want[r]} + overhead)")
            sums[key][0] += int(out[key].sum())
            sums[key][1] += int(expected[key].sum())
            if key == "cycles":
                worst = max(worst, float(np.max(got / want)))
    report = {"cycle_ratio": sums["cycles"][0] / sums["cycles"][1], "worst_row_ratio": worst}
    if sums["interval"][1]:
        report["interval_ratio"] = sums["interval"][0] / sums["interval"][1]
        report["overlap"] = sums["cycles"][0] / sums["interval"][0]  # Σ latency / Σ interval: > 1 when rows overlap
    return report
