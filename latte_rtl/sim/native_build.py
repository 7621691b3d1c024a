"""Build the native testbench of a top: sim/native_harness.cpp compiled with the top's Verilator
model and two small headers generated from the manifest (the model class, the port tables).
Cached like the cocotb models, in DIR/sim_build/<top>_native/, keyed by the sources, the
harness, the headers and the Verilator arguments."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from latte_rtl.design.files import file_lock
from latte_rtl.errors import UserError
from latte_rtl.signals import run_child

from .ports import stream_kinds
from .runner import BUILD_ARGS, cached_build, design_sources, prepare_simulator, verilator_pch_fix, write_stamp

HARNESS = Path(__file__).resolve().parent / "native_harness.cpp"
EXECUTABLE = "harness"
# -O3: Verilator's own optimizations; the C++ compiler gets -O2 (Verilator's default is -Os).
# UNOPTFLAT (a performance note on signals Verilator cannot order, e.g. the operand select of
# some designs) only fails the build here: cocotb's --public-flat-rw build never reports it.
NATIVE_ARGS = BUILD_ARGS["verilator"] + ["-O3", "--x-assign", "fast", "-CFLAGS", "-O2"]


def words(width: int) -> int:
    """uint32 words of a `width`-bit payload."""
    return (width + 31) // 32


@dataclass(frozen=True)
class HarnessPorts:
    """The ports the harness moves, in the order its op codes index them: input streams,
    output streams (sinks with ready, observation ports without), plain output ports it reads.
    Each entry is (name, payload width in bits)."""
    sources: tuple[tuple[str, int], ...]
    outputs: tuple[tuple[str, int, bool], ...]  # (name, width, has ready)
    probes: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, manifest: dict, top: str) -> HarnessPorts:
        ports = {p["name"]: p for p in manifest["tops"][top]["ports"]}
        kinds = stream_kinds(manifest, top)
        width = {name: ports[f"{name}__payload"]["width"] for name in kinds if kinds[name] != "reader"}
        return cls(
            sources=tuple((n, width[n]) for n, k in kinds.items() if k == "source"),
            outputs=tuple((n, width[n], k == "sink") for n, k in kinds.items() if k in ("sink", "observation")),
            probes=tuple((p["name"], p["width"]) for p in ports.values()
                         if p["direction"] == "output" and "stream" not in p))

    def probe_index(self, name: str) -> int:
        return [n for n, _ in self.probes].index(name)


def cxx_name(port: str) -> str:
    """The port's member name in the Verilator model: an underscore after an underscore is
    encoded as `__05F` (`keys__valid` -> `keys___05Fvalid`)."""
    return "".join("__05F" if c == "_" and port[i - 1:i] == "_" else c for i, c in enumerate(port))


def _setter(port: str, width: int) -> str:
    port = cxx_name(port)
    if width > 64:
        return f"[](Model* m, const uint32_t* w) {{ for (size_t i = 0; i < {words(width)}; ++i) m->{port}[i] = w[i]; }}"
    high = " | (uint64_t(w[1]) << 32)" if width > 32 else ""
    return f"[](Model* m, const uint32_t* w) {{ m->{port} = uint64_t(w[0]){high}; }}"


def _getter(port: str, width: int) -> str:
    port = cxx_name(port)
    if width > 64:
        return f"[](Model* m, uint32_t* w) {{ for (size_t i = 0; i < {words(width)}; ++i) w[i] = m->{port}[i]; }}"
    high = " w[1] = uint32_t(uint64_t(m->" + port + ") >> 32);" if width > 32 else ""
    return f"[](Model* m, uint32_t* w) {{ w[0] = uint32_t(m->{port});{high} }}"


def axi_functions(widths: dict[str, int], define: str = "LATTE_AXI") -> list[str]:
    """latte_ports.h's accessors of the `axi` read port (`widths`: {port name: bits}) for the harness's
    AxiMemory: LATTE_AXI, AXI_DATA_BYTES, AXI_DATA_WORDS, axi_arvalid/araddr/arlen/arsize/rready, axi_drive."""
    data = widths["axi__rdata"]
    get = {name: f"m->{cxx_name('axi__' + name)}" for name in ("arvalid", "araddr", "arlen", "arsize", "rready")}
    rdata = cxx_name("axi__rdata")
    put = (f"for (size_t i = 0; i < {words(data)}; ++i) m->{rdata}[i] = w[i];" if data > 64
           else f"m->{rdata} = uint64_t(w[0]) | (uint64_t(w[1]) << 32);")
    return [f"#define {define} 1", f"constexpr size_t AXI_DATA_BYTES = {data // 8};",
            f"constexpr size_t AXI_DATA_WORDS = {words(data)};",
            *(f"inline uint64_t axi_{name}(Model* m) {{ return uint64_t({expr}); }}" for name, expr in get.items()),
            "inline void axi_drive(Model* m, bool arready, bool rvalid, const uint32_t* w, bool rlast) {",
            f"    m->{cxx_name('axi__arready')} = arready; m->{cxx_name('axi__rvalid')} = rvalid; "
            f"m->{cxx_name('axi__rlast')} = rlast;",
            f"    m->{cxx_name('axi__rresp')} = 0; m->{cxx_name('axi__rid')} = 0; {put}", "}", ""]


def headers(ports: HarnessPorts, module: str, bus_lines: list[str] = ()) -> dict[str, str]:
    """{file name: text} of latte_model.h and latte_ports.h for the top's Verilog `module` (`bus_lines`:
    the accessors of its memory bus's native model, `bus_functions`)."""
    model = f"#pragma once\n#include \"V{module}.h\"\nusing Model = V{module};\n"
    lines = ["#pragma once", "#include <vector>", "", "std::vector<SourcePort> SOURCES;",
             "std::vector<OutputPort> OUTPUTS;", "", "const ProbePort PROBES[] = {"]
    lines += ([f"    {{\"{n}\", {words(w)}, {_getter(n, w)}}}," for n, w in ports.probes]
              or ["    {nullptr, 0, nullptr},"])
    lines += ["};", "", "CData* clock_port(Model* m) { return &m->clk; }",
              "CData* reset_port(Model* m) { return &m->rst; }", "", "void bind_ports(Model* m) {"]
    lines += [f"    SOURCES.push_back({{\"{n}\", {words(w)}, {_setter(n + '__payload', w)}, "
              f"&m->{cxx_name(n + '__valid')}, &m->{cxx_name(n + '__ready')}}});" for n, w in ports.sources]
    lines += [f"    OUTPUTS.push_back({{\"{n}\", {words(w)}, {_getter(n + '__payload', w)}, "
              f"&m->{cxx_name(n + '__valid')}, {'&m->' + cxx_name(n + '__ready') if ready else 'nullptr'}}});"
              for n, w, ready in ports.outputs]
    lines += ["}", "", *bus_lines]
    return {"latte_model.h": model, "latte_ports.h": "\n".join(lines)}


