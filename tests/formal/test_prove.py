"""`latte-rtl prove` on a small design: every proof passes; each mutant (made from the generated
Verilog by latte_rtl.formal.mutants) fails with the property that must catch it, and leaves a VCD."""

import json
import shutil
from pathlib import Path

import pytest

from latte_rtl.formal import cli, mutants, sby, verilog
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


@pytest.fixture(scope="module")
def rounds2_design(tmp_path_factory):
    return _generate(tmp_path_factory, [*SMALL, "--rounds", "2"])


def test_two_rounds_match_the_reference(rounds2_design, tmp_path):
    """rounds 2: the reference has the first round (E1 from the top m1 bits, T1 per head, the survivors' max);
    depth 29 holds a row of two keys (the round1_bits mutant fails at cycle 28)."""
    proc = run_cli("prove", rounds2_design, "--top", "latte_score_engine", "--proofs", "equivalence,latency",
                   "--depth", "29", "-o", tmp_path / "cex")
    print(proc.stdout)
    assert proc.returncode == 0 and "all properties hold" in proc.stdout, proc.stdout + proc.stderr
    assert proc.stdout.count(" PASS ") == 2


def test_prove_passes_on_the_small_design(design, tmp_path):
    """Every proof at the default depth except the equivalence, which runs at depth 24 in CI (rows
    keeping at most one of the two keys end within it; the default depth 27 costs ~10 CPU-minutes).
    Issue 35: the recombination and the protocol of every block that closes alone are unbounded
    (k-induction), and --json has each task's mode, status and time."""
    report = tmp_path.parent / "prove.json"
    runs = [(("--proofs", "recombination,datapath,protocol,latency", "-j", "2", "--json", report),
             ("recombination", "datapath", "protocol", "latency")),
            (("--top", "latte_score_engine", "--proofs", "equivalence", "--depth", "24"), ("equivalence",))]
    summaries = []
    for options, tasks in runs:
        proc = run_cli("prove", design, *options, "-o", tmp_path)
        print(proc.stdout)
        summaries.append(proc.stdout.splitlines()[-2])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for task in tasks:
            assert any(f" {task} " in line and " PASS " in line for line in proc.stdout.splitlines()), task
        assert "all properties hold" in proc.stdout and not list(tmp_path.iterdir())
    got = json.loads(report.read_text())
    by = {(t["top"], t["proof"], t["block"]): t for t in got["tasks"]}
    assert got["all_hold"] and all(t["seconds"] > 0 for t in got["tasks"])
    for proof in ("recombination", "datapath"):  # per key, whatever max_keys
        task = by["latte_score_engine", proof, None]
        assert task["mode"] == "prove" and task["unbounded"], task
    # the blocks every design proves alone (their outputs registered or passed on with their inputs)
    for block in ("latte_score_engine", "latte_score_engine__accumulator", "latte_score_engine__dot",
                  "latte_score_engine__filter", "latte_score_engine__row", "dense_score_engine__row"):
        top = block.split("__")[0]
        assert by[top, "protocol", block]["unbounded"], by[top, "protocol", block]
    # every other block inside an enclosing module (a read port's word, a FIFO kept from filling, a payload passed
    # on), and the glue between blocks where it is: the whole protocol is unbounded, no bounded proof in context
    blocks = {(t["top"], t["block"]) for t in got["tasks"] if t["block"]}
    proven = {(t["top"], t["block"]) for t in got["tasks"] if t["block"] and t["unbounded"]}
    assert proven == blocks and not [t for t in got["tasks"] if t["proof"] == "protocol" and t["mode"] == "bmc"]
    inside = by["latte_score_engine", "protocol", "latte_score_engine__row_end"]  # the last try is kept
    assert inside["within"] == "latte_score_engine" and inside["unbounded"], inside
    tries = [t for t in got["tasks"] if t["block"] and t["status"] != "PASS"]  # moved up: no failure of the design
    assert tries and not any(t["failure"] for t in got["tasks"]), tries
    glue = {s for t in got["tasks"] for s in t["glue"]}
    assert glue == {s for t in got["tasks"] if t["unbounded"] for s in t["glue"]}, glue
    assert "latte_score_engine__score_reg.i" in glue, glue
    assert summaries[0].startswith("stream protocol of 29 of 29 block(s) unbounded"), summaries
    assert "4 of 4 glue stream(s)" in summaries[0], summaries
    assert summaries[1].startswith("0 of 1 proof(s) unbounded"), summaries  # the equivalence: bounded


