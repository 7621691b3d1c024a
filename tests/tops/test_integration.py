"""Drop-in IP (issue 13): unique readable module names with --prefix, ANSI ports and timescale,
the include file and package of fields, the FuseSoC core, two designs in one simulator build,
and the plain Verilog example testbench, on Icarus and Verilator."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latte_rtl.config import LatteConfig
from latte_rtl.design import generate
from latte_rtl.design.netlist import LINT_WAIVERS
from latte_rtl.sim.runner import prepare_simulator, verilator_bin_dir
from tests.conftest import require_simulator

SEED = 20261124
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "verilog_tb"
SMALL = dict(bits=8, msb_bits=4, dim=8, lanes=3, heads=2, max_keys=16)


def _example():
    spec = importlib.util.spec_from_file_location("run_example", EXAMPLE / "run_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _localparams(text: str) -> dict:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"localparam (?:integer |int )?(\w+) = (-?\d+);", text)}


def test_prefixed_netlist_names_ports_and_timescale(tmp_path):
    manifest = generate(LatteConfig.from_params(**SMALL), tmp_path, prefix="cfg_a_")
    for top, entry in manifest["tops"].items():
        text = (tmp_path / entry["file"]).read_text()
        modules = re.findall(r"^module (\S+)", text, re.M)
        assert entry["file"] == f"cfg_a_{top}.v" and modules[0] == f"cfg_a_{top}"
        assert all(m.startswith(f"cfg_a_{top}__") and "\\" not in m and "." not in m for m in modules[1:]), modules
        assert sorted(entry["modules"]) == sorted(modules) and entry["modules"][f"cfg_a_{top}__dot__multipliers"] == \
            "dot.multipliers"
        assert "`timescale 1ns/1ps" in text.split("module")[0]
        # ANSI list in the manifest's order: clk, rst, then the signature's members
        start = text.index(f"module cfg_a_{top} (")
        header = text[start:text.index(");", start)]
        names = re.findall(r"^\s+(?:input|output)\s+(?:wire|reg)\s+(?:\[\d+:0\] )?(\w+)", header, re.M)
        assert names == [p["name"] for p in entry["ports"]] and names[:3] == ["clk", "rst", "keys__payload"]
        assert re.search(r"\bcfg_a_latte_sram #\(", text)
    assert (tmp_path / "cfg_a_latte_sram.v").read_text().count("module cfg_a_latte_sram ") == 1


def test_bad_prefix_is_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "latte_rtl.cli", "generate", "--prefix", "9x-", "-o", tmp_path / "d"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("latte-rtl: error: --prefix must be a Verilog identifier")
    assert len(proc.stderr.splitlines()) == 1 and not (tmp_path / "d").exists()


def test_headers_hold_every_field_of_the_manifest(tmp_path):
    """Every payload field (offset, width, signedness) and parameter of the manifest, once; the
    values a user computes by hand for lanes = 3, bits = 8; both files compile."""
    manifest = generate(LatteConfig.from_params(**SMALL, attention=True), tmp_path)
    for _top, entry in manifest["tops"].items():
        vh = _localparams((tmp_path / entry["include"]).read_text())
        assert vh == _localparams((tmp_path / entry["package"]).read_text())
        assert vh["LANES"] == 3 and vh["BEATS"] == 3 and vh["KEYS_DATA_COUNT"] == 3 and vh["KEYS_DATA_WIDTH"] == 8
        assert vh["KEYS_LAST_OFFSET"] == 24 and vh["KEYS_PAYLOAD_WIDTH"] == 25 and vh["KEYS_DATA_SIGNED"] == 1
        ports = {p["name"]: p for p in entry["ports"]}
        for port in ports.values():
            base = re.sub(r"__(payload)$", "", port["name"]).replace("__", "_").upper()
            for f in port.get("fields", []):
                name = f"{base}_{re.sub(r'[^A-Za-z0-9]+', '_', f['name'].split('[')[0]).upper()}"
                index = int(f["name"].split("[")[1][:-1]) if "[" in f["name"] else 0
                assert vh[f"{name}_OFFSET"] + index * vh[f"{name}_WIDTH"] == f["offset"], f["name"]
                assert (vh[f"{name}_WIDTH"], vh[f"{name}_SIGNED"]) == (f["width"], int(f["signed"])), f["name"]
        assert vh["CONFIG_REG_DENOM_COMP"] == 2 if "config__payload" in ports else True
    require_simulator("icarus")
    entry = manifest["tops"]["latte_attention_engine"]
    (tmp_path / "use.v").write_text(f'module use_it;\n`include "{entry["include"]}"\n'
                                    "initial $display(\"%0d %s\", CONFIG_PAYLOAD_WIDTH, PROB_FORMAT);\nendmodule\n")
    subprocess.run(["iverilog", "-g2005", "-o", tmp_path / "use.vvp", "-I", tmp_path, tmp_path / "use.v"], check=True)
    out = subprocess.run(["vvp", "-n", tmp_path / "use.vvp"], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(ports_width(entry, "config__payload")), "linear"]
    require_simulator("verilator")
    prepare_simulator("verilator")
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "-Wno-UNUSEDPARAM", entry["package"]], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def ports_width(entry: dict, name: str) -> int:
    return next(p["width"] for p in entry["ports"] if p["name"] == name)


def test_fusesoc_core_lint_and_sim(tmp_path):
    """`fusesoc run` on the generated core: Verilator -Wall lint (with the waivers of
    tests/sim/test_regression.py, no more) and the Icarus sim target pass; a broken netlist fails the lint."""
    require_simulator("verilator")
    require_simulator("icarus")
    fusesoc = shutil.which("fusesoc", path=str(Path(sys.executable).parent))
    assert fusesoc, "fusesoc is missing: pip install -e '.[dev]'"
    manifest = generate(LatteConfig.from_params(**SMALL), tmp_path / "d", prefix="ip_")
    env = {**os.environ, "PATH": os.pathsep.join([str(verilator_bin_dir()), str(Path(sys.executable).parent),
                                                   os.environ["PATH"]])}
    core = manifest["core"].rsplit(":", 1)[0]
    for target in ("lint", "sim"):
        proc = subprocess.run([fusesoc, "--cores-root", "d", "run", "--target", target, core], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    makefile = next((tmp_path / "build").glob("*/lint-verilator/config.mk")).read_text()
    assert "-Wall" in makefile and "-Wno-DECLFILENAME" in makefile and "ip_latte_score_engine" in makefile
    netlist = tmp_path / "d" / "ip_latte_score_engine.v"
    netlist.write_text(netlist.read_text().replace("endmodule", "  wire [3:0] undriven_extra;\n  assign busy = "
                                                   "undriven_extra[0];\nendmodule", 1))
    proc = subprocess.run([fusesoc, "--cores-root", "d", "run", "--target", "lint", core], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "%Warning-MULTIDRIVEN" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def _random_input(cfg: LatteConfig, rng, path: Path, rows: int, keys: int) -> None:
    lo, hi = cfg.score.operand_range
    np.savez(path, q=rng.integers(lo, hi + 1, (rows, cfg.score.dim)), k=rng.integers(lo, hi + 1, (keys, cfg.score.dim)),
             thresholds=rng.integers(0, cfg.score.widths.max_hh // 2, cfg.score.heads),
             heads=rng.integers(0, cfg.score.heads, rows), key_limit=rng.integers(1, keys + 1, rows))


def test_two_configurations_in_one_build(tmp_path, simulator):
    """Two designs of different parameters, every top and both memories, compiled into one
    Icarus / Verilator build: the example testbench runs once per design in the same simulation
    and both agree with golden bit for bit."""
    example = _example()
    configs = {"a": dict(SMALL), "b": dict(bits=6, msb_bits=3, dim=7, lanes=4, heads=3, max_keys=12,
                                          threshold_mode="absolute", monitor=False)}
    sources, harness = [], []
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    for name, params in configs.items():
        cfg = LatteConfig.from_params(**params)
        design = tmp_path / f"design_{name}"
        manifest = generate(cfg, design, prefix=f"cfg_{name}_")
        sources += [design / e["file"] for e in manifest["tops"].values()]
        sources.append(design / manifest["memory_module"]["file"])
        run = tmp_path / name
        run.mkdir()
        _random_input(cfg, rng, run / "input.npz", rows=3, keys=params["max_keys"] - 1)
        example.latte_rtl("golden", "--design", design, "--qk", run / "input.npz", "-o", run / "golden.npz")
        example.write_hex(run / "input.npz", cfg.score.bits, cfg.score.heads, run)
        defines = {"LATTE_TB": f"tb_{name}", "LATTE_DUT": f"cfg_{name}_latte_score_engine",
                   "LATTE_PARAMS": f'"cfg_{name}_latte_score_engine.vh"', "LATTE_HEX_DIR": f'"{name}/"',
                   "LATTE_NO_FINISH": "", **({"LATTE_NO_MONITOR": ""} if not params.get("monitor", True) else {})}
        harness += [f"`define {k} {v}" for k, v in defines.items()]
        harness += [f'`include "{example.TB}"'] + [f"`undef {k}" for k in defines]
    harness += ["module both;", "  tb_a a();", "  tb_b b();", "  initial begin", "    wait (a.done && b.done);",
                "    $finish;", "  end", "endmodule"]
    (tmp_path / "both.v").write_text("\n".join(harness) + "\n")
    includes = [tmp_path / "design_a", tmp_path / "design_b"]
    out = example.simulate([tmp_path / "both.v", *sources], includes, [], "both", tmp_path, simulator)
    print(out)
    assert "a: 3 rows done" in out and "b: 3 rows done" in out
    for name in configs:
        heads = np.load(tmp_path / name / "input.npz")["heads"]
        assert example.compare(tmp_path / name, tmp_path / name / "golden.npz", heads) == [], name


def test_example_testbench(tmp_path, simulator, monkeypatch):
    """examples/verilog_tb on the default design (real data), in a directory given relative, as the docs' command
    gives it: PASS; a flipped score is caught."""
    example = _example()
    monkeypatch.chdir(tmp_path)
    assert example.main(["-o", "ex", "--rows", "3", "--sim", simulator]) == 0
    out = tmp_path / "ex"
    run, gold = out / f"run_{simulator}", out / "golden.npz"
    heads = np.load(out / "input.npz")["heads"]
    lines = (run / "scores.out").read_text().splitlines()
    row, index, score, estimate = lines[0].split()
    lines[0] = f"{row} {index} {int(score) ^ 1} {estimate}"
    (run / "scores.out").write_text("\n".join(lines) + "\n")
    errors = example.compare(run, gold, heads)
    assert len(errors) == 1 and errors[0].startswith("row 0: scores beats")


def test_manifest_records_modules_for_synthesis_attribution(tmp_path):
    manifest = generate(LatteConfig.from_params(**SMALL, attention=True), tmp_path, prefix="p_")
    modules = manifest["tops"]["latte_attention_engine"]["modules"]
    assert modules["p_latte_attention_engine"] == "" and modules["p_latte_attention_engine__score__dot"] == "score.dot"
    assert json.loads((tmp_path / "manifest.json").read_text())["prefix"] == "p_"


def test_axis_tops_lint_clean_and_headers(tmp_path):
    """The AXI tops pass Verilator -Wall with the native waivers; their headers carry the
    byte-aligned fields and the register map."""
    require_simulator("verilator")
    prepare_simulator("verilator")
    manifest = generate(LatteConfig.from_params(**AXIS[1]), tmp_path, interface="axis")
    for _top, entry in manifest["tops"].items():
        proc = subprocess.run(["verilator", "--lint-only", "-Wall", *LINT_WAIVERS, "--top-module", entry["module"],
                               entry["file"], "latte_sram.v"], cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
    vh = _localparams((tmp_path / "latte_attention_engine_axis.vh").read_text())
    assert vh["S_AXIS_KEYS_TDATA_WIDTH"] == 3 * 8 and vh["S_AXIS_KEYS_TDATA_ELEM_WIDTH"] == 8  # 6-bit lanes in bytes
    assert vh["S_AXIS_KEYS_TDATA_ELEM_SIGNED"] == 1 and vh["S_AXIS_KEYS_TDATA_ELEM_COUNT"] == 3
    assert vh["M_AXIS_OUT_TDATA_DATA_WIDTH"] % 8 == 0 and vh["M_AXIS_OUT_TDATA_DATA_COUNT"] == 3
    assert (vh["REG_THRESHOLD_ADDR"], vh["REG_SOFTMAX_MULT_ADDR"], vh["REG_DENOM_COMP_ADDR"]) == (0, 0x100, 0x200)
    assert "axis" in manifest["protocol"] and "s_axil_awaddr" not in {
        p["name"] for p in manifest["tops"]["dense_score_engine"]["ports"]}
    again = tmp_path / "again"
    generate(LatteConfig.from_params(**AXIS[1]), again, interface="axis")
    for path in again.iterdir():  # same parameters, same bytes: Verilog, headers, core, manifest
        assert path.read_bytes() == (tmp_path / path.name).read_bytes(), path.name


def test_axis_refuses_registers_wider_than_the_bus(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "latte_rtl.cli", "generate", "--attention", "--exp-bits", "24",
                           "--max-keys", "65536", "--dim", "4", "--lanes", "4", "--interface", "axis", "-o",
                           tmp_path / "d"], capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "at most 32 bits" in proc.stderr and not (tmp_path / "d").exists()


AXIS = [dict(bits=8, msb_bits=4, dim=16, lanes=5, heads=4, max_keys=32, threshold_mode="absolute"),
        dict(bits=6, msb_bits=3, dim=7, lanes=3, heads=2, max_keys=12, threshold_mode="absolute", attention=True,
             exp_frac_bits=0, exp_bits=6, prob_bits=7, scale_shift=8, mult_bits=10, prob_format="log2", log_levels=5)]


# Both simulators on the score tops; the attention tops on Icarus (their Verilator build is ~1.5 min).
@pytest.mark.parametrize("params,simulator", [(AXIS[0], "icarus"), (AXIS[0], "verilator"), (AXIS[1], "icarus")],
                         ids=["score-icarus", "score-verilator", "attention-icarus"])
def test_axis_regression(params, simulator, tmp_path):
    """`--interface axis`: the native regression (same stimulus, scoreboards, golden; steady and
    backpressure) through cocotbext-axi's AxiStreamSource/AxiStreamSink (pause generators) and
    AxiLiteMaster (registers, the N_KEYS status word); the same cycles as the native top."""
    from latte_rtl.sim.regression import run_regression

    require_simulator(simulator)
    manifest = generate(LatteConfig.from_params(**params), tmp_path, interface="axis")
    tops = [t for t in manifest["tops"] if params.get("attention", False) == ("attention" in t)]
    print(f"seed={SEED} config={params}")
    report = run_regression(tmp_path, sims=(simulator,), seed=SEED, rows=3, tops=tops)
    assert len(report["runs"]) == 4 and all(r["status"] == "pass" for r in report["runs"])
    for top in tops:
        assert manifest["tops"][top]["module"] == f"{top}_axis"
        log = (tmp_path / "sim_build" / f"{top}_{simulator}" / "test.log").read_text()
        assert "AXI stream source" in log and "AXI stream sink" in log
        assert ("AXI lite master" in log) == (top != "dense_score_engine")
    if simulator != "icarus":
        return  # the same RTL: one simulator shows the wrapper adds no cycle
    native = tmp_path / "native"
    generate(LatteConfig.from_params(**params), native)
    steady = {r["top"]: r["cycle_ratio"] for r in report["runs"] if "cycle_ratio" in r}
    native_report = run_regression(native, sims=(simulator,), seed=SEED, rows=3, tops=[next(iter(steady))])
    assert native_report["runs"][0]["cycle_ratio"] == steady[native_report["runs"][0]["top"]]
