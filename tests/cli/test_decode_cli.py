"""The decode tops on the command line: parameters that apply only with --kv-memory axi, input files with the
KV-head mapping (docs/spec.md §6), `golden` on the decode tops, and every bad input refused in one line."""

import numpy as np
import pytest

from latte_rtl.golden.decode import decode_step
from tests.amaranth_helpers import SEED
from tests.cli_helpers import assert_user_error, run_cli
from tests.decode_helpers import decode_design

AXI = ("--kv-memory", "axi", "--group", "3", "--heads", "6", "--dim", "8", "--lanes", "8", "--max-keys", "64",
       "--kept-buffer", "16", "--axi-data-width", "64")
SPEC = decode_design(group=3, heads=6, dim=8, lanes=8, max_keys=64, kept_buffer=16, axi_data_width=64).decode_spec()


def gqa_file(path, rng, n=12, **changes):
    """6 query heads on 2 KV heads (kv_heads 0,0,0,1,1,1), one row each, rows in head order 5..0."""
    arrays = dict(q=rng.integers(-128, 128, (6, 8)), k=rng.integers(-128, 128, (2, n, 8)),
                  v=rng.integers(-128, 128, (2, n, 8)), thresholds=rng.integers(-20, 20, 6),
                  heads=np.arange(6)[::-1].copy(), kv_heads=np.array([0, 0, 0, 1, 1, 1]),
                  softmax_mult=rng.integers(500, 4000, 6), denominator_comp=rng.integers(0, 50, 6))
    arrays.update(changes)
    np.savez(path, **arrays)
    return arrays


def test_golden_groups_the_rows_of_a_kv_head(tmp_path):
    """Rows 3, 4, 5 (query heads 2, 1, 0) are KV head 0's step, rows 0, 1, 2 KV head 1's: each step equals
    golden.decode.decode_step on that KV head's k and v with its rows' registers, in row order."""
    rng = np.random.default_rng(SEED)
    print(f"seed={SEED}")
    a = gqa_file(tmp_path / "in.npz", rng)
    for top, engine in (("latte_decode_engine", "latte"), ("dense_decode_engine", "dense")):
        proc = run_cli("golden", *AXI, "--top", top, "--qk", tmp_path / "in.npz", "-o", tmp_path / "g.npz")
        assert proc.returncode == 0, proc.stderr
        got = np.load(tmp_path / "g.npz")
        for kv, rows in ((0, [3, 4, 5]), (1, [0, 1, 2])):
            h = a["heads"][rows]
            want = decode_step(SPEC, a["q"][rows], a["k"][kv], a["v"][kv], a["thresholds"][h], a["softmax_mult"][h],
                               a["denominator_comp"][h], engine=engine)
            assert (got["out"][rows] == want["out"]).all() and (got["kept"][rows] == want["kept"]).all()
            assert (got["overflow"][rows] == want["overflow"]).all()
            for plane in ("k_msb", "k_lsb", "v"):
                assert (got[f"bytes_read_{plane}"][rows] == want["bytes"][plane]).all()
            assert (got["bytes_read"][rows] == want["bytes"]["total"]).all()
        if engine == "dense":  # dense reads whole K and V rows of all 12 keys: 12 x (8 + 8 + 8) bytes
            assert (got["bytes_read"] == 12 * 24).all()


def test_an_old_file_loads_unchanged(tmp_path):
    """No kv_heads: each query head is its own KV head (group 1), k and v per head or shared."""
    rng = np.random.default_rng(SEED + 1)
    np.savez(tmp_path / "old.npz", q=rng.integers(-128, 128, (2, 8)), k=rng.integers(-128, 128, (20, 8)),
             v=rng.integers(-128, 128, (20, 8)), thresholds=np.array([0, 5]), heads=np.array([1, 0]),
             softmax_mult=np.array([1000, 2000]))
    proc = run_cli("golden", "--kv-memory", "axi", "--heads", "2", "--dim", "8", "--lanes", "8", "--qk",
                   tmp_path / "old.npz", "-o", tmp_path / "g.npz")
    assert proc.returncode == 0, proc.stderr
    assert np.load(tmp_path / "g.npz")["out"].shape == (2, 8)


