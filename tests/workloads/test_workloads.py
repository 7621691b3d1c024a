"""Workloads: NumPy inference vs torch, attention modes, calibration, dumps, evaluate, CLI errors."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latte_rtl.config import ScoreConfig
from latte_rtl.golden import score_rows, split
from latte_rtl.npzio import load_qk
from latte_rtl.workloads.attention import Attention
from latte_rtl.workloads.dump import calibrate, dump_qk
from latte_rtl.workloads.evaluate import DATA, evaluate, gamma_to_threshold, load_model
from latte_rtl.workloads.numpy_model import forward

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["lm", "vision"])
def test_numpy_inference_matches_stored_torch_logits(name):
    """training/reference_logits.py stored torch's logits of the shipped weights on fixed inputs."""
    ref = np.load(DATA / "torch_reference.npz")
    spec, params, _ = load_model(name)
    att = Attention("float", spec.n_layers, spec.n_heads, spec.head_dim)
    logits = forward(spec, params, ref[f"{name}_inputs"], att)
    assert np.abs(logits - ref[f"{name}_logits"]).max() < 1e-3


@pytest.mark.parametrize("name", ["lm", "vision"])
def test_numpy_inference_matches_live_torch(name):
    torch = pytest.importorskip("torch", reason="torch not installed (pip install torch==2.13.0): stored "
                                                "reference logits are checked instead")
    sys.path[:0] = [str(ROOT / "training")]
    from model_torch import Transformer

    spec, params, _ = load_model(name)
    model = Transformer(spec)
    with torch.no_grad():
        for k, v in model.p.items():
            v.copy_(torch.from_numpy(params[k]))
        x = np.random.default_rng(3).integers(0, 256 if name == "lm" else 17, (2, spec.seq))
        want = model(torch.from_numpy(x)).numpy()
    got = forward(spec, params, x, Attention("float", spec.n_layers, spec.n_heads, spec.head_dim))
    assert np.abs(got - want).max() < 1e-3


def _qkv(seed=0, b=2, h=2, s=12, d=64):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(b, h, s, d)).astype(np.float32) for _ in range(3))