def test_protocol_of_the_attention_tops_is_unbounded(tmp_path):
    """Issue 35: every block of the attention tops (softmax, its divider, P·V with its word FIFO, the timestamps)
    closes alone or inside an enclosing module, with the invariants of formal/invariants.py, and the glue between
    them where it is: no bounded proof in context is left."""
    design = tmp_path / "d"
    assert run_cli("generate", *SMALL, "--attention", "-o", design).returncode == 0
    report = tmp_path / "prove.json"
    proc = run_cli("prove", design, "--top", "latte_attention_engine", "--proofs", "protocol", "-j", "2",
                   "--json", report, "-o", tmp_path / "out", timeout=600)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tasks = json.loads(report.read_text())["tasks"]
    blocks = {t["block"] for t in tasks if t["block"]}
    proven = {t["block"] for t in tasks if t["block"] and t["unbounded"]}
    assert proven == blocks, blocks - proven  # every block proven
    glue = {s for t in tasks for s in t["glue"]}
    assert glue and glue == {s for t in tasks if t["unbounded"] for s in t["glue"]}, tasks  # the glue, where it is
    assert all(t["mode"] == "prove" for t in tasks)  # no bounded proof in context
    for part in ("pv", "softmax__divider", "pv__pending", "timestamps"):
        assert f"latte_attention_engine__{part}" in proven, part


@pytest.mark.parametrize("options, depth", [([], 6), (["--lanes", "16"], 18)])
def test_recombination_is_unbounded_on_the_default_design(options, depth, tmp_path):
    """Issue 35: the default design's recombination (64 lanes, a beat a pass; and the former default, 16 lanes,
    4 beats a pass) closes by k-induction in seconds; at 16 lanes it ran over 15 min before the per-beat
    invariants (the accumulator's output = the partial score so far)."""
    design = tmp_path / "d"
    assert run_cli("generate", *options, "-o", design).returncode == 0
    report = tmp_path / "prove.json"
    proc = run_cli("prove", design, "--top", "latte_score_engine", "--proofs", "recombination", "--json", report,
                   timeout=300)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (task,) = json.loads(report.read_text())["tasks"]
    assert task["proof"] == "recombination" and task["unbounded"] and task["depth"] == depth, task
    lanes = 64 if not options else 16  # past datapath.MAX_LANES: the per-key datapath runs only when asked for
    assert f"datapath skipped ({lanes} lanes > 8): name it in --proofs to run it anyway" in proc.stdout, proc.stdout


def test_datapath_of_split_arrays_with_the_centred_estimate(tmp_path):
    """Issue 35 item 2: each key's HH, Q + S_j and exact score, through both arrays' dot products and accumulators
    (the completion's on one lane, two dot beats a stored word), by k-induction: nothing in it depends on max_keys.
    The recombination (the shared accumulator's) does not apply: a note says so."""
    design = tmp_path / "d"
    options = ["--bits", "4", "--msb-bits", "2", "--dim", "2", "--lanes", "2", "--completion-lanes", "1", "--heads",
               "1", "--max-keys", "2", "--estimate", "centred"]
    assert run_cli("generate", *options, "-o", design).returncode == 0
    report = tmp_path / "prove.json"
    proc = run_cli("prove", design, "--top", "latte_score_engine", "--proofs", "recombination,datapath", "--json",
                   report, timeout=300)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "recombination skipped (split arrays" in proc.stdout
    (task,) = json.loads(report.read_text())["tasks"]
    assert task["proof"] == "datapath" and task["unbounded"] and task["mode"] == "prove", task


