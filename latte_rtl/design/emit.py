"""Verilog emission of every registered top (deterministic for the same parameters)."""

from __future__ import annotations

import enum as py_enum
import re
import tempfile
from pathlib import Path

from amaranth import Shape, Value
from amaranth.back import rtlil
from amaranth.lib import data, enum, wiring

from ..config import LatteConfig
from ..errors import UserError
from ..hw.sram import SRAM_MODULE
from ..tools import run_yosys
from .files import atomic_write_text
from .netlist import check_prefix, finish_verilog, module_names, rename_modules, sram_verilog

INTERFACES = ("native", "axis")


def top_component(cfg: LatteConfig, top, interface: str = "native") -> tuple[wiring.Component, str]:
    """(component, module name without prefix) of a top with its native valid/ready streams, or
    behind AXI-Stream / AXI4-Lite ports (`<top>_axis`)."""
    component = top.build(cfg)
    if interface == "native":
        return component, top.name
    from ..tops.axis import AxisWrapper

    if top.decode:  # out: one beat per query row, tlast on row G − 1; registers per query row
        g = cfg.decode.group
        return AxisWrapper(component, heads=g, beats=g, decode=True), f"{top.name}_axis"
    return AxisWrapper(component, heads=cfg.score.heads, beats=cfg.score.beats), f"{top.name}_axis"


def top_verilog(cfg: LatteConfig, top, prefix: str = "",
                interface: str = "native") -> tuple[str, list[dict], dict[str, str]]:
    """Verilog text of one registered top (module `<prefix><top.name>`, `…_axis` for the AXI
    variant), its port list and {Verilog module: submodule path below the top ("" for the top)}."""
    component, name = top_component(cfg, top, interface)
    il = rtlil.convert(component, name=name, emit_src=False)
    names = module_names(il, name, prefix)
    ports = port_list(component)
    module = prefix + name
    text = finish_verilog(rtlil_to_verilog(rename_modules(il, names)), module, [p["name"] for p in ports],
                          top.description)
    paths = {new: ".".join(old.lstrip("\\").split(".")[1:]) for old, new in names.items() if old != f"\\{SRAM_MODULE}"}
    return text, ports, dict(sorted(paths.items()))


def rtlil_to_verilog(rtlil_text: str) -> str:
    """Amaranth's RTLIL to Verilog through Yosys, every process lowered to cells.

    amaranth.back.verilog keeps processes as `always @*` + `casez` blocks, which Verilator's
    lint rejects (CASEINCOMPLETE/CASEOVERLAP) and Icarus 11 leaves at X until an input moves.
    Lowered (`proc`, `pmuxtree`) the output is plain assigns and flip-flops. Register initial
    values are dropped: every register is defined by the synchronous reset (`rst`), as in an
    ASIC; assert it for a cycle after power-on.
    """
    script = "; ".join([
        "read_rtlil design.il", "proc -norom", "pmuxtree", "attrmap -remove init",
        "opt_clean -purge", "write_verilog -noattr design.v",
    ])
    with tempfile.TemporaryDirectory(prefix="latte-emit-") as tmp:
        Path(tmp, "design.il").write_text(rtlil_text)
        result = run_yosys(["-q", "-p", script], cwd=tmp)
        if result.returncode != 0:
            raise RuntimeError(f"yosys failed while writing Verilog: {result.stderr.strip()[-2000:]}")
        return Path(tmp, "design.v").read_text()


def port_list(component: wiring.Component) -> list[dict]:
    """Every top-level port: Verilog name, direction, width, its stream role, its bit fields."""
    ports = [{"name": "clk", "direction": "input", "width": 1},
             {"name": "rst", "direction": "input", "width": 1}]
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        entry = {"name": name, "direction": "input" if member.flow == wiring.In else "output",
                 "width": Value.cast(value).shape().width}
        if len(path) > 1 and path[-1] in ("valid", "ready", "payload"):
            entry["stream"] = {"interface": "__".join(str(p) for p in path[:-1]), "role": path[-1]}
        if isinstance(member.shape, data.Layout):
            entry["fields"] = _fields(member.shape)
        elif isinstance(member.shape, (enum.EnumMeta, py_enum.EnumMeta)):
            entry["values"] = {m.name: m.value for m in member.shape}
        ports.append(entry)
    return ports


def _fields(shape, offset=0, prefix="") -> list[dict]:
    """Bit fields of a (nested) data layout, flattened: name, offset, width, signed."""
    if isinstance(shape, data.StructLayout):
        out = []
        for name, field in shape:
            out += _fields(field.shape, offset + field.offset, f"{prefix}{'.' if prefix else ''}{name}")
        return out
    if isinstance(shape, data.ArrayLayout):
        elem = Shape.cast(shape.elem_shape)
        return [{"name": f"{prefix}[{i}]", "offset": offset + i * elem.width, "width": elem.width,
                 "signed": elem.signed} for i in range(shape.length)]
    s = Shape.cast(shape)
    field = {"name": prefix, "offset": offset, "width": s.width, "signed": s.signed}
    if isinstance(shape, (enum.EnumMeta, py_enum.EnumMeta)):  # an Amaranth enum, or a Python IntEnum
        field["values"] = {m.name: m.value for m in shape}
    return [field]


