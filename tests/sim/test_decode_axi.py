"""The decode score stage (latte_rtl/stages/decode_score.py) as Verilog on Icarus and Verilator, its memory
cocotbext-axi's AxiRamRead with random AR and R pause generators: bit-exact against
`golden.decode.decode_step` on adversarial rows (random, zero kept, all kept with buffer overflow, ties,
extreme operands; G = 3), on a real KV slice (the embedded lm dump, Icarus) and on a long row (N = 16 384,
Verilator; 16-bit key indices), planes at bases that are not 4 KiB aligned."""

import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from amaranth.back import verilog

from latte_rtl.golden.decode import decode_step, memory_image, packed_layout
from latte_rtl.golden.latte import partial_sums
from latte_rtl.sim.runner import BUILD_ARGS, prepare_simulator, verilator_pch_fix
from latte_rtl.stages.decode_score import DecodeScoreStage
from tests.amaranth_helpers import SEED
from tests.conftest import require_simulator
from tests.stages.test_decode_score import SPEC, case_data

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "latte_rtl" / "data" / "default_qk.npz"
REAL = dataclasses.replace(SPEC, dim=64, lanes=64, bus_bytes=32, kept_buffer=64, max_keys=256)
LONG_N = 16384
LONG = dataclasses.replace(SPEC, kept_buffer=4096, max_keys=65536)
CASES = [("random", 3), ("zero_kept", 3), ("all_kept", 3), ("ties", 3), ("extremes", 3), ("random", 3)]


def pack(layout, values: dict) -> int:
    """An Amaranth StructLayout value as an int from {field: int} (signed fields masked)."""
    raw = 0
    for name, value in values.items():
        field = layout[name]
        raw |= (int(value) & ((1 << field.width) - 1)) << field.offset
    return raw


def unpack(raw: int, offset: int, width: int, signed: bool = False) -> int:
    value = (raw >> offset) & ((1 << width) - 1)
    return value - (1 << width) if signed and value >> (width - 1) else value


def synthetic_rows():
    """(name, q, k, v, thresholds) of the adversarial rows (tests/stages/test_decode_score.py)."""
    for c, (case, group) in enumerate(CASES):
        yield (case, *case_data(case, group, SEED + 100 + c))


def real_rows():
    """Three query rows of head 0 of the embedded real lm dump (192 keys, d 64) as one group sharing K/V,
    absolute thresholds at each row's 0.9 quantile of HH, and the same at 0.5."""
    data = np.load(DATA)
    q, k, v = (data[a].astype(np.int64) for a in ("q", "k", "v"))
    rows = np.flatnonzero(data["heads"] == 0)[:3]
    hh = partial_sums(q[rows], k[0], REAL)["HH"]
    for keep in (0.1, 0.5):
        yield f"real keep {keep}", q[rows], k[0], v[0], [int(np.floor(np.quantile(h, 1 - keep))) for h in hh]


def long_rows():
    """One long row: N = 16 384 random keys (seeded), 3 query rows keeping about 10 % each."""
    rng = np.random.default_rng(SEED + 7)
    q, k, v = (rng.integers(-128, 128, shape) for shape in ((3, LONG.dim), (LONG_N, LONG.dim), (LONG_N, LONG.dim)))
    hh = partial_sums(q, k, LONG)["HH"]
    yield "long row N 16384", q, k, v, [int(np.floor(np.quantile(h, 0.9))) for h in hh]


CONFIGS = {"synthetic": (SPEC, synthetic_rows, 6), "real": (REAL, real_rows, 8), "long": (LONG, long_rows, 16)}


def make_cases(dut, spec, rows):
    cases, wants, names = [], [], []
    for c, (name, q, k, v, thresholds) in enumerate(rows):
        n = k.shape[0]
        layout = packed_layout(spec, n, base=(c + 1) * 4096 - spec.bus_bytes * (c + 3))
        lo, image = memory_image(spec, layout, k, v)
        regs = {f"{what}_{plane.split('_')[-1]}": getattr(p, what) for plane, p in layout.items()
                for what in ("base", "stride")}
        t_width = dut.widths.threshold_width
        cases.append({"seed": SEED + c, "lo": lo, "image": bytes(image).hex(), "cycles": 20 * n + 2000,
                      "layout": pack(dut.layout.shape(), {**regs, "n_keys": n}),
                      "thresholds": sum((t & ((1 << t_width) - 1)) << (g * t_width) for g, t in enumerate(thresholds)),
                      "q": [pack(dut.q.payload.shape(), {"row": g, "data": sum((int(x) & 0xFF) << (8 * i)
                                                                              for i, x in enumerate(row))})
                            for g, row in enumerate(q)]})
        wants.append(decode_step(spec, q, k, v, thresholds, [400] * len(q)))
        names.append(name)
    return cases, wants, names