@pytest.mark.parametrize("name", list(mutants.MUTANTS))
def test_prove_fails_on_each_mutant(request, tmp_path, name):
    mutant = mutants.MUTANTS[name]
    broken = tmp_path / "d"
    shutil.copytree(request.getfixturevalue({"small": "design"}.get(mutant.design, f"{mutant.design}_design")),
                    broken)
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
    fails it); the decode protocol proof (every block's streams, the AXI master) holds in the same environment.
    Issue 35: the AXI master's AR rules hold unbounded, of the master alone."""
    report = tmp_path.parent / "decode.json"
    proc = run_cli("prove", decode_design, "--top", "latte_decode_engine", "--proofs", "protocol,liveness",
                   "-j", "2", "--json", report, "-o", tmp_path)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    master = next(t for t in json.loads(report.read_text())["tasks"] if (t["block"] or "").endswith("__master"))
    assert master["unbounded"] and "AXI4 AR rules" in master["scope"], master  # issue 35: by k-induction
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
                      "latte_score_engine: recombination, datapath, protocol, equivalence, latency")
    broken = tmp_path / "d"
    shutil.copytree(design, broken)
    mutants.apply(broken, "shift")
    assert_user_error(run_cli("prove", broken), "--allow-modified")


def test_prove_refuses_a_proof_that_does_not_apply(decode_design):
    """Issue 29: --proofs recombination on a decode top was '0 proof(s) ... all properties hold', exit 0."""
    assert_user_error(run_cli("prove", decode_design, "--proofs", "recombination,equivalence"),
                      "--proofs recombination,equivalence must name a proof that applies to a top of",
                      "latte_decode_engine: protocol, liveness", "dense_decode_engine: protocol, liveness")


@pytest.mark.parametrize("clock", ["23:41:07", " 0:18:22", " 9:05:00"])
def test_yosys_error_line_read_at_any_hour(clock):
    """SymbiYosys pads the hour with a space before 10:00; a syntax error must still be read as Yosys's (the
    edited-Verilog test below failed between midnight and 10:00)."""
    log = (f"SBY {clock} [proof] base: starting process\n"
           f"SBY {clock} [proof] base: latte_score_engine.v:371: ERROR: syntax error, unexpected TOK_ID\n"
           f"SBY {clock} [proof] engine_0: ERROR: not Yosys's\n")
    found = sby._YOSYS_ERROR.search(log)
    assert found and found.group(1).startswith("latte_score_engine.v:371: ERROR: syntax error")


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


def test_a_block_proven_alone_is_not_assumed_in_context():
    """Issue 35: in context a proven block's output streams are left out, never assumed (the accumulator passes
    its input on combinationally: assuming its output hid the `ready` mutant's violation in the dot product);
    its input streams stay asserted (its producers' part)."""
    from latte_rtl.formal import properties
    from latte_rtl.formal.verilog import Port

    ports = {name: Port(d, name, w) for name, d, w in (
        ("clk", "input", 1), ("rst", "input", 1), ("i__valid", "input", 1), ("i__ready", "output", 1),
        ("i__payload", "input", 4), ("o__valid", "output", 1), ("o__ready", "input", 1), ("o__payload", "output", 4))}
    alone = "\n".join(properties.protocol_lines(ports, top=True, reset_assumed=True))
    assert "protocol__i__valid_held: assume (i__valid)" in alone and "protocol__o__valid_held: assert" in alone
    proven = "\n".join(properties.protocol_lines(ports, top=False, reset_assumed=False, proven=True))
    assert "protocol__i__payload_held: assert (i__payload == $past(i__payload))" in proven
    assert "o__valid" not in proven and "assume" not in proven


