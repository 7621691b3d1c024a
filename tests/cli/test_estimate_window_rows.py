"""Issue 32 through the CLI: the results' `estimate` (E from its definition, computed here), row thresholds
from the input's `row_thresholds` [R] (refused in one line when missing or of the wrong shape), and
calibration keeping about the same fraction with either estimate."""

import json

import numpy as np
import pytest

from latte_rtl.cli.common import default_qk
from tests.cli_helpers import assert_user_error, run_cli

SEED = 20261206
COMMON = ["--dim", 8, "--lanes", 4, "--heads", 2, "--max-keys", 16]


def _input(path, **extra):
    rng = np.random.default_rng(SEED)
    print(f"seed={SEED}")
    arrays = dict(q=rng.integers(-128, 128, (6, 8)), k=rng.integers(-128, 128, (12, 8)), thresholds=np.array([0, 0]),
                  heads=np.array([0, 1, 0, 1, 0, 1]), key_limit=np.array([12, 3, 16, 7, 1, 12]))
    np.savez(path, **{**arrays, **extra})
    return arrays


def _centred(q, k):
    """E = 32·HH + 15·(Σ q_H + Σ k_H) for bits 8, m 4 (l = 4), written out from the definition."""
    q_h, k_h = np.floor_divide(q, 16), np.floor_divide(k, 16)
    return 32 * (q_h @ k_h.T) + 15 * (q_h.sum(axis=1)[:, None] + k_h.sum(axis=1)[None, :])


def test_golden_results_carry_the_centred_estimate_row_thresholds_and_window(tmp_path):
    row_t = np.array([0, 300, -5000, 5000, 0, 200])
    arrays = _input(tmp_path / "in.npz", row_thresholds=row_t)
    out = tmp_path / "g.npz"
    proc = run_cli("golden", *COMMON, "--estimate", "centred", "--threshold-mode", "absolute", "--row-thresholds",
                   "--window-keys", 2, "--qk", tmp_path / "in.npz", "-o", out)
    assert proc.returncode == 0, proc.stderr
    res = np.load(out)
    visible = np.arange(12)[None, :] < np.minimum(arrays["key_limit"], 12)[:, None]
    e = _centred(arrays["q"], arrays["k"])
    assert np.array_equal(res["estimate"][visible], e[visible])
    assert np.array_equal(res["hh"][visible], (np.floor_divide(arrays["q"], 16) @ np.floor_divide(arrays["k"], 16).T)
                          [visible])
    window = np.arange(12)[None, :] >= np.minimum(arrays["key_limit"], 12)[:, None] - 2
    assert np.array_equal(res["kept"], visible & ((e >= row_t[:, None]) | window))
    assert res["kept"][2].all() == visible[2].all() and not res["kept"][3][~window[3]].any()


@pytest.mark.parametrize("extra, words", [({}, ("row_thresholds", "[6]")),
                                          ({"row_thresholds": np.zeros(5, np.int64)}, ("row_thresholds", "[5]", "[6]")),
                                          ({"row_thresholds": np.full(6, 10 ** 7)}, ("row_thresholds[0]",))])
def test_row_thresholds_input_refused_in_one_line(tmp_path, extra, words):
    _input(tmp_path / "in.npz", **extra)
    proc = run_cli("golden", *COMMON, "--row-thresholds", "--qk", tmp_path / "in.npz", "-o", tmp_path / "g.npz")
    assert_user_error(proc, *words)
    assert not (tmp_path / "g.npz").exists()


@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_calibration_keeps_about_the_same_fraction_with_either_estimate(tmp_path, mode):
    """The embedded real dump (d = 64): --keep-ratio 0.2 keeps 0.2 ± 0.03 of the keys with HH and with the
    centred E (the thresholds are in each estimate's units)."""
    fractions = {}
    for estimate in ("hh", "centred"):
        out = tmp_path / f"{estimate}.json"
        proc = run_cli("calibrate", "--threshold-mode", mode, "--estimate", estimate, "--qk", default_qk(),
                       "--keep-ratio", 0.2, "-o", out)
        assert proc.returncode == 0, proc.stderr
        fractions[estimate] = json.loads(out.read_text())["kept_fraction_all"]
    print(fractions)
    assert all(abs(f - 0.2) < 0.03 for f in fractions.values())


def test_calibrate_and_activity_serve_a_row_thresholds_design(tmp_path):
    """calibrate gives per-head thresholds without needing `row_thresholds` in its input; the synthesis
    activity input of such a design gives each row its head's T."""
    from latte_rtl.config import LatteConfig
    from latte_rtl.synth.activity import activity_input

    _input(tmp_path / "in.npz")
    out = tmp_path / "t.json"
    proc = run_cli("calibrate", *COMMON, "--row-thresholds", "--qk", tmp_path / "in.npz", "--keep-ratio", 0.3,
                   "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(out.read_text())["thresholds"]) == 2
    cfg = LatteConfig.from_params(row_thresholds=True, estimate="centred")
    info = activity_input(cfg, tmp_path / "act.npz", rows_per_head=2, keep=0.2)
    arrays = np.load(tmp_path / "act.npz")
    assert np.array_equal(arrays["row_thresholds"], arrays["thresholds"][arrays["heads"]])
    assert 0.1 < info["kept"] / (info["rows"] * info["keys"]) < 0.3