@pytest.mark.parametrize("args, words", [
    (("generate", "--group", "3"), ("--group applies to --kv-memory axi only",)),
    (("generate", "--kept-buffer", "8"), ("--kept-buffer applies to --kv-memory axi only",)),
    (("generate", "--axi-outstanding", "4"), ("--axi-outstanding applies to --kv-memory axi only",)),
    (("generate", "--kv-memory", "axi", "--axi-outstanding", "257"), ("axi_outstanding=257 is out of range",)),
    (("generate", "--kv-memory", "axi", "--rows-in-flight", "1025"), ("rows_in_flight=1025 is out of range",)),
    (("generate", "--rows-in-flight", "64"), ("--rows-in-flight applies to --kv-memory axi only",)),
    (("generate", "--kv-memory", "axi", "--no-attention"), ("needs attention on",)),
    (("generate", "--kv-memory", "axi", "--axi-data-width", "96"), ("axi_data_width must be a power of two",)),
    (("generate", "--kv-memory", "axi", "--kept-buffer", "2048"), ("kept_buffer must be at most max_keys",)),
    (("generate", "--kv-memory", "axi", "--interface", "axis", "--axi-addr-width", "40"), ("axi_addr_width",)),
])
def test_bad_decode_parameters(tmp_path, args, words):
    proc = run_cli(*args, "-o", tmp_path / "d")
    assert_user_error(proc, *words)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("changes, top, words", [
    ({"kv_heads": np.array([0, 0, 0, 1, 1, 2])}, None, ("array 'kv_heads' holds 2", "0..1")),
    ({"kv_heads": np.array([0, 0, 1, 1])}, None, ("array 'kv_heads' has shape [4]",)),
    ({"kv_heads": np.array([0, 0, 1, 1, 1, 1])}, None, ("KV head 0 has 2 query rows", "multiple of 3")),
    ({"v": np.zeros((3, 12, 8), np.int64)}, None, ("array 'v' has shape [3, 12, 8]",)),
    ({"key_limit": np.full(6, 10)}, None, ("key_limit", "at least N = 12")),
    ({}, "dense_decode_engine", ("N = 20 keys must be at most kept_buffer = 16",)),
])
def test_bad_decode_inputs(tmp_path, changes, top, words):
    extra = ("--top", top) if top else ()
    gqa_file(tmp_path / "in.npz", np.random.default_rng(SEED), n=20 if top else 12, **changes)
    proc = run_cli("golden", *AXI, *extra, "--qk", tmp_path / "in.npz", "-o", tmp_path / "g.npz")
    assert_user_error(proc, *words)
    assert not (tmp_path / "g.npz").exists()


@pytest.mark.parametrize("option", [("--mem-queue", "32"), ("--mem-latency", "10")])
def test_memory_model_options_need_the_native_engine(tmp_path, option):
    """cocotb's memory is AxiRamRead: the native model's options are refused with it, not ignored."""
    rng = np.random.default_rng(SEED)
    gqa_file(tmp_path / "in.npz", rng)
    assert run_cli("generate", *AXI, "-o", tmp_path / "d").returncode == 0
    assert_user_error(run_cli("run", tmp_path / "d", "--qk", tmp_path / "in.npz", "--engine", "cocotb", *option, "-o",
                              tmp_path / "r.npz"), "apply to --engine native only")
    assert not (tmp_path / "r.npz").exists()


@pytest.mark.parametrize("args, words", [
    (("--workload", "lm", "--kept", "8"), ("--kept applies to --workload smollm2 for a decode design",)),
    (("--workload", "smollm2", "--kept", "8"), ("--kept calibrates a decode design's thresholds",)),
    (("--workload", "smollm2", "--layer", "2", "--all-layers"), ("--layer and --all-layers exclude each other",)),
])
def test_dump_kept_is_for_a_decode_design(tmp_path, args, words):
    """dump --kept calibrates a decode design's thresholds: refused elsewhere in one line, before any work."""
    assert_user_error(run_cli("dump", *args, "-o", tmp_path / "d.npz"), *words)
    assert not (tmp_path / "d.npz").exists()