def test_the_top_protocol_in_context_waits_for_its_blocks():
    """The top's protocol task runs after its block tasks with the proven blocks assumed; it is left out when
    every block closed alone and no wrapper adds assertions (the decode tops' AXI rules)."""
    from types import SimpleNamespace

    from latte_rtl.formal import runner

    def task(name, block=None, wrapper=None):
        return cli.Task("t", name, 4, "m", wrapper, True, "", "prove" if block else "bmc", block)

    blocks = [task("protocol", "m__a"), task("protocol", "m__b")]
    ran = []

    def run(t):
        ran.append(t)
        return SimpleNamespace(status="PASS" if t.block != "m__b" else "UNKNOWN", seconds=0.1, failed=[])

    bar = SimpleNamespace(print=lambda line: None, advance=lambda *a: None, add=lambda n: None)
    out = runner.run_all([*blocks, task("protocol"), task("recombination")], run, lambda t, v: "", 1, bar)
    context = next(t for t in ran if t.name == "protocol" and not t.block)
    assert context.proven == ("m__a",) and ran.index(context) > max(ran.index(b) for b in blocks)
    assert [o.task.label for o in out] == ["protocol.a", "protocol.b", "protocol", "recombination"]
    ran.clear()
    runner.run_all([blocks[0], task("protocol")], run, lambda t, v: "", 1, bar)
    assert [t.label for t in ran] == ["protocol.a"]
    ran.clear()
    runner.run_all([blocks[0], task("protocol", wrapper="module w; endmodule")], run, lambda t, v: "", 1, bar)
    assert [t.label for t in ran] == ["protocol.a", "protocol"]


def test_a_block_not_closing_alone_is_tried_inside_its_enclosing_modules():
    """Issue 35: a block whose induction does not close alone is tried in its parent, then up to the top; once every
    block is proven the top's bounded proof in context is left out, else it runs without the proven blocks.
    A counterexample inside the top is a failure of the design; one alone or inside a block is not."""
    from types import SimpleNamespace

    from latte_rtl.formal import runner

    def task(block=None, ancestors=()):
        return cli.Task("t", "protocol", 4, block or "m", None, True, "", "prove" if block else "bmc", block,
                        ancestors=ancestors)

    verdicts = {("m__p__b", None): "UNKNOWN", ("m__p__b", "m__p"): "UNKNOWN", ("m__p__b", "m"): "PASS",
                ("m__c", None): "PASS"}
    ran = []

    def run(t):
        ran.append((t.block, t.within))
        return SimpleNamespace(status=verdicts.get((t.block, t.within), "PASS"), seconds=0.1, failed=[])

    added = []
    bar = SimpleNamespace(print=lambda line: None, advance=lambda *a: None, add=added.append)
    plan = [task("m__p__b", ("m__p", "m")), task("m__c", ("m",)), task()]
    out = runner.run_all(plan, run, lambda t, v: "", 1, bar)
    assert ("m__p__b", "m__p") in ran and ("m__p__b", "m") in ran and (None, None) not in ran, ran
    assert [o.task.label for o in out] == ["protocol.p__b", "protocol.p__b@p", "protocol.p__b@top", "protocol.c"]
    assert sum(added) == 2 and "2 of 2 block(s) unbounded (1 alone, 1 inside" in runner.summary(out, 1.0)
    verdicts["m__p__b", "m"] = "FAIL"
    ran.clear()
    out = runner.run_all(plan, run, lambda t, v: "", 1, bar)
    assert ran[-1] == (None, None) and out[-1].task.proven == ("m__c",), ran  # the context, without m__c
    top_try = next(o for o in out if o.task.within == "m")
    report = runner.json_report(out, 1)
    assert top_try.task.at_top and top_try.task.failed(top_try.verdict) and not report["all_hold"]
    assert [t["failure"] for t in report["tasks"] if t["within"] == "m"] == [True], report
    inner = next(o for o in out if o.task.within == "m__p")
    assert not inner.task.failed(SimpleNamespace(status="FAIL"))  # the parent's inputs are free: not the design's


