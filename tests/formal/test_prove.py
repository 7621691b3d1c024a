"""`latte-rtl prove` on a small design: every proof passes; each mutant (made from the generated
Verilog by latte_rtl.formal.mutants) fails with the property that must catch it, and leaves a VCD."""

import json
import shutil
from pathlib import Path

import pytest

from latte_rtl.formal import cli, mutants, sby
from latte_rtl.formal.verilog import module_ports, stream_ports
from tests.cli_helpers import assert_user_error, run_cli

# The CI designs of docs/verification.md's "Formal proofs" section.
SMALL = ["--bits", "4", "--msb-bits", "2", "--dim", "1", "--lanes", "1", "--heads", "1", "--max-keys", "2"]
# The smallest decode design that had issue 29's deadlock: 8 rows in flight (max(8, axi_outstanding)) but a
# credit port of index_width + 1 = 2 bits before the fix; B = 1 (1-cycle dividers): a short step.
SMALL_DECODE = [*SMALL, "--kv-memory", "axi", "--kept-buffer", "2", "--axi-data-width", "64", "--axi-outstanding",
                "1", "--axi-addr-width", "13", "--prob-bits", "1", "--exp-bits", "1", "--mult-bits", "1",
                "--exp-frac-bits", "0"]


def _generate(tmp_path_factory, options):
    out = tmp_path_factory.mktemp("prove") / "d"
    proc = run_cli("generate", *options, "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    return _generate(tmp_path_factory, SMALL)


@pytest.fixture(scope="module")
def decode_design(tmp_path_factory):
    return _generate(tmp_path_factory, SMALL_DECODE)


def test_prove_passes_on_the_small_design(design, tmp_path):
    """Every proof at the default depth except the equivalence, which runs at depth 24 in CI (rows
    keeping at most one of the two keys end within it; the default depth 27 costs ~10 CPU-minutes).
    Issue 35: the recombination and the protocol of every block that closes alone are unbounded
    (k-induction), and --json has each task's mode, status and time."""
    report = tmp_path.parent / "prove.json"
    runs = [(("--proofs", "recombination,protocol,latency", "-j", "2", "--json", report),
             ("recombination", "protocol", "latency")),
            (("--top", "latte_score_engine", "--proofs", "equivalence", "--depth", "24"), ("equivalence",))]
    for options, tasks in runs:
        proc = run_cli("prove", design, *options, "-o", tmp_path)
        print(proc.stdout)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for task in tasks:
            assert any(f" {task} " in line and " PASS " in line for line in proc.stdout.splitlines()), task
        assert "all properties hold" in proc.stdout and not list(tmp_path.iterdir())
    got = json.loads(report.read_text())
    by = {(t["top"], t["proof"], t["block"]): t for t in got["tasks"]}
    assert got["all_hold"] and all(t["seconds"] > 0 for t in got["tasks"])
    recombination = by["latte_score_engine", "recombination", None]
    assert recombination["mode"] == "prove" and recombination["unbounded"], recombination
    # the blocks every design proves alone (their outputs registered or passed on with their inputs)
    for block in ("latte_score_engine", "latte_score_engine__accumulator", "latte_score_engine__dot",
                  "latte_score_engine__issuer", "latte_score_engine__row", "dense_score_engine__row"):
        top = block.split("__")[0]
        assert by[top, "protocol", block]["unbounded"], by[top, "protocol", block]
    context = by["latte_score_engine", "protocol", None]
    assert context["mode"] == "bmc" and context["status"] == "PASS" and context["assumed_blocks"] >= 6, context


@pytest.mark.parametrize("name", list(mutants.MUTANTS))
def test_prove_fails_on_each_mutant(request, tmp_path, name):
    mutant = mutants.MUTANTS[name]
    broken = tmp_path / "d"
    shutil.copytree(request.getfixturevalue("decode_design" if "decode" in mutant.top else "design"), broken)
    proof, prop = mutants.apply(broken, name)
    print(name, mutant.what)
    proc = run_cli("prove", broken, "--top", mutant.top, "--proofs", proof, "--allow-modified", "-o", tmp_path / "cex")
    print(proc.stdout)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = [line for line in proc.stdout.splitlines() if " FAIL " in line]
    assert failed and any(prop in line and "at cycle" in line and f"top {mutant.top}" in line
                          for line in failed), failed
    assert (tmp_path / "cex" / f"{mutant.top}_{proof}.vcd").stat().st_size > 0


def test_liveness_passes_on_the_small_decode_design(decode_design, tmp_path):
    """Issue 29: the decode top's step ends within its bound (the `credit` mutant, the deadlock before the fix,
    fails it); the decode protocol proof (every block's streams, the AXI master) holds in the same environment."""
    proc = run_cli("prove", decode_design, "--top", "latte_decode_engine", "--proofs", "protocol,liveness",
                   "-o", tmp_path)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(" liveness " in line and " PASS " in line and "ends (rows record, 1 out beat(s)) within" in line
               for line in lines), lines
    assert any(" protocol " in line and " PASS " in line for line in lines), lines
    assert "all properties hold" in proc.stdout and not list(tmp_path.iterdir())


def test_prove_user_errors(design, tmp_path):
    assert_user_error(run_cli("prove", design, "--top", "nope"), "--top must be one of", "'nope'")
    assert_user_error(run_cli("prove", tmp_path), "not a generated design")
    assert_user_error(run_cli("prove", design, "--depth", "0"), "--depth must be")
    assert_user_error(run_cli("prove", design, "--proofs", "protocol,nope"), "--proofs must be", "'nope'")
    (tmp_path / "f").write_text("x")
    assert_user_error(run_cli("prove", design, "-o", tmp_path / "f"), "-o must be a directory")
    assert_user_error(run_cli("prove", design, "--stalls", "-1"), "--stalls must be", "-1")
    assert_user_error(run_cli("prove", design, "--stalls", "1"), "--stalls applies to the decode tops only")
    assert_user_error(run_cli("prove", design, "--top", "latte_score_engine", "--proofs", "liveness"),
                      "--proofs liveness must name a proof that applies to --top latte_score_engine",
                      "latte_score_engine: recombination, protocol, equivalence, latency")
    broken = tmp_path / "d"
    shutil.copytree(design, broken)
    mutants.apply(broken, "shift")
    assert_user_error(run_cli("prove", broken), "--allow-modified")


def test_prove_refuses_a_proof_that_does_not_apply(decode_design):
    """Issue 29: --proofs recombination on a decode top was '0 proof(s) ... all properties hold', exit 0."""
    assert_user_error(run_cli("prove", decode_design, "--proofs", "recombination,equivalence"),
                      "--proofs recombination,equivalence must name a proof that applies to a top of",
                      "latte_decode_engine: protocol, liveness", "dense_decode_engine: protocol, liveness")


def test_prove_user_errors_on_edited_verilog(design, tmp_path):
    """Issue 29: a non-UTF-8 file was a traceback; a syntax error was a proof failure (exit 1) quoting a log in a
    deleted temporary directory. Both are one-line user errors; the log is kept in -o."""
    broken = tmp_path / "d"
    shutil.copytree(design, broken)
    top = broken / "latte_score_engine.v"
    text = top.read_text()
    top.write_bytes(text.encode() + b"// caf\xe9\n")
    assert_user_error(run_cli("prove", broken, "--allow-modified"), "latte_score_engine.v must be UTF-8", "byte")
    top.write_text(text.replace("endmodule", "endmodule oops", 1))
    proc = run_cli("prove", broken, "--top", "latte_score_engine", "--proofs", "protocol", "--allow-modified",
                   "-o", tmp_path / "out")
    assert_user_error(proc, "Yosys cannot read the design's Verilog", "latte_score_engine.v:", "ERROR")
    log = proc.stderr.rsplit("(log: ", 1)[1].rstrip().rstrip(")")
    # the first protocol task to end: a block's (protocol.<block>) or the top's in context
    assert Path(log).parent == tmp_path / "out" and Path(log).name.startswith("latte_score_engine_protocol")
    assert Path(log).suffix == ".log" and "ERROR" in Path(log).read_text()


def test_report_keeps_the_log_of_an_error(tmp_path):
    """A proof that ends in ERROR (no verdict) points at a log copied out of the temporary directory."""
    log = tmp_path / "tmp" / "proof.log"
    log.parent.mkdir()
    log.write_text("DONE (ERROR, rc=16)")
    task = cli.Task("t", "protocol", 5, "t", None, True, "")
    line = cli.report(task, sby.Verdict("proof", "ERROR", "bmc", 5, [], None, log, 0.1), tmp_path / "out")
    kept = tmp_path / "out" / "t_protocol.log"
    assert line.endswith(f"ERROR  see {kept}") and kept.read_text() == "DONE (ERROR, rc=16)"


def test_stream_ports_of_generated_verilog():
    text = """module m (
    input  wire clk,
    input  wire a__valid,
    output wire a__ready,
    input  wire [3:0] a__payload,
    output reg  b__valid,
    input  wire b__ready,
    output wire c__valid
);
endmodule
"""
    ports = module_ports(text)["m"]
    got = [(s.name, s.valid_in, s.payload and s.payload.width) for s in stream_ports(ports)]
    assert got == [("a", True, 4), ("b", False, None)]
