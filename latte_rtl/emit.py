"""Verilog emission and the manifest (SPEC §6): deterministic for the same parameters."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from amaranth import Shape, Value
from amaranth.back import rtlil
from amaranth.lib import data, wiring

from .config import LatteConfig
from .engine import ENGINES
from .npzio import atomic_write
from .sram import SRAM_MODULE, SRAM_VERILOG
from .tools import run_yosys, tool_versions

MANIFEST_VERSION = 1


def engine_verilog(cfg: LatteConfig, top: str) -> tuple[str, list[dict]]:
    """Verilog text of one engine and its port list."""
    engine = ENGINES[top](cfg)
    ports = _port_list(engine)
    return rtlil_to_verilog(rtlil.convert(engine, name=top, emit_src=False)), ports


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


def _port_list(component: wiring.Component) -> list[dict]:
    """Every top-level port: Verilog name, direction, width, and its stream role."""
    ports = []
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        entry = {"name": name, "direction": "input" if member.flow == wiring.In else "output",
                 "width": Value.cast(value).shape().width}
        role = path[-1] if len(path) > 1 and path[-1] in ("valid", "ready", "payload") else None
        if role:
            entry["stream"] = {"interface": "__".join(str(p) for p in path[:-1]), "role": role}
        if isinstance(member.shape, data.Layout):
            entry["fields"] = _fields(member.shape)
        ports.append(entry)
    ports[0:0] = [{"name": "clk", "direction": "input", "width": 1},
                  {"name": "rst", "direction": "input", "width": 1}]
    return ports


def _fields(shape, offset=0, prefix="") -> list[dict]:
    """Bit fields of a (nested) data layout, flattened: name, offset, width, signed."""
    if isinstance(shape, data.StructLayout):
        out = []
        for name, field in shape:
            out += _fields(field.shape, offset + field.offset, f"{prefix}{name}")
        return out
    if isinstance(shape, data.ArrayLayout):
        elem = Shape.cast(shape.elem_shape)
        return [{"name": f"{prefix}[{i}]", "offset": offset + i * elem.width, "width": elem.width,
                 "signed": elem.signed} for i in range(shape.length)]
    s = Shape.cast(shape)
    return [{"name": prefix, "offset": offset, "width": s.width, "signed": s.signed}]


def build_manifest(cfg: LatteConfig, engines_out: dict[str, tuple[str, list[dict]]]) -> dict:
    engines = {
        top: {"file": f"{top}.v", "sha256": hashlib.sha256(text.encode()).hexdigest(), "ports": ports}
        for top, (text, ports) in engines_out.items()
    }
    return {
        "manifest_version": MANIFEST_VERSION,
        "top": "latte_score_engine",
        "params": cfg.params(),
        "derived": cfg.derived,
        "engines": engines,
        "memory_module": {"file": f"{SRAM_MODULE}.v",
                          "sha256": hashlib.sha256(SRAM_VERILOG.encode()).hexdigest()},
        "cycle_model": {
            "latte": "cycles(row) <= 1.15 * beats * (N + 3 * kept) (shared array; measured from the "
                     "first accepted q beat to the end-of-row beat)",
            "dense": "cycles(row) ~= beats * N",
            "beats": cfg.beats,
        },
        "row_protocol": "keys: beats per key, last on the final beat; query: beats per row, head on "
                        "the first beat; result: kept (index, score) ascending, then end=1 with "
                        "kept_count, max_estimate, cycles",
        "tool_versions": tool_versions(),
    }


def generate(cfg: LatteConfig, out_dir: str | Path) -> dict:
    """Write <top>.v for both engines, latte_sram.v and latte_score_engine.json; return the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    engines = {top: engine_verilog(cfg, top) for top in ENGINES}
    manifest = build_manifest(cfg, engines)
    texts = {top: text for top, (text, _) in engines.items()}
    texts[SRAM_MODULE] = SRAM_VERILOG
    for top, text in texts.items():
        atomic_write(out_dir / f"{top}.v", lambda f, t=text: f.write(t.encode()))
    manifest_text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    atomic_write(out_dir / "latte_score_engine.json", lambda f: f.write(manifest_text.encode()))
    return manifest
