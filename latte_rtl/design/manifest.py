"""The manifest (docs/spec.md §6) of a generated design: written beside the Verilog, read back by every
command that works on a design directory."""

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
MANIFEST_VERSION = 3
PROTOCOL = {
    "reset": "synchronous, active high (rst); assert it for at least one cycle after power-on",
    "streams": "valid/ready: a beat transfers on a rising clk edge with valid and ready high; the payload "
               "is held while valid and not ready",
    "keys": "beats = ceil(dim/lanes) per key, lane i of beat b is element b*lanes+i (lanes past dim "
            "ignored); last = 1 on the final beat of the final key of the set, which sets N",
    "query": "beats per row, lane order as keys; head on the first beat",
    "scores": "one beat per kept key, index ascending: exact score q.k and the estimate HH (0 in dense)",
    "rows": "score engines: one record per row after its scores: kept_count, max_estimate, head, cycles (first "
            "accepted q beat to the cycle the record becomes valid); attention engines: one record after the "
            "row's out beats: kept_count, prob_sum, v_reads, head, cycles",
    "key_limit": "on the query's first beat: the row sees keys j < min(N, key_limit); send N (or max_keys) for all",
    "values": "attention engines: V beats in the key format, last on the final beat of the set; accepted while "
              "busy is low (busy also covers the V means after a load with vmean)",
    "config": "attention engines: (reg, head, value) writes, always ready; reg THRESHOLD = 0 (value's low "
              "threshold_width bits, two's complement in absolute mode), SOFTMAX_MULT = 1 (M_h), DENOM_COMP = 2 (C_h)",
    "out": "attention engines: beats beats of lanes signed accumulators o_i (element b*lanes + i)",
}


DECODE_PROTOCOL = {
    "reset": PROTOCOL["reset"],
    "streams": PROTOCOL["streams"],
    "config": "decode tops: (reg, head, value) writes, ready while busy is low; reg codes in the config payload's reg "
              "field (BASE_MSB, STRIDE_MSB, BASE_LSB, STRIDE_LSB, BASE_V, STRIDE_V, N_KEYS with head 0: byte "
              "addresses and strides per memory_layout, N keys of the step; THRESHOLD, MULT, COMP with head = query "
              "row g: T_g (absolute mode: two's complement in its low bits; relative: unsigned), M_g, C_g); registers "
              "hold between steps",
    "query": "decode tops: one beat per query row g = row, data = the q vector packed as a memory row (element i at "
             "bits [i*bits, (i+1)*bits), two's complement); ready while busy is low",
    "start": "decode tops: one beat (payload ignored) begins a decode step with the registers and q rows given",
    "out": "decode tops: one beat per query row, row = 0..group-1 in order, data[i] = o_i of that row (signed)",
    "rows": "decode tops: one record per step: kept_count[g], overflow[g], bytes_read.k_msb/k_lsb/v (bytes of the R "
            "beats of this step per plane, shared by its group), cycles (start accepted to the record valid)",
    "axi": "decode tops: AXI4 read manager axi_ar*/axi_r* (ARID 0, INCR bursts of up to 16 beats never crossing 4 "
           "KiB, ARSIZE = data width, up to axi_outstanding bursts outstanding, responses in order)",
}


def memory_layout(cfg: LatteConfig) -> dict:
    """The external memory layout of a decode design's KV head (golden.decode)."""
    spec = cfg.decode_spec()
    planes = {p: {"field_bits": spec.field_bits(p), "signed": p != "k_lsb", "row_bytes": spec.row_bytes(p),
                  "row_beats": spec.row_beats(p), "base_register": f"BASE_{r}", "stride_register": f"STRIDE_{r}"}
              for p, r in (("k_msb", "MSB"), ("k_lsb", "LSB"), ("v", "V"))}
    return {"planes": planes, "alignment_bytes": spec.bus_bytes, "addr_width": spec.addr_width,
            "max_keys": spec.max_keys,
            "rules": "row j of a plane at base + j*stride; field i of a row in bits [i*w, (i+1)*w) of the row read as "
                     "a little-endian integer (k_msb: k >> lsb_bits, k_lsb: k & (2^lsb_bits - 1), v); base and "
                     "stride multiples of alignment_bytes; stride >= row_bytes; no byte of one plane inside another; "
                     "every byte below 2^addr_width; 1 <= N <= max_keys; a row is read as row_beats whole beats"}


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
        "protocol": {**(DECODE_PROTOCOL if cfg.decode.axi else PROTOCOL),
                     **({"axis": AXIS_PROTOCOL} if interface == "axis" else {})},
        "tool_versions": tool_versions(),
    }
    if cfg.decode.axi:
        manifest["memory_layout"] = memory_layout(cfg)
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
