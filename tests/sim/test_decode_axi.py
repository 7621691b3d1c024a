"""The decode tops (latte_rtl/tops/decode.py) as Verilog on Icarus and Verilator, their memory cocotbext-axi's
AxiRamRead with random AR and R pause generators: bit-exact against `golden.decode.decode_step` (out of every
query row, kept_count, overflow, bytes read per plane) on adversarial rows (random, buffer overflow, zero kept,
all kept, ties, extreme operands, N = 1; G = 3), relative thresholds (two MSB passes), the dense twin once, a
real KV slice (the embedded lm dump, Icarus) and a long row (N = 16 384, Verilator; 16-bit key indices), planes
at bases that are not 4 KiB aligned."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from amaranth.back import verilog

from latte_rtl.golden.decode import decode_step, memory_image, packed_layout
from latte_rtl.golden.latte import partial_sums
from latte_rtl.hw.sram import SRAM_VERILOG
from latte_rtl.sim.runner import BUILD_ARGS, prepare_simulator, verilator_pch_fix
from latte_rtl.tops.decode import DenseDecodeEngine, LatteDecodeEngine
from tests.amaranth_helpers import SEED
from tests.conftest import require_simulator
from tests.tops.test_decode_tops import DENSE_DESIGN, DESIGN, RELATIVE_DESIGN, case_data, register_writes

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "latte_rtl" / "data" / "default_qk.npz"
REAL = DESIGN.replace(dim=64, lanes=64, axi_data_width=256, kept_buffer=64, max_keys=256)
LONG_N = 16384
LONG = DESIGN.replace(kept_buffer=4096, max_keys=65536)
CASES = [("random", 24), ("overflow", 24), ("zero_kept", 24), ("all_kept", 24), ("ties", 24), ("extremes", 24),
         ("one", 1)]


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


def synthetic_rows(spec):
    """(name, q, k, v, thresholds, mult, comp) of the adversarial rows (tests/tops/test_decode_tops.py)."""
    for c, (case, n) in enumerate(CASES):
        yield (case, *case_data(spec, case, 3, n, SEED + 100 + c))


def relative_rows(spec):
    """Random rows under relative thresholds (two MSB passes): about 15 % kept, only the maximum, all kept."""
    for c, quantile in enumerate((0.85, 1.0, 0.0)):
        q, k, v, _, mult, comp = case_data(spec, "random", 3, 24, SEED + 200 + c)
        hh = partial_sums(q, k, spec)["HH"]
        yield f"relative {quantile}", q, k, v, [int(h.max() - np.quantile(h, quantile)) for h in hh], mult, comp


def real_rows(spec):
    """Three query rows of head 0 of the embedded real lm dump (192 keys, d 64) as one group sharing K/V,
    absolute thresholds at each row's 0.9 quantile of HH, and the same at 0.5."""
    data = np.load(DATA)
    q, k, v = (data[a].astype(np.int64) for a in ("q", "k", "v"))
    rows = np.flatnonzero(data["heads"] == 0)[:3]
    hh = partial_sums(q[rows], k[0], spec)["HH"]
    for keep in (0.1, 0.5):
        yield (f"real keep {keep}", q[rows], k[0], v[0], [int(np.floor(np.quantile(h, 1 - keep))) for h in hh],
               np.array([300, 900, 2000]), np.array([0, 100, 5000]))


def long_rows(spec):
    """One long row: N = 16 384 random keys (seeded), 3 query rows keeping about 10 % each."""
    rng = np.random.default_rng(SEED + 7)
    q, k, v = (rng.integers(-128, 128, shape) for shape in ((3, spec.dim), (LONG_N, spec.dim), (LONG_N, spec.dim)))
    hh = partial_sums(q, k, spec)["HH"]
    yield ("long row N 16384", q, k, v, [int(np.floor(np.quantile(h, 0.9))) for h in hh],
           np.array([400, 400, 400]), np.array([0, 0, 0]))


CONFIGS = {"synthetic": (LatteDecodeEngine, DESIGN, synthetic_rows),
           "dense": (DenseDecodeEngine, DENSE_DESIGN, synthetic_rows),
           "relative": (LatteDecodeEngine, RELATIVE_DESIGN, relative_rows),
           "real": (LatteDecodeEngine, REAL, real_rows), "long": (LatteDecodeEngine, LONG, long_rows)}