def test_latte_keep_all_equals_int8_and_tight_keeps_only_the_max():
    q, k, v = _qkv()
    scales = np.full((1, 2, 2), 0.03)
    allowed = np.tril(np.ones((12, 12), bool))
    int8 = Attention("int8", 1, 2, 64, scales=scales)
    max_t = ScoreConfig(dim=64).widths.threshold_range[1]
    keep_all = Attention("latte", 1, 2, 64, scales=scales, thresholds=np.full((1, 2), max_t))
    assert np.allclose(keep_all(0, q, k, v, allowed), int8(0, q, k, v, allowed), atol=1e-6)
    assert keep_all.keys_filtered == 0.0
    only_max = Attention("latte", 1, 2, 64, scales=scales, thresholds=np.zeros((1, 2), np.int64))
    out = only_max(0, q, k, v, allowed)
    # T = 0 keeps the keys whose estimate equals the row max: the output is their mean value
    qi = np.clip(np.rint(q / 0.03), -127, 127).astype(np.int64)
    ki = np.clip(np.rint(k / 0.03), -127, 127).astype(np.int64)
    hh = np.einsum("bhsd,bhtd->bhst", split(qi, 8, 4)[0], split(ki, 8, 4)[0])
    hh = np.where(allowed, hh, -10**9)
    keep = hh == hh.max(-1, keepdims=True)
    exact = np.einsum("bhsd,bhtd->bhst", qi, ki) * 0.03 * 0.03 / 8
    s = np.where(keep, exact, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    assert np.allclose(out, (p / p.sum(-1, keepdims=True)) @ v, atol=1e-5)
    assert only_max.kept.sum() == keep.sum()


def test_gamma_conversion_by_hand():
    # γ = e^-1, d = 64, S_q S_k = 1/256: T = round(1 * 8 / (1/256 * 256)) = 8
    assert gamma_to_threshold(math.exp(-1), 1 / 16, 1 / 16, 64) == 8


def test_dump_is_valid_input_and_calibration_hits_its_target(tmp_path):
    arrays = dump_qk("lm", layer=1, rows=8, keys=96)
    cfg = ScoreConfig(dim=64, heads=4, max_keys=96)
    assert arrays["k"].shape == (4, 96, 64) and arrays["q"].shape == (32, 64)
    path = tmp_path / "dump.npz"
    np.savez(path, **arrays)
    inp = load_qk(path, cfg)
    _, _, meta = load_model("lm")
    assert inp.thresholds.tolist() == meta["trained_thresholds"]["values"][1]
    for keep in (0.1, 0.3):
        res = calibrate(inp, cfg, keep=keep)
        assert abs(res["kept_fraction_all"] - keep) < 0.05, res
    res = calibrate(inp, cfg, gamma=0.05)
    assert all(t >= 0 for t in res["thresholds"])


@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_calibrate_kept_count_keeps_about_k_per_row(tmp_path, mode):
    """calibrate --kept K on a causal dump (key_limit per row): about K keys per row, each row's T from
    its (head, length bucket), rows that see ≤ K keys whole; the centred estimate likewise."""
    from latte_rtl.workloads.dump import calibrate_kept

    arrays = dump_qk("lm", layer=1, rows=8, keys=96)
    rows = arrays["q"].shape[0]
    arrays["key_limit"] = np.tile(np.linspace(8, 96, 8).astype(np.int64), rows // 8)
    path = tmp_path / "dump.npz"
    np.savez(path, **arrays)
    for estimate in ("hh", "centred"):
        cfg = ScoreConfig(dim=64, heads=4, max_keys=96, threshold_mode=mode, estimate=estimate)
        inp = load_qk(path, cfg)
        res = calibrate_kept(inp, cfg, 12)
        t = np.array(res["row_thresholds"])
        kept = score_rows(inp.q, inp.k, inp.heads, inp.thresholds, cfg, key_mask=inp.key_mask, row_thresholds=t).kept
        long_rows = inp.key_limit > 12
        assert (kept[~long_rows].sum(1) == inp.key_limit[~long_rows]).all()  # whole
        assert 6 < kept[long_rows].sum(1).mean() < 24, (mode, estimate, kept[long_rows].sum(1))
        b = np.floor(2 * np.log2(inp.key_limit)).astype(int)
        assert (t[long_rows] == np.array(res["bucket_thresholds"])[inp.heads, b][long_rows]).all()


def test_evaluate_small_slice():
    result = evaluate("vision", limit=48, calib_limit=32, curve=False, log=lambda *_: None)
    assert {"keys_filtered", "baseline", "latte", "metric", "rows"} <= set(result)
    rows = {r["setting"].split(" (")[0]: r for r in result["rows"]}
    assert rows["float"]["keys_filtered"] == 0 and rows["int8 dense"]["keys_filtered"] == 0
    assert abs(rows["float"]["metric"] - rows["int8 dense"]["metric"]) <= 1 / 48 + 1e-9
    for label in ("LATTE global T", "LATTE calibrated head-wise T", "LATTE trained head-wise T",
                  "LATTE calibrated head-wise T, centred estimate"):
        assert 0.6 < rows[label]["keys_filtered"] < 0.99
    assert result["baseline"] > 0.85  # a trained classifier, not chance (0.1)
    lm = evaluate("lm", limit=2, calib_limit=2, curve=False, log=lambda *_: None)
    assert 1.5 < lm["baseline"] < 10 and lm["keys_filtered"] > 0.6


def test_evaluate_in_parallel_processes_gives_the_same_result():
    serial = evaluate("vision", limit=16, calib_limit=16, curve=False, log=lambda *_: None)
    parallel = evaluate("vision", limit=16, calib_limit=16, curve=False, log=lambda *_: None, jobs=2)
    assert parallel == serial and len(serial["rows"]) == 7


def test_evaluate_integer_pipeline_settings():
    """The §7 integer rows of `evaluate`: integer dense attention keeps every key and stays near
    int8 dense; the LATTE integer rows filter keys; C_h is calibrated and non-negative."""
    from latte_rtl.config import AttentionConfig
    from latte_rtl.workloads.evaluate import (
        calibrated_thresholds,
        hh_statistics,
        integer_calibration,
    )

    result = evaluate("vision", limit=32, calib_limit=16, curve=False, integer=AttentionConfig(), log=lambda *_: None)
    rows = {r["setting"]: r for r in result["rows"]}
    dense = next(r for s, r in rows.items() if s.startswith("integer dense"))
    latte = [r for s, r in rows.items() if s.startswith("LATTE + integer")]
    assert dense["keys_filtered"] == 0 and abs(dense["metric"] - result["baseline"]) <= 2 / 32 + 1e-9
    assert len(latte) == 4 and all(0.6 < r["keys_filtered"] < 0.99 and 0 <= r["metric"] <= 1 for r in latte)
    from latte_rtl.workloads.tasks import load_task

    task = load_task("vision", 1, 8)
    thresholds = calibrated_thresholds(hh_statistics(task, task.calib), 0.15, head_wise=False)
    v_scales, comp = integer_calibration(task, task.calib, thresholds, AttentionConfig())
    assert v_scales.shape == comp.shape == (task.n_layers, task.n_heads)
    assert (v_scales > 0).all() and (comp >= 0).all() and comp.any()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "latte_rtl.cli", *map(str, args)], capture_output=True, text=True)


