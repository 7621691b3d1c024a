"""Every failure path a newcomer hit on purpose (issue 11): one line `latte-rtl: error: …`, exit 2,
nothing clobbered or half-written; integrity of generated designs; waves; the build cache."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from latte_rtl.config import LatteConfig
from latte_rtl.design import generate
from tests.cli_helpers import assert_user_error, run_cli
from tests.conftest import require_simulator

SEED = 11


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    """A small generated design (d = 8, 4 lanes, 16 keys) shared by the tests of this module."""
    path = tmp_path_factory.mktemp("design")
    generate(LatteConfig.from_params(dim=8, lanes=4, heads=2, max_keys=16), path)
    return path


@pytest.fixture
def qk(tmp_path):
    rng = np.random.default_rng(SEED)
    print(f"seed={SEED}")
    path = tmp_path / "in.npz"
    np.savez(path, q=rng.integers(-128, 128, (3, 8), dtype=np.int8), k=rng.integers(-128, 128, (10, 8), dtype=np.int8),
             thresholds=np.array([40, 80]), heads=np.array([0, 1, 0]))
    return path


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("latte-rtl ") and proc.stdout.split()[1][0].isdigit()


def test_plain_npy_input_is_a_user_error(tmp_path, design):
    npy = tmp_path / "plain.npy"
    np.save(npy, np.zeros((2, 2), np.int8))
    assert_user_error(run_cli("golden", "--dim", 2, "--lanes", 1, "--qk", npy, "-o", tmp_path / "o.npz"), ".npy")
    assert_user_error(run_cli("run", design, "--qk", npy, "-o", tmp_path / "o.npz"), ".npy")


@pytest.mark.parametrize("command", ["golden", "run"])
def test_unwritable_output_fails_before_any_work(command, tmp_path, design, qk):
    """/proc takes no new files, even as root; `run` refuses before it simulates."""
    args = ["--dim", 8, "--lanes", 4, "--heads", 2] if command == "golden" else [design]
    start = time.perf_counter()
    proc = run_cli(command, *args, "--qk", qk, "-o", "/proc/latte-result.npz")
    assert_user_error(proc, "cannot write")
    assert time.perf_counter() - start < 20  # no simulation ran


def test_output_that_is_a_directory_or_a_file(tmp_path, qk):
    assert_user_error(run_cli("golden", "--dim", 8, "--lanes", 4, "--heads", 2, "--qk", qk, "-o", tmp_path),
                      "is a directory")
    existing = tmp_path / "existing"
    existing.write_bytes(b"precious")
    assert_user_error(run_cli("generate", "--dim", 8, "--lanes", 4, "-o", existing), "is an existing file")
    assert existing.read_bytes() == b"precious"


@pytest.mark.parametrize("rows", ["0", "-3", "x"])
def test_sim_rows_must_be_positive(rows, design):
    assert_user_error(run_cli("sim", design, "--rows", rows), "--rows must be an integer ≥ 1")


@pytest.mark.parametrize("args, words", [
    (["--lanes", "-1"], ["lanes=-1"]),
    (["--bits", "3,8"], ["bits=3"]),
    (["--lanes", "128", "--dim", "64"], ["lanes=128", "dim = 64"]),
    (["--threshold-mode", "foo"], ["threshold_mode", "'foo'"]),
    (["--keep-ratio", "2"], ["--keep-ratio", "0 ≤ R ≤ 1"]),
    (["--keep-ratio", "-0.1"], ["--keep-ratio"]),
    (["--jobs", "0"], ["--jobs must be an integer ≥ 1"]),
])
def test_sweep_grid_and_options_are_checked_before_any_work(args, words, tmp_path):
    out = tmp_path / "sweep"
    assert_user_error(run_cli("sweep", *args, "-o", out), *words)
    assert not out.exists()


@pytest.mark.parametrize("args, words", [(["--jobs", "0"], ["--jobs"]), (["--keep-ratio", "1.5"], ["--keep-ratio"])])
def test_synth_options_are_checked(args, words, design):
    assert_user_error(run_cli("synth", design, *args), *words)


def test_options_that_do_not_apply_are_rejected(tmp_path, design, qk):
    assert_user_error(run_cli("golden", "--design", design, "--bits", 4, "--qk", qk, "-o", tmp_path / "o.npz"),
                      "--bits cannot be combined with --design")
    assert_user_error(run_cli("run", design, "--bits", 4, "-o", tmp_path / "o.npz"), "--bits")


def _copy_design(design, tmp_path):
    import shutil

    copy = tmp_path / "design"
    shutil.copytree(design, copy, ignore=shutil.ignore_patterns("sim_build"))
    return copy


def test_tampered_verilog_is_refused(tmp_path, design, qk):
    copy = _copy_design(design, tmp_path)
    with open(copy / "latte_score_engine.v", "a") as f:
        f.write("// one appended line\n")
    for command in (["run", copy, "--qk", qk, "-o", tmp_path / "o.npz"], ["sim", copy], ["synth", copy]):
        assert_user_error(run_cli(*command), "latte_score_engine.v", "differs from the SHA-256 in its manifest",
                          "--allow-modified")


def test_thresholds_json_from_calibrate(tmp_path, qk):
    """`golden --thresholds` takes the file `calibrate` writes and uses its thresholds."""
    common = ["--dim", 8, "--lanes", 4, "--heads", 2]
    thresholds = tmp_path / "t.json"
    assert run_cli("calibrate", *common, "--qk", qk, "--keep-ratio", 1.0, "-o", thresholds).returncode == 0
    t = json.loads(thresholds.read_text())["thresholds"]
    proc = run_cli("golden", *common, "--qk", qk, "--thresholds", thresholds, "-o", tmp_path / "a.npz")
    assert proc.returncode == 0, proc.stderr
    with np.load(qk) as npz:
        np.savez(tmp_path / "same.npz", **{**dict(npz), "thresholds": np.array(t)})
    assert run_cli("golden", *common, "--qk", tmp_path / "same.npz", "-o", tmp_path / "b.npz").returncode == 0
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert np.array_equal(a["kept"], b["kept"]) and a["kept"].all()  # keep 1.0: every key
    bad = tmp_path / "bad.json"
    bad.write_text('{"thresholds": [1.5]}')
    assert_user_error(run_cli("golden", *common, "--qk", qk, "--thresholds", bad, "-o", tmp_path / "c.npz"),
                      "list of integers")


def test_broken_verilog_keeps_its_build_log(tmp_path, design, qk):
    require_simulator("icarus")
    copy = _copy_design(design, tmp_path)
    with open(copy / "latte_score_engine.v", "a") as f:
        f.write("this is not verilog;\n")
    proc = run_cli("run", copy, "--qk", qk, "-o", tmp_path / "o.npz", "--sim", "icarus", "--allow-modified")
    lines = proc.stderr.strip().splitlines()  # the --allow-modified warning, then the error
    assert proc.returncode == 2 and len(lines) == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[1].startswith("latte-rtl: error: icarus could not build latte_score_engine: see ")
    assert "Verilator" not in proc.stderr and "C++" not in proc.stderr
    log = lines[1].split("see ")[-1].strip()
    assert "syntax error" in open(log).read()


@pytest.mark.parametrize("engine", [["--sim", "icarus"], ["--engine", "native"]], ids=["cocotb", "native"])
def test_wrong_result_names_row_key_field_and_keeps_the_output(tmp_path, design, qk, engine):
    """A sabotaged memory (bit 0 of lane 0 flipped on every write): exit 1, the message names row,
    key and field; the existing -o file is untouched and the RTL's result lies beside it."""
    require_simulator("icarus" if "icarus" in engine else "verilator")
    copy = _copy_design(design, tmp_path)
    sram = copy / "latte_sram.v"
    good = "<= wdata[lane*GRAN +: GRAN];"
    assert good in sram.read_text()
    sram.write_text(sram.read_text().replace(good, "<= wdata[lane*GRAN +: GRAN] ^ (lane == 0);"))
    out = tmp_path / "o.npz"
    out.write_bytes(b"precious")
    proc = run_cli("run", copy, "--qk", qk, "-o", out, *engine, "--allow-modified")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = [x for x in proc.stderr.splitlines() if "disagree" in x][0]
    assert "row " in line and " key " in line and ("score" in line or "HH" in line or "kept" in line), line
    assert out.read_bytes() == b"precious"
    assert np.load(tmp_path / "o.mismatch.npz")["kept"].shape == (3, 10)