def make_cases(dut, spec, rows, engine):
    cases, wants, names = [], [], []
    for c, (name, q, k, v, thresholds, mult, comp) in enumerate(rows):
        n = k.shape[0]
        layout = packed_layout(spec, n, base=(c + 1) * 4096 - spec.bus_bytes * (c + 3))
        lo, image = memory_image(spec, layout, k, v)
        cfg, qs = dut.config.payload.shape(), dut.query.payload.shape()
        writes = [pack(cfg, {"reg": reg, "head": head, "value": value})
                  for reg, head, value in register_writes(layout, n, thresholds, mult, comp)]
        cases.append({"seed": SEED + c, "lo": lo, "image": bytes(image).hex(), "cycles": 20 * n + 4000,
                      "group": dut.group, "writes": writes,
                      "q": [pack(qs, {"row": g, "data": sum((int(x) & 0xFF) << (8 * i) for i, x in enumerate(row))})
                            for g, row in enumerate(q)]})
        wants.append(decode_step(spec, q, k, v, thresholds, mult, comp, engine=engine))
        names.append(name)
    return cases, wants, names


def check(dut, got, want):
    g, d, ow = dut.group, dut.spec.dim, dut.widths.out_width
    o_layout = dut.out.payload.shape()
    outs = {unpack(raw, o_layout["row"].offset, max(1, o_layout["row"].width)) if g > 1 else 0:
            [unpack(raw, o_layout["data"].offset + i * ow, ow, True) for i in range(d)] for raw in got["out"]}
    assert [outs.get(h) for h in range(g)] == want["out"].tolist()
    assert got["record"] is not None, "no record"
    r_layout = dut.rows.payload.shape()
    cw = dut.count_width
    counts = [unpack(got["record"], r_layout["kept_count"].offset + h * cw, cw) for h in range(g)]
    overflow = [unpack(got["record"], r_layout["overflow"].offset + h * cw, cw) for h in range(g)]
    at = r_layout["bytes_read"].offset
    read = {p: unpack(got["record"], at + 48 * i, 48) for i, p in enumerate(("k_msb", "k_lsb", "v"))}
    assert counts == want["kept_count"].tolist() and overflow == want["overflow"].tolist()
    assert read == {p: want["bytes"][p] for p in read}


@pytest.mark.parametrize("sim,rows", [("icarus", "synthetic"), ("verilator", "synthetic"), ("icarus", "dense"),
                                      ("icarus", "relative"), ("icarus", "real"), ("verilator", "long")])
def test_decode_top_on_axi_ram(sim, rows, tmp_path):
    require_simulator(sim)
    prepare_simulator(sim)
    from cocotb_tools.runner import get_runner

    top, design, source_rows = CONFIGS[rows]
    dut, spec = top(design.replace(group=3)), design.decode_spec()
    source = tmp_path / "decode_top.v"
    source.write_text("`timescale 1ns/1ps\n" + verilog.convert(dut, name="decode_top") + SRAM_VERILOG)
    cases, wants, names = make_cases(dut, spec, source_rows(spec), "dense" if rows == "dense" else "latte")
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    runner = get_runner(sim)
    build = tmp_path / "build"
    with verilator_pch_fix(sim):
        runner.build(sources=[source], hdl_toplevel="decode_top", build_dir=build, build_args=BUILD_ARGS[sim],
                     timescale=("1ns", "1ps"), always=True, log_file=build / "build.log")
    shutil.copy(HERE / "decode_axi_bench.py", build)          # the runner imports from test_dir
    env = {"DECODE_CASES": str(tmp_path / "cases.json"), "DECODE_RESULTS": str(tmp_path / "results.json"),
           "PYTHONPATH": os.pathsep.join([str(HERE.parents[1]), os.environ.get("PYTHONPATH", "")])}
    try:
        runner.test(test_module="decode_axi_bench", hdl_toplevel="decode_top", hdl_toplevel_lang="verilog",
                    build_dir=build, test_dir=build, extra_env=env, log_file=build / "test.log")
    except SystemExit:
        pass
    assert (tmp_path / "results.json").is_file(), (build / "test.log").read_text()[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results) == len(cases)
    for name, got, want in zip(names, results, wants):
        print(f"{name}: kept {want['kept_count'].tolist()}, overflow {want['overflow'].tolist()}, "
              f"V rows {int(want['v_rows'].sum())}, bytes {want['bytes']}")
        check(dut, got, want)
    assert sum(len(r["out"]) for r in results) == 3 * len(cases)
