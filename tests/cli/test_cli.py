"""CLI behaviour: generate (deterministic), golden (hand-computed), and every user-error path."""

import json

import numpy as np
import pytest

from latte_rtl.commands import main
from tests.cli_helpers import assert_user_error, run_cli


def test_generate_is_deterministic(tmp_path):
    args = ["--dim", "12", "--lanes", "5", "--heads", "2", "--max-keys", "40"]
    assert main(["generate", *args, "-o", str(tmp_path / "a")]) == 0
    assert main(["generate", *args, "-o", str(tmp_path / "b")]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["dense_score_engine.v", "dense_score_engine.vh", "dense_score_engine_pkg.sv", "latte_design.core",
                     "latte_score_engine.v", "latte_score_engine.vh", "latte_score_engine_pkg.sv", "latte_sram.v",
                     "manifest.json"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["params"]["dim"] == 12 and manifest["derived"]["beats"] == 3
    ports = {p["name"]: p for p in manifest["tops"]["latte_score_engine"]["ports"]}
    assert ports["scores__payload"]["stream"]["role"] == "payload"
    assert [f["name"] for f in ports["rows__payload"]["fields"]] == ["summary.kept_count", "summary.max_estimate",
                                                                      "head", "cycles"]
    assert ports["query__payload"]["width"] == 5 * 8 + 1 + 6  # 5 lanes of 8 bits, 1-bit head, 6-bit key limit (0..40)


@pytest.mark.parametrize("args, words", [
    (["generate", "--dim", "0", "-o", "x"], ["dim=0", "1 ≤ dim ≤ 1024"]),
    (["generate", "--lanes", "65", "-o", "x"], ["lanes=65"]),
    (["generate", "--msb-bits", "8", "-o", "x"], ["msb_bits=8"]),
    (["generate", "--threshold-mode", "top", "-o", "x"], ["threshold-mode"]),
    (["generate", "--dim", "abc", "-o", "x"], ["--dim"]),
    (["frobnicate"], ["frobnicate"]),
])
def test_bad_parameters(args, words, tmp_path):
    proc = run_cli(*args)
    assert_user_error(proc, *words)
    assert not (tmp_path / "x").exists()


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


GOOD = dict(q=np.array([[17, -3]], np.int8), k=np.array([[2, 5], [-128, 100]], np.int8),
            thresholds=np.array([5]), heads=np.array([0]))


def test_golden_hand_computed(tmp_path):
    """Same example as test_golden.test_hand_computed_row, through the CLI and the file format."""
    src = _write(tmp_path / "in.npz", **GOOD)
    out = tmp_path / "out.npz"
    proc = run_cli("golden", "--dim", 2, "--lanes", 1, "--qk", src, "-o", out)
    assert proc.returncode == 0, proc.stderr
    res = np.load(out)
    assert res["hh"].tolist() == [[0, -14]]
    assert res["kept"].tolist() == [[True, False]]
    assert res["scores"].tolist() == [[19, 0]]
    assert res["scores"].dtype == np.int64 and res["kept"].dtype == bool
    assert json.loads(str(res["config"]))["params"]["dim"] == 2


@pytest.mark.parametrize("arrays, words", [
    (dict(GOOD, q=GOOD["q"].astype(np.float32)), ["'q'", "float32", "signed integer"]),
    (dict(GOOD, q=GOOD["q"].astype(np.uint8)), ["'q'", "uint8"]),
    (dict(GOOD, q=np.zeros((1, 3), np.int8)), ["'q'", "[1, 3]", "[R, 2]"]),
    (dict(GOOD, k=np.zeros((2,), np.int8)), ["'k'", "[N, 2]"]),
    (dict(GOOD, q=np.array([[200, 0]], np.int16)), ["'q'", "200", "[-128, 127]"]),
    (dict(GOOD, thresholds=np.array([99999])), ["thresholds[0]=99999", "0 ≤ T ≤ 256"]),
    (dict(GOOD, thresholds=np.array([1.5])), ["'thresholds'", "float64"]),
    (dict(GOOD, heads=np.array([1])), ["'heads'", "0..0"]),
    (dict(GOOD, heads=np.array([0, 0])), ["'heads'", "[2]"]),
    ({k: v for k, v in GOOD.items() if k != "thresholds"}, ["no array 'thresholds'"]),
])
def test_golden_bad_input_file(arrays, words, tmp_path):
    src = _write(tmp_path / "in.npz", **arrays)
    out = tmp_path / "out.npz"
    out.write_bytes(b"precious")
    proc = run_cli("golden", "--dim", 2, "--lanes", 1, "--qk", src, "-o", out)
    assert_user_error(proc, *words)
    assert out.read_bytes() == b"precious"  # never overwritten by a failed run
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_golden_missing_and_corrupt_files(tmp_path):
    assert_user_error(run_cli("golden", "--qk", tmp_path / "nope.npz", "-o", tmp_path / "o.npz"), "does not exist")
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    assert_user_error(run_cli("golden", "--qk", bad, "-o", tmp_path / "o.npz"), "not a readable .npz")
    src = _write(tmp_path / "in.npz", **GOOD)
    assert_user_error(run_cli("golden", "--dim", 2, "--lanes", 1, "--qk", src, "-o", tmp_path / "no" / "o.npz"),
                      "does not exist")
    assert not (tmp_path / "o.npz").exists()


def test_too_many_keys_for_the_design(tmp_path):
    src = _write(tmp_path / "in.npz", **dict(GOOD, k=np.zeros((9, 2), np.int8)))
    proc = run_cli("golden", "--dim", 2, "--lanes", 1, "--max-keys", 8, "--qk", src, "-o", tmp_path / "o.npz")
    assert_user_error(proc, "9 keys", "max_keys = 8")


def test_sim_and_run_on_a_missing_design(tmp_path):
    assert_user_error(run_cli("sim", tmp_path / "nothing"), "latte-rtl generate")
    src = _write(tmp_path / "in.npz", **GOOD)
    assert_user_error(run_cli("run", tmp_path / "nothing", "--qk", src, "-o", tmp_path / "o.npz"), "latte-rtl generate")
    assert_user_error(run_cli("sim", tmp_path / "nothing", "--sim", "modelsim"), "modelsim")