def test_waves_and_build_cache(tmp_path, design, qk):
    """`run --waves FILE` keeps one waveform; a second run reuses the compiled model; `sim --waves`
    keeps one file per (top, simulator, traffic)."""
    require_simulator("icarus")
    copy = _copy_design(design, tmp_path)
    cli = [sys.executable, "-m", "latte_rtl.cli", "run", str(copy), "--qk", str(qk), "--sim", "icarus"]
    wave = tmp_path / "run.fst"
    assert_user_error(run_cli("run", copy, "--qk", qk, "-o", tmp_path / "a.npz", "--sim", "icarus",
                              "--waves", tmp_path / "run.vcd"), ".fst")
    times, outs = [], []
    for name in ("a", "b"):
        start = time.perf_counter()
        proc = subprocess.run([*cli, "-o", str(tmp_path / f"{name}.npz"), "--waves", str(wave)],
                              capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        outs.append(proc.stdout)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(cached model)" not in outs[0] and "(cached model)" in outs[1]
    print(f"run: first {times[0]:.1f} s (build), second {times[1]:.1f} s (cached model)")
    assert wave.stat().st_size > 0
    proc = run_cli("sim", copy, "--sim", "icarus", "--rows", 1, "--waves")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    waves = sorted(p.name for p in (copy / "sim_build" / "waves").iterdir())
    assert waves == sorted(f"{top}.icarus.{traffic}.fst" for top in ("latte_score_engine", "dense_score_engine")
                           for traffic in ("steady", "backpressure"))


def test_fpga_fit_is_a_result_not_an_error():
    from latte_rtl.synth.flows import fit
    from latte_rtl.synth.report import format_pair

    assert fit("ice40", {"SB_LUT4": 4491, "SB_MAC16": 16}) == "does not fit iCE40 UP5K: needs 16 of 8 DSPs"
    assert fit("ice40", {"SB_LUT4": 5281}) == "does not fit iCE40 UP5K: needs 5281 of 5280 logic cells"
    assert fit("ecp5", {"LUT4": 1000, "MULT18X18D": 16}) is None
    from latte_rtl.synth.flows import placement_fit

    log = ("Info: Device utilisation:\nInfo: \t         ICESTORM_LC:    5947/   5280   112%\n"
           "Info: \t  ICESTORM_DSP:  0/  8  0%\n")
    assert placement_fit("ice40", log) == "does not fit iCE40 UP5K: needs 5947 of 5280 ICESTORM_LC"
    assert placement_fit("ice40", "ERROR: timing") is None
    report = {"tops": {"latte_score_engine": {"ice40": {"luts": 10, "fits": True, "fmax_mhz": 50.0}},
                       "dense_score_engine": {"ice40": {"luts": 20, "fits": False, "fmax_mhz": None,
                                                        "fit": "does not fit iCE40 UP5K: needs 16 of 8 DSPs"}}},
              "memory_bits": {}}
    comp = {"top": "latte_score_engine", "baseline": "dense_score_engine", "keep_ratio": 0.1,
            "keys_per_cycle": {"top": 0.2, "baseline": 0.25}}
    rows = format_pair(report, comp)
    assert ("ice40: dense", "does not fit iCE40 UP5K: needs 16 of 8 DSPs", "", "") in rows


def test_attention_options_apply_only_where_they_mean_something(tmp_path):
    """A newcomer's findings: softmax options need --attention, --log-levels needs log2; the
    default L does not constrain a linear B < 7; --comp needs the attention tops."""
    common = ["--dim", 8, "--lanes", 4, "--heads", 2, "--max-keys", 16]
    assert_user_error(run_cli("generate", *common, "--vmean", "-o", tmp_path / "a"), "--vmean", "--attention")
    assert_user_error(run_cli("generate", *common, "--attention", "--log-levels", 3, "-o", tmp_path / "b"),
                      "--log-levels", "log2")
    proc = run_cli("generate", *common, "--attention", "--prob-bits", 4, "--exp-bits", 6, "-o", tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    rng = np.random.default_rng(SEED)
    src = tmp_path / "in.npz"
    np.savez(src, q=rng.integers(-128, 128, (6, 8), dtype=np.int8), k=rng.integers(-128, 128, (12, 8), dtype=np.int8),
             v=rng.integers(-128, 128, (12, 8), dtype=np.int8), thresholds=np.array([60, 60]),
             heads=np.array([0, 1, 0, 1, 0, 1]), softmax_mult=np.array([40, 50]),
             key_limit=np.array([12, 3, 16, 7, 1, 12]))
    assert_user_error(run_cli("calibrate", *common, "--qk", src, "--keep-ratio", 0.3, "--comp", "-o",
                              tmp_path / "t.json"), "--comp", "--attention")
    # calibrate sees the keys each row may see (key_limit, up to max_keys = 16), as golden does
    t = tmp_path / "t.json"
    proc = run_cli("calibrate", "--design", tmp_path / "c", "--qk", src, "--keep-ratio", 0.3, "--comp", "-o", t)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("golden", "--design", tmp_path / "c", "--qk", src, "--thresholds", t, "-o", tmp_path / "g.npz")
    assert proc.returncode == 0, proc.stderr
    kept = np.load(tmp_path / "g.npz")["kept"]
    visible = np.arange(12)[None, :] < np.minimum([12, 3, 16, 7, 1, 12], 12)[:, None]
    assert not (kept & ~visible).any()
    assert abs(kept.sum() / visible.sum() - json.loads(t.read_text())["kept_fraction_all"]) < 1e-9
    np.savez(tmp_path / "big.npz", **{**dict(np.load(src)), "key_limit": np.array([17, 1, 1, 1, 1, 1])})
    assert_user_error(run_cli("golden", "--design", tmp_path / "c", "--qk", tmp_path / "big.npz",
                              "-o", tmp_path / "x.npz"),
                      "key_limit", "1..16")


def test_edited_manifest_is_refused(tmp_path, design, qk):
    copy = _copy_design(design, tmp_path)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["params"]["max_keys"] = 15
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert_user_error(run_cli("run", copy, "--qk", qk, "-o", tmp_path / "o.npz"), "manifest.json", "--allow-modified")


@pytest.mark.parametrize("c, words", [(3, ["completion_lanes must be 0 or a divisor of lanes = 16", "not 3"]),
                                      (32, ["completion_lanes=32", "lanes = 16"])])
def test_completion_lanes_are_checked(c, words, tmp_path):
    out = tmp_path / "d"
    assert_user_error(run_cli("generate", "--lanes", 16, "--completion-lanes", c, "-o", out), *words)
    assert not out.exists()


@pytest.mark.parametrize("extra, words", [
    (["--completion-lanes", "2"], ["rounds 2 runs on the shared array", "completion_lanes must be 0, not 2"]),
    (["--row-thresholds"], ["rounds 2 takes head-wise thresholds T and T1", "row_thresholds off"]),
    (["--bits", "4", "--msb-bits", "1"], ["rounds 2 needs msb_bits ≥ 2", "not 1"]),
    (["--kv-memory", "axi"], ["rounds 2 is built in the on-chip tops", "not 'axi'"]),
    (["--interface", "axis"], ["--interface axis does not wrap rounds 2 designs", "--interface native"]),
])
def test_two_rounds_refuse_what_they_do_not_build(extra, words, tmp_path):
    out = tmp_path / "d"
    assert_user_error(run_cli("generate", "--dim", 4, "--lanes", 2, "--rounds", 2, *extra, "-o", out), *words)
    assert not out.exists()


def test_two_rounds_need_their_thresholds(tmp_path, qk):
    """A rounds-2 design's input must carry T1 per head, in its range; a calibrate JSON of another m1 is refused."""
    design = tmp_path / "d"
    assert run_cli("generate", "--dim", 8, "--lanes", 4, "--heads", 2, "--max-keys", 16, "--rounds", 2,
                   "-o", design).returncode == 0
    out = tmp_path / "o.npz"
    assert_user_error(run_cli("golden", design, "--qk", qk, "-o", out), "no array 'round1_thresholds'",
                      "calibrate --rounds 2")
    arrays = dict(np.load(qk))
    for t1, words in (([1, 2, 3], ["round1_thresholds", "expected [2]"]), ([0, 10**6], ["round1_thresholds[1]=1000000",
                                                                                     "out of range"])):
        bad = tmp_path / "bad.npz"
        np.savez(bad, **arrays, round1_thresholds=np.array(t1))
        assert_user_error(run_cli("golden", design, "--qk", bad, "-o", out), *words)
    other = tmp_path / "t.json"
    other.write_text(json.dumps({"threshold_mode": "relative", "thresholds": [1, 2], "round1_thresholds": [1, 1],
                                 "round1_msb_bits": 3}))
    assert_user_error(run_cli("golden", design, "--qk", qk, "--thresholds", other, "-o", out), "3-bit operands",
                      "reads 2")
    assert not out.exists()