def test_glue_streams_and_invariants_from_the_verilog():
    """Issue 35: an input stream straight from a block's output (same valid, ready, payload nets, or a slice) is
    assumed in proofs; one through glue (a lazy fork: another net for valid) is not. The invariants are read off
    the block's registers: a SyncFIFO's depth from its w_rdy."""
    from latte_rtl.formal import invariants, structure
    from latte_rtl.formal.verilog import module_ports

    text = """module t (
    input  wire clk,
    input  wire rst
);
  t__a a (
    .clk(clk),
    .o__payload(x),
    .o__ready(r),
    .o__valid(v),
    .rst(rst)
  );
  t__b b (
    .clk(clk),
    .i__payload(x [3:1]),
    .i__ready(r),
    .i__valid(v),
    .j__payload(x),
    .j__ready(r2),
    .j__valid(v2),
    .rst(rst)
  );
endmodule
module t__a (
    input  wire clk,
    input  wire rst,
    output wire o__valid,
    input  wire o__ready,
    output wire [3:0] o__payload
);
endmodule
module t__b (
    input  wire clk,
    input  wire rst,
    input  wire i__valid,
    output wire i__ready,
    input  wire [2:0] i__payload,
    input  wire j__valid,
    output wire j__ready,
    input  wire [3:0] j__payload
);
endmodule
"""
    ports = module_ports(text)
    children = structure.instances(text, "t")
    assert structure.glue_streams(children, ports, "t", {"t__a", "t__b"}) == [("t__b", "j")]
    assert structure.glue_streams(children, ports, "t", {"t__b"}) == [("t__b", "i"), ("t__b", "j")]  # a: not proven
    fifo = "  reg [1:0] consume;\n  reg [2:0] level;\n  reg [1:0] produce;\n  assign w_rdy = level != 3'h3;\n"
    lines = "\n".join(invariants.block_lines("score.fetch.pending", fifo))
    assert "level <= 3 && produce < 3 && consume < 3" in lines
    assert "((produce + 3 - consume) % 3) == (level % 3)" in lines
    assert invariants.block_lines("score.filter", fifo.replace("w_rdy", "ready")) == []


def test_expose_puts_internal_signals_on_ports():
    text = ("module m (\n    input  wire clk,\n    output wire o\n);\n  reg signed [4:0] acc;\n  wire w;\n"
            "  assign o = w;\nendmodule\n")
    out = verilog.expose(text, "m", ("acc", "w"))
    ports = verilog.module_ports(out)["m"]
    assert ports["formal_acc"] == verilog.Port("output", "formal_acc", 5), ports
    assert ports["formal_w"].width == 1 and "assign formal_acc = acc;" in out and "assign o = w;" in out
    with pytest.raises(ValueError, match="must declare a signal named 'nope'"):
        verilog.expose(text, "m", ("nope",))


def test_axi_master_rules_and_their_invariant():
    """Issue 35: the AXI4 read master's AR rules go into its block task; the strengthening invariant ties its
    own `outstanding` register (when the Verilog has one) to the bursts the slave accepted plus the one in AR."""
    from latte_rtl.formal import axi_master
    from latte_rtl.formal.verilog import Port

    ports = {p: Port("input", p, 1) for p in axi_master.AR_PORTS}
    text = "\n".join(axi_master.lines(ports, "  reg [5:0] outstanding;\n", bus_bytes=8, max_burst=16, outstanding=32))
    assert axi_master.is_master(ports) and "axi__burst_at_most_max: assert (axi__arlen < 16)" in text
    assert "((axi__arlen + 13'd1) << 3) <= 4096" in text and "latte_f_bursts <= 32" in text
    assert "assert (outstanding == latte_f_bursts + axi__arvalid)" in text
    assert "outstanding ==" not in "\n".join(axi_master.lines(ports, "", bus_bytes=8, max_burst=16, outstanding=1))