_MODULE = re.compile(r"^module\s+(\S+)", re.M)
_PARAM = re.compile(r"\.(\w+)\((?:32'd)?(\d+)\)")


def memories(verilog: str, modules: dict[str, str], sram_module: str = SRAM_MODULE) -> list[dict]:
    """Every SRAM instance of a top's Verilog: path below the top, words, bits per word.
    `modules` maps each Verilog module to its path below the top (as top_verilog returns)."""
    out = []
    sram = re.compile(r"(?<!\S)" + re.escape(sram_module) + r"\s*#\((.*?)\)\s*(\S+)\s*\(", re.S)
    starts = [(m.start(), m.group(1)) for m in _MODULE.finditer(verilog)] + [(len(verilog), None)]
    for (begin, module), (end, _) in zip(starts, starts[1:]):
        path = modules[module]
        for inst in sram.finditer(verilog, begin, end):
            params = dict((k, int(v)) for k, v in _PARAM.findall(inst.group(1)))
            name = inst.group(2).lstrip("\\")
            out.append({"path": f"{path}.{name}" if path else name, "words": params["DEPTH"],
                        "bits": params["WIDTH"], "write_granularity": params["GRAN"]})
    return sorted(out, key=lambda m: m["path"])


def generate(cfg: LatteConfig, out_dir: str | Path, *, prefix: str = "", interface: str = "native",
             force: bool = False) -> dict:
    """Write every registered top's Verilog (`<prefix><top>.v`), its Verilog-2005 include and
    SystemVerilog package of parameters and fields, `<prefix>latte_sram.v`, the FuseSoC core and
    manifest.json; return the manifest. Every module name starts with `prefix`. Nothing is written
    unless every file name fits the file system and `out_dir` holds no other design's files
    (with `force`, those are removed); the files appear all together or, on a failure (a full
    disk) or a signal, not at all: a new `out_dir` is not created, an existing one is untouched."""
    from ..tops import tops_for
    from .files import check_name_length, check_output_dir, staged_dir
    from .fusesoc import core_file
    from .headers import header_files
    from .manifest import MANIFEST_NAME, build_manifest

    check_prefix(prefix)
    if interface not in INTERFACES:
        raise UserError(f"--interface must be one of {', '.join(INTERFACES)}, not {interface!r}")
    if interface == "axis":
        from ..tops.axis import check_registers

        check_registers(cfg)
    out_dir = check_output_dir(out_dir)
    emitted = {top.name: top_verilog(cfg, top, prefix, interface) for top in tops_for(cfg)}
    manifest = build_manifest(cfg, emitted, prefix, interface)
    files = {manifest["tops"][name]["file"]: text for name, (text, _, _) in emitted.items()}
    files |= {manifest["memory_module"]["file"]: sram_verilog(prefix), **header_files(manifest), **core_file(manifest)}
    for name in files:
        check_name_length(out_dir / name, "--prefix")
    stale = stale_files(out_dir, set(files) | {MANIFEST_NAME})
    if stale and not force:
        raise UserError(f"{out_dir} holds another design: {', '.join(stale[:3])}{' …' if len(stale) > 3 else ''} "
                        f"({len(stale)} files its manifest lists) would be left beside this one: add --force to "
                        "replace that design, or choose another directory")
    with staged_dir(out_dir) as stage:  # every file complete before any is in `out_dir`
        for name, text in files.items():
            atomic_write_text(stage / name, text)
        atomic_write_text(stage / MANIFEST_NAME, manifest_text(manifest))
    for name in stale:
        (out_dir / name).unlink(missing_ok=True)
    return manifest


def design_files(manifest: dict) -> set[str]:
    """Every file of a generated design (its manifest included) as its manifest names them."""
    from .fusesoc import core_file
    from .manifest import MANIFEST_NAME

    files = {MANIFEST_NAME, manifest["memory_module"]["file"]}
    for top in manifest["tops"].values():
        files |= {top[k] for k in ("file", "include", "package") if k in top}
    try:
        files |= set(core_file(manifest))
    except (KeyError, TypeError):
        pass
    return files


def stale_files(out_dir: Path, new: set[str]) -> list[str]:
    """Files of the design already in `out_dir` (per its manifest) that `new` does not have."""
    import json

    from .manifest import MANIFEST_NAME

    try:
        old = json.loads((out_dir / MANIFEST_NAME).read_text())
        listed = design_files(old)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []  # no design there, or not one we can read: nothing of ours to remove
    return sorted(n for n in listed - new if "/" not in n and (out_dir / n).is_file())


def manifest_text(manifest: dict) -> str:
    import json

    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"