def check(dut, got, want):
    kept, g = want["kept"], dut.group
    s_layout = dut.scores.payload.shape()
    score_w = dut.widths.score_width
    beats = []
    for raw in got["scores"]:
        mask = unpack(raw, s_layout["kept"].offset, g)
        beats.append((unpack(raw, s_layout["index"].offset, dut.index_width), mask,
                      [unpack(raw, s_layout["score"].offset + h * score_w, score_w, True) if mask >> h & 1 else None
                       for h in range(g)]))
    expected = [(j, sum(int(kept[h, j]) << h for h in range(g)),
                 [int(want["scores"][h, j]) if kept[h, j] else None for h in range(g)])
                for j in range(kept.shape[1]) if kept[:, j].any()]
    assert beats == expected
    assert got["record"] is not None, "no record"
    r_layout = dut.record.payload.shape()
    cw = dut.index_width + 1
    counts = [unpack(got["record"], r_layout["kept_count"].offset + h * cw, cw) for h in range(g)]
    overflow = [unpack(got["record"], r_layout["overflow"].offset + h * cw, cw) for h in range(g)]
    bytes_at = r_layout["bytes_read"].offset
    k_msb = unpack(got["record"], bytes_at, 48)
    k_lsb = unpack(got["record"], bytes_at + 48, 48)
    assert counts == want["kept_count"].tolist() and overflow == want["overflow"].tolist()
    assert (k_msb, k_lsb) == (want["bytes"]["k_msb"], want["bytes"]["k_lsb"])


@pytest.mark.parametrize("sim,rows", [("icarus", "synthetic"), ("verilator", "synthetic"), ("icarus", "real"),
                                      ("verilator", "long")])
def test_decode_score_stage_on_axi_ram(sim, rows, tmp_path):
    require_simulator(sim)
    prepare_simulator(sim)
    from cocotb_tools.runner import get_runner

    spec, source_rows, index_width = CONFIGS[rows]
    dut = DecodeScoreStage(dim=spec.dim, group=3, data_width=spec.bus_bytes * 8, index_width=index_width,
                           kept_buffer=spec.kept_buffer)
    source = tmp_path / "decode_score.v"
    source.write_text("`timescale 1ns/1ps\n" + verilog.convert(dut, name="decode_score"))
    cases, wants, names = make_cases(dut, spec, source_rows())
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    runner = get_runner(sim)
    build = tmp_path / "build"
    with verilator_pch_fix(sim):
        runner.build(sources=[source], hdl_toplevel="decode_score", build_dir=build, build_args=BUILD_ARGS[sim],
                     timescale=("1ns", "1ps"), always=True, log_file=build / "build.log")
    shutil.copy(HERE / "decode_axi_bench.py", build)          # the runner imports from test_dir
    env = {"DECODE_CASES": str(tmp_path / "cases.json"), "DECODE_RESULTS": str(tmp_path / "results.json"),
           "PYTHONPATH": os.pathsep.join([str(HERE.parents[1]), os.environ.get("PYTHONPATH", "")])}
    try:
        runner.test(test_module="decode_axi_bench", hdl_toplevel="decode_score", hdl_toplevel_lang="verilog",
                    build_dir=build, test_dir=build, extra_env=env, log_file=build / "test.log")
    except SystemExit:
        pass
    assert (tmp_path / "results.json").is_file(), (build / "test.log").read_text()[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results) == len(cases)
    for name, got, want in zip(names, results, wants):
        print(f"{name}: {len(got['scores'])} keys scored, kept {want['kept_count'].tolist()}, "
              f"overflow {want['overflow'].tolist()}")
        check(dut, got, want)
    assert np.sum([len(r["scores"]) for r in results]) > 0
