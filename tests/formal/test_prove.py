"""`latte-rtl prove` on a small design: every proof passes; each mutant (made from the generated
Verilog by latte_rtl.formal.mutants) fails with the property that must catch it, and leaves a VCD."""

import shutil

import pytest

from latte_rtl.formal import mutants
from latte_rtl.formal.verilog import module_ports, stream_ports
from tests.cli_helpers import assert_user_error, run_cli

# The CI design of the README's "Formal proofs" section.
SMALL = ["--bits", "4", "--msb-bits", "2", "--dim", "1", "--lanes", "1", "--heads", "1", "--max-keys", "2"]


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    out = tmp_path_factory.mktemp("prove") / "d"
    proc = run_cli("generate", *SMALL, "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out


def test_prove_passes_on_the_small_design(design, tmp_path):
    """Every proof at the default depth except the equivalence, which runs at depth 24 in CI (rows
    keeping at most one of the two keys end within it; the default depth 27 costs ~10 CPU-minutes)."""
    runs = [(("--proofs", "recombination,protocol,latency"), ("recombination", "protocol", "latency")),
            (("--top", "latte_score_engine", "--proofs", "equivalence", "--depth", "24"), ("equivalence",))]
    for options, tasks in runs:
        proc = run_cli("prove", design, *options, "-o", tmp_path)
        print(proc.stdout)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for task in tasks:
            assert any(f" {task} " in line and " PASS " in line for line in proc.stdout.splitlines()), task
        assert "all properties hold" in proc.stdout and not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", list(mutants.MUTANTS))
def test_prove_fails_on_each_mutant(design, tmp_path, name):
    broken = tmp_path / "d"
    shutil.copytree(design, broken)
    proof, prop = mutants.apply(broken, name)
    print(name, mutants.MUTANTS[name][3])
    proc = run_cli("prove", broken, "--top", "latte_score_engine", "--proofs", proof, "--allow-modified",
                   "-o", tmp_path / "cex")
    print(proc.stdout)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = [line for line in proc.stdout.splitlines() if " FAIL " in line]
    assert failed and any(prop in line and "at cycle" in line and "top latte_score_engine" in line
                          for line in failed), failed
    assert (tmp_path / "cex" / f"latte_score_engine_{proof}.vcd").stat().st_size > 0


def test_prove_user_errors(design, tmp_path):
    assert_user_error(run_cli("prove", design, "--top", "nope"), "--top must be one of", "'nope'")
    assert_user_error(run_cli("prove", tmp_path), "not a generated design")
    assert_user_error(run_cli("prove", design, "--depth", "0"), "--depth must be")
    assert_user_error(run_cli("prove", design, "--proofs", "protocol,nope"), "--proofs must be", "'nope'")
    (tmp_path / "f").write_text("x")
    assert_user_error(run_cli("prove", design, "-o", tmp_path / "f"), "-o must be a directory")
    broken = tmp_path / "d"
    shutil.copytree(design, broken)
    mutants.apply(broken, "shift")
    assert_user_error(run_cli("prove", broken), "--allow-modified")


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