def test_workload_cli(tmp_path):
    dump = tmp_path / "qk.npz"
    proc = _cli("dump", "--workload", "vision", "--layer", "0", "-o", dump)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "thr.json"
    small = ("--dim", "16", "--heads", "4", "--max-keys", "64")
    proc = _cli("calibrate", *small, "--qk", dump, "--keep-ratio", "0.2", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(out.read_text())["thresholds"]) == 4
    proc = _cli("calibrate", *small, "--estimate", "centred", "--qk", dump, "--kept", "8", "-o", out)
    assert proc.returncode == 0 and "keys per row" in proc.stdout, proc.stderr
    assert len(json.loads(out.read_text())["row_thresholds"]) == len(np.load(dump)["q"])
    for args, words in [
        (("evaluate", "--workload", "speech"), "speech"),
        (("calibrate", "--dim", "16", "--heads", "4", "--max-keys", "64", "--qk", dump, "-o", out), "exactly one"),
        (("calibrate", *small, "--qk", dump, "--keep-ratio", "0", "-o", out), "--keep-ratio"),
        (("dump", "--workload", "lm", "--layer", "7", "-o", dump), "--layer=7"),
        (("dump", "--workload", "lm", "--keys", "250", "--rows", "16", "-o", dump), "keys + rows"),
    ]:
        proc = _cli(*args)
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)


@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_calibrate_two_rounds_keeps_the_recall_of_one_round(tmp_path, mode):
    """calibrate --rounds 2 on the embedded lm dump: per head, the first round (x >> 6, worked here in plain
    NumPy) passes at least --round1-recall of the keys one round keeps; both rounds keep those minus at most
    the recall's share."""
    from tests.cli_helpers import run_cli

    out = tmp_path / "t.json"
    proc = run_cli("calibrate", "--qk", str(ROOT / "latte_rtl/data/default_qk.npz"), "--keep-ratio", "0.12",
                   "--dim", "64", "--heads", "4", "--max-keys", "192", "--threshold-mode", mode, "--rounds", "2",
                   "--round1-recall", "0.95", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    assert res["rounds"] == 2 and res["round1_msb_bits"] == 2 and len(res["round1_thresholds"]) == 4
    z = np.load(ROOT / "latte_rtl/data/default_qk.npz")
    q, k, heads = z["q"].astype(np.int64), z["k"].astype(np.int64), z["heads"]
    survived = 0
    for h in range(4):
        qh = q[heads == h]
        hh, e1 = (qh >> 4) @ (k[h] >> 4).T, (qh >> 6) @ (k[h] >> 6).T
        t, t1 = res["thresholds"][h], res["round1_thresholds"][h]
        if mode == "relative":
            one, first = hh >= hh.max(1, keepdims=True) - t, e1 >= e1.max(1, keepdims=True) - t1
        else:
            one, first = hh >= t, e1 >= t1
        assert (one & first).sum() >= 0.95 * one.sum(), h
        survived += first.sum()
    assert res["round1_survived_fraction_all"] == pytest.approx(survived / q.shape[0] / 192)
    assert res["one_round_kept_still_kept"] >= 0.95 - 1e-9
    assert "round 1 (2-bit) thresholds" in proc.stdout


def test_evaluate_two_rounds_adds_its_rows():
    result = evaluate("vision", limit=16, calib_limit=16, curve=False, log=lambda *_: None, round1_recall=0.99)
    rows = {r["setting"].split(" (")[0]: r for r in result["rows"]}
    one, two = rows["LATTE calibrated head-wise T"], rows["LATTE head-wise T, 2 rounds"]
    assert two["thresholds"] == one["thresholds"] and len(two["round1_thresholds"]) == len(one["thresholds"])
    assert two["keys_filtered"] <= one["keys_filtered"] + 0.02  # round 2 over the survivors keeps about as many
    assert 1 - one["keys_filtered"] < two["round1_survived"] < 1  # drops some; passes more than one round keeps
    assert "round1_survived" in rows["LATTE head-wise T, centred estimate, 2 rounds"]


def test_calibrate_two_rounds_on_each_rows_thresholds(tmp_path):
    """calibrate --kept K --rounds 2: T1 keeps the recall of what each row's own T keeps (row_thresholds)."""
    from latte_rtl.workloads.dump import calibrate_kept, calibrate_round1

    arrays = dump_qk("lm", layer=1, rows=8, keys=96)
    arrays["key_limit"] = np.tile(np.linspace(8, 96, 8).astype(np.int64), arrays["q"].shape[0] // 8)
    path = tmp_path / "dump.npz"
    np.savez(path, **arrays)
    cfg = ScoreConfig(dim=64, heads=4, max_keys=96)
    inp = load_qk(path, cfg)
    kept = calibrate_kept(inp, cfg, 12)
    rows = np.array(kept["row_thresholds"])
    res = calibrate_round1(inp, cfg, kept["thresholds"], 0.95, rows)
    one = score_rows(inp.q, inp.k, inp.heads, inp.thresholds, cfg, key_mask=inp.key_mask, row_thresholds=rows).kept
    two = score_rows(inp.q, inp.k, inp.heads, inp.thresholds, cfg, key_mask=inp.key_mask, row_thresholds=rows,
                     round1_thresholds=np.array(res["round1_thresholds"])).kept
    assert (one & two).sum() >= 0.95 * one.sum() and res["one_round_kept_still_kept"] == (one & two).sum() / one.sum()
    assert res["round1_survived_fraction_all"] < 1
