"""The manifest (docs/spec.md §6) of a generated design: written beside the Verilog, read back by every
command that works on a design directory. Its `protocol` and `memory_layout` are the memory bus's (buses/)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..config import LatteConfig
from ..errors import UserError
from ..golden.cycles import CYCLE_MODEL
from ..hw.sram import SRAM_MODULE
from ..tools import tool_versions
from ..tops.axis import PROTOCOL as AXIS_PROTOCOL
from ..tops.axis import register_map
from .fusesoc import core_name
from .netlist import sram_verilog

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 4  # 4: pv_lanes 0 means the largest divisor of lanes up to 16, no longer lanes


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def seal(manifest: dict) -> str:
    """SHA-256 of the manifest's content (all but this field): an edited manifest is detected."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return _sha(json.dumps(body, sort_keys=True))


def build_manifest(cfg: LatteConfig, emitted: dict[str, tuple[str, list[dict], dict[str, str]]],
                   prefix: str = "", interface: str = "native") -> dict:
    """`emitted`: {top: (Verilog, ports, {Verilog module: submodule path})} as top_verilog returns."""
    from ..design.emit import memories
    from ..tops import TOPS, default_top

    tops = {}
    for name, (text, ports, modules) in emitted.items():
        top, module = TOPS[name], next(m for m, path in modules.items() if path == "")
        tops[name] = {"module": module, "file": f"{module}.v", "sha256": _sha(text), "key": top.key,
                      "baseline": top.baseline, "description": top.description, "ports": ports,
                      "modules": modules, "include": f"{module}.vh", "package": f"{module}_pkg.sv",
                      "memories": memories(text, modules, prefix + SRAM_MODULE)}
        if interface == "axis" and any(p["name"] == "s_axil_awaddr" for p in ports):
            tops[name]["register_map"] = register_map(top.decode)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "prefix": prefix,
        "interface": interface,
        "core": core_name(prefix),
        "default_top": default_top(cfg),
        "params": cfg.params(),
        "param_ranges": cfg.param_ranges(),
        "derived": cfg.derived(),
        "tops": tops,
        "memory_module": {"module": prefix + SRAM_MODULE, "file": f"{prefix}{SRAM_MODULE}.v",
                          "sha256": _sha(sram_verilog(prefix))},
        "cycle_model": {
            **CYCLE_MODEL,
            "beats": cfg.score.beats,
        },
        "protocol": {**cfg.bus.protocol(), **({"axis": AXIS_PROTOCOL} if interface == "axis" else {})},
        "tool_versions": tool_versions(),
    }
    layout = cfg.bus.memory_layout(cfg)
    if layout is not None:
        manifest["memory_layout"] = layout
    manifest["manifest_sha256"] = seal(manifest)
    return manifest


def load_design(design_dir: str | Path) -> tuple[LatteConfig, dict]:
    """(config, manifest) of a generated design directory; a UserError says what to do if it is
    not one."""
    design_dir = Path(design_dir)
    path = design_dir / MANIFEST_NAME
    if not path.is_file():
        raise UserError(f"{design_dir} is not a generated design (no {MANIFEST_NAME}): run "
                        f"`latte-rtl generate -o {design_dir}` first")
    try:
        manifest = json.loads(path.read_text())
        if manifest.get("manifest_version") != MANIFEST_VERSION:
            raise ValueError(f"manifest_version {manifest.get('manifest_version')}, expected {MANIFEST_VERSION}")
        return LatteConfig.from_params(**manifest["params"]), manifest
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"{path} is not a valid manifest ({exc}): regenerate the design") from None


def design_inputs(design_dir: str | Path | None, manifest: dict | None = None) -> dict[str, Path]:
    """{what: path} of a design directory's files (its manifest and every file the manifest lists),
    as check_output_file's `inputs`: no output of a command may replace one. {} without a design."""
    from .emit import design_files

    if not design_dir:
        return {}
    design_dir = Path(design_dir)
    manifest = load_design(design_dir)[1] if manifest is None else manifest
    files = {"the design's manifest": design_dir / MANIFEST_NAME}
    for name in sorted(design_files(manifest) - {MANIFEST_NAME}):
        files[f"one of the design's files ({name})"] = design_dir / name
    return files


def verify_design(design_dir: str | Path, manifest: dict, tops=None, *, allow_modified: bool = False) -> list[str]:
    """Check the SHA-256 of each Verilog file of `tops` (all by default) and of the memory module
    against the manifest. A missing file is an error; a modified one is an error unless
    `allow_modified`, when the names of the modified files are returned (to be reported)."""
    design_dir = Path(design_dir)
    entries = [manifest["tops"][t] for t in (tops or manifest["tops"])] + [manifest["memory_module"]]
    modified = [] if manifest.get("manifest_sha256") == seal(manifest) else [MANIFEST_NAME]
    for entry in entries:
        path = design_dir / entry["file"]
        if not path.is_file():
            raise UserError(f"design directory {design_dir} has no {entry['file']}: run "
                            f"`latte-rtl generate -o {design_dir}` again")
        if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            modified.append(entry["file"])
    if modified and not allow_modified:
        raise UserError(f"{', '.join(modified)} in {design_dir} differs from the SHA-256 in its manifest (edited "
                        "after generation): regenerate the design, or pass --allow-modified to use it as it is")
    return modified
