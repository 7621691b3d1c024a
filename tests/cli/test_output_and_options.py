"""Fault sweep, issue 29: no output of run, golden, calibrate or dump may replace a file of the design it
reads; --mem-latency bounded and refused for an on-chip top; evaluate's --samples / --calib-samples and
dump's --design refused before any work when the data or the design cannot take them."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from latte_rtl.commands import build_parser, main
from latte_rtl.config import LatteConfig
from latte_rtl.design import generate
from tests.conftest import require_model

SEED = 29


class Started(Exception):
    """Raised by a stand-in for the long work: reaching it means every check passed."""


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    """d: d = 16 (vision's head dim), 4 lanes, 2 heads, 8 keys; d6: the same with 6-bit operands; in.npz: 3 rows."""
    root = tmp_path_factory.mktemp("designs")
    generate(LatteConfig.from_params(dim=16, lanes=4, heads=2, max_keys=8), root / "d")
    generate(LatteConfig.from_params(dim=16, lanes=4, heads=2, max_keys=8, bits=6, msb_bits=3), root / "d6")
    rng = np.random.default_rng(SEED)
    np.savez(root / "in.npz", q=rng.integers(-100, 100, (3, 16), dtype=np.int8),
             k=rng.integers(-100, 100, (6, 16), dtype=np.int8), thresholds=np.array([40, 80]),
             heads=np.array([0, 1, 0]))
    return root


@pytest.fixture(autouse=True)
def no_long_work(monkeypatch):
    """Every long step (simulation, evaluation, dump) raises Started instead of running."""
    from latte_rtl.sim import shards
    from latte_rtl.workloads import dump, evaluate, smollm2_dump, smollm2_eval

    def started(*args, **kwargs):
        raise Started()

    for module, name in ((shards, "run_rows"), (evaluate, "evaluate"), (smollm2_eval, "evaluate_smollm2"),
                         (dump, "dump_qk"), (dump, "dump_all_layers"), (smollm2_dump, "dump_smollm2")):
        monkeypatch.setattr(module, name, started)


def refused(capsys, *args, words=()):
    """main(args) is a one-line user error (exit 2) holding every word, and nothing was printed on stdout."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("latte-rtl: error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert out == ""
    return lines[0]


def _contents(directory: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


COMMANDS = {
    "run": lambda d, qk, out: ["run", d, "--qk", qk, "-o", out],
    "run --waves": lambda d, qk, out: ["run", d, "--qk", qk, "-o", out.parent.parent / "r.npz", "--waves", out],
    "golden": lambda d, qk, out: ["golden", d, "--qk", qk, "-o", out],
    "calibrate": lambda d, qk, out: ["calibrate", "--design", d, "--qk", qk, "--keep-ratio", 0.5, "-o", out],
    "dump": lambda d, qk, out: ["dump", "--design", d, "--workload", "vision", "-o", out],
    "synth --json": lambda d, qk, out: ["synth", d, "--target", "generic", "--json", out],
    "synth --html": lambda d, qk, out: ["synth", d, "--target", "generic", "--html", out],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("target", ["manifest.json", "latte_score_engine.v", "dense_score_engine.vh",
                                    "latte_score_engine_pkg.sv", "latte_sram.v", "latte_design.core"])
def test_no_output_replaces_a_file_of_the_design(command, target, designs, tmp_path, capsys):
    d = Path(shutil.copytree(designs / "d", tmp_path / "d"))  # its own copy: a clobbered file stays here
    before = _contents(d)
    what = "the design's manifest" if target == "manifest.json" else f"one of the design's files ({target})"
    option = "--waves" if command == "run --waves" else "-o"
    refused(capsys, *COMMANDS[command](d, designs / "in.npz", d / target), words=(option, str(d / target), what))
    assert _contents(d) == before
    assert not (tmp_path / "r.npz").exists()


def test_run_mismatch_sibling_and_other_names_are_still_free(designs, capsys):
    """A file beside the design's files is no design file: the checks pass and the run starts."""
    with pytest.raises(Started):
        main(["run", str(designs / "d"), "--qk", str(designs / "in.npz"), "-o", str(designs / "d" / "r.npz")])


@pytest.mark.parametrize("value", [65536, 2 ** 32, 2 ** 64, -1])
def test_mem_latency_is_bounded(value, designs, capsys):
    refused(capsys, "run", designs / "d", "--qk", designs / "in.npz", "-o", designs / "r.npz", "--mem-latency", value,
            words=("--mem-latency", "0 ≤ N ≤ 65535", str(value)))
    assert not (designs / "r.npz").exists()


@pytest.mark.parametrize("value", [0, 4097])
def test_mem_queue_is_bounded(value, designs, capsys):
    refused(capsys, "run", designs / "d", "--qk", designs / "in.npz", "-o", designs / "r.npz", "--mem-queue", value,
            words=("--mem-queue", "1 ≤ N ≤ 4096", str(value)))
    assert not (designs / "r.npz").exists()


def test_mem_latency_at_its_bound_is_taken():
    args = build_parser().parse_args(["run", "d", "-o", "r.npz", "--mem-latency", "65535"])
    assert args.mem_latency == 65535
    assert build_parser().parse_args(["run", "d", "-o", "r.npz"]).mem_latency is None  # not given: 0 in the engine


@pytest.mark.parametrize("options, words", [
    (["--mem-latency", "5"], ["--mem-latency applies to the decode tops"]),
    (["--mem-latency", "0"], ["--mem-latency applies to the decode tops"]),
    (["--mem-bytes-per-cycle", "16"], ["--mem-bytes-per-cycle applies to the decode tops"]),
    (["--mem-latency", "5", "--mem-bytes-per-cycle", "16", "--top", "dense_score_engine"],
     ["--mem-latency and --mem-bytes-per-cycle apply", "dense_score_engine"]),
    (["--mem-queue", "64"], ["--mem-queue applies to the decode tops"]),
])
def test_memory_options_are_refused_for_an_on_chip_top(options, words, designs, capsys):
    line = refused(capsys, "run", designs / "d", "--qk", designs / "in.npz", "-o", designs / "r.npz", *options,
                   words=("--kv-memory axi", *words))
    assert "latte_score_engine" in line or "dense_score_engine" in line
    assert not (designs / "r.npz").exists()


LIMITS = [("smollm2", "--samples", 66), ("smollm2", "--calib-samples", 29), ("lm", "--samples", 256),
          ("lm", "--calib-samples", 64), ("vision", "--samples", 360), ("vision", "--calib-samples", 256),
          ("minilm", "--samples", 200), ("minilm", "--calib-samples", 32)]


@pytest.mark.parametrize("workload, option, most", LIMITS)
def test_evaluate_refuses_more_samples_than_the_data_holds(workload, option, most, capsys):
    refused(capsys, "evaluate", "--workload", workload, option, most + 1,
            words=(f"{option} {most + 1}", f"{workload} has {most}", f"1 ≤ N ≤ {most}"))
    with pytest.raises(Started):  # the maximum itself is taken: the evaluation starts
        main(["evaluate", "--workload", workload, option, str(most)])


def test_available_samples_are_the_data_s():
    """The shipped data's counts (read cheaply for the check) are what the evaluation slices."""
    from latte_rtl.workloads.evaluate import eval_data
    from latte_rtl.workloads.retrieval import load_pairs
    from latte_rtl.workloads.tasks import available_samples

    assert available_samples("lm") == (len(eval_data("lm", "test")[0]), len(eval_data("lm", "calib")[0]))
    assert available_samples("vision") == (len(eval_data("vision", "test")[0]), len(eval_data("vision", "calib")[0]))
    assert available_samples("minilm") == (len(load_pairs("test")[1]), len(load_pairs("calib")[1]))

    def smollm2_windows(context):
        from latte_rtl.workloads.smollm2 import windows

        return len(windows("test", seq=context)), len(windows("calib", seq=context))

    for context in (512, 1024, 2048):
        assert available_samples("smollm2", context) == require_model("SmolLM2", lambda c=context: smollm2_windows(c))


def test_head_dims_are_the_models():
    from latte_rtl.workloads.spec import SPECS
    from latte_rtl.workloads.tasks import HEAD_DIM

    assert HEAD_DIM["lm"] == SPECS["lm"].head_dim and HEAD_DIM["vision"] == SPECS["vision"].head_dim

    def minilm_head_dim():
        from latte_rtl.workloads.minilm import model_dir

        cfg = json.loads((model_dir() / "config.json").read_text())
        return cfg["hidden_size"] // cfg["num_attention_heads"]

    def smollm2_head_dim():
        from latte_rtl.workloads import smollm2

        return int(smollm2._field(smollm2._reader(), "llama.rope.dimension_count"))

    assert HEAD_DIM["minilm"] == require_model("MiniLM", minilm_head_dim)
    assert HEAD_DIM["smollm2"] == require_model("SmolLM2", smollm2_head_dim)


@pytest.mark.parametrize("design, options, words", [
    ("d", ["--workload", "lm"], ["--design", "has dim 16", "the lm dump has head dim 64", "--dim 64"]),
    ("d", ["--workload", "smollm2"], ["has dim 16", "the smollm2 dump has head dim 64", "--dim 64"]),
    ("d", ["--workload", "lm", "--all-layers"], ["has dim 16", "head dim 64"]),
    ("d6", ["--workload", "vision"], ["--design", "has bits 6", "int8", "--bits 8"]),
    (None, ["--workload", "lm", "--dim", "8", "--lanes", "4"], ["--dim 8", "the lm dump has head dim 64"]),
    (None, ["--workload", "minilm", "--bits", "6"], ["--bits 6", "int8", "--bits 8"]),
])
def test_dump_refuses_a_design_that_cannot_take_it(design, options, words, designs, capsys):
    where = ["--design", designs / design] if design else []
    refused(capsys, "dump", *where, *options, "-o", designs / "x.npz", words=words)
    assert not (designs / "x.npz").exists()


@pytest.mark.parametrize("options", [["--design", "d"], ["--dim", "16", "--lanes", "4"], []])
def test_dump_for_a_fitting_design_starts(options, designs):
    options = [str(designs / o) if o == "d" else o for o in options]
    with pytest.raises(Started):
        main(["dump", "--workload", "vision", *options, "-o", str(designs / "x.npz")])


def test_progress_prints_each_line_in_one_write(monkeypatch):
    """Synthesis workers print from several threads: each line and its newline go out in one write, under the
    bar's lock, so two flows' lines never share a line of a log (print writes the text and the newline apart)."""
    import io
    import threading

    from latte_rtl.progress import Progress

    class Recorder(io.StringIO):
        def __init__(self):
            super().__init__()
            self.writes = []

        def write(self, text):
            self.writes.append(text)
            return super().write(text)

    out = Recorder()
    monkeypatch.setattr("sys.stdout", out)
    bar = Progress(4, "synthesis", stream=io.StringIO())
    threads = [threading.Thread(target=lambda t=t: [bar.print(f"flow {t} line {i}") for i in range(50)])
               for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(out.writes) == 200 and all(w.startswith("flow ") and w.endswith("\n") for w in out.writes)
    assert sorted(out.getvalue().splitlines()) == sorted(f"flow {t} line {i}" for t in range(4) for i in range(50))