def bus_functions(manifest: dict, top: str) -> list[str]:
    """latte_ports.h's lines for the native model of the design's memory bus (buses/: its `native_functions`
    of the top's bus port widths), none for a top without a bus port."""
    from ..buses import BUSES

    bus = BUSES[manifest["params"]["kv_memory"]]
    port = getattr(bus, "port", None)
    ports = manifest["tops"][top]["ports"]
    widths = {p["name"]: p["width"] for p in ports if port and p["name"].startswith(f"{port}__")}
    return bus.native_functions(widths) if widths else []


def build_harness(design_dir: Path, top: str, manifest: dict, *, sources: list[Path] | None = None,
                  args: tuple[str, ...] = (), header: tuple[str, ...] = (),
                  variant: str = "native") -> tuple[Path, bool]:
    """The harness executable of `top` (built now, or from the cache) and whether it was built now.
    One process builds while others wait (a lock beside the build directory). A failed build
    keeps its log in the build directory and says so. `sources` replace the design's Verilog (a
    netlist with the top's module name and ports), built with Verilator `args` and the lines `header`
    added (to latte_ports.h), in DIR/sim_build/<top>_<variant>."""
    prepare_simulator("verilator")
    if manifest.get("interface", "native") != "native":
        raise UserError(f"the native engine drives the native valid/ready ports; this design has the "
                        f"{manifest['interface']} interface: use --engine cocotb")
    module, rtl = design_sources(design_dir, top)
    build_dir = design_dir / "sim_build" / f"{top}_{variant}"
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(build_dir.parent / f"{top}_{variant}.lock"):
        return _build(build_dir, top, module, sources or rtl, manifest, [*NATIVE_ARGS, *args],
                      [*bus_functions(manifest, top), *header])


def _build(build_dir: Path, top: str, module: str, sources: list[Path], manifest: dict,
           args: list[str], header: list[str]) -> tuple[Path, bool]:
    generated = headers(HarnessPorts.of(manifest, top), module, header)
    key = hashlib.sha256(json.dumps([args, generated]).encode() + HARNESS.read_bytes())
    for src in sources:
        key.update(src.read_bytes())
    exe = build_dir / EXECUTABLE
    if cached_build(build_dir, key.hexdigest(), [exe], "native harness"):
        return exe, False
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir(parents=True)
    for name, text in generated.items():
        (build_dir / name).write_text(text)
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", str(min(4, os.cpu_count() or 1)), *args,
           "-CFLAGS", f"-I{build_dir}", "--top-module", module, "--Mdir", str(build_dir / "obj"), "-o", str(exe),
           *map(str, sources), str(HARNESS)]
    log = build_dir / "build.log"
    with verilator_pch_fix("verilator"), open(log, "w") as out, \
            tempfile.TemporaryDirectory(prefix="latte-build-", ignore_cleanup_errors=True) as tmp:
        # the compilers' temporary files (gcc's cc*.s) in a directory of their own: a killed build's go with it
        done = run_child(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": tmp})
    if done.returncode or not exe.is_file():
        raise UserError(f"verilator could not build the native harness of {top} (it needs a C++ compiler and "
                        f"make): see {log}")
    write_stamp(build_dir, key.hexdigest(), [exe])
    return exe, True
