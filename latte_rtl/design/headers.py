"""Per top, its parameters and payload fields as HDL constants, from the manifest (the one source):
`<module>.vh` (Verilog-2005 localparams, included inside a module body, so two designs never
clash) and `<module>_pkg.sv` (a SystemVerilog package)."""

from __future__ import annotations

import re


def _constant_name(*parts: str) -> str:
    """`monitor__estimate`, `summary.kept_count` → MONITOR_ESTIMATE, SUMMARY_KEPT_COUNT."""
    return re.sub(r"[^A-Za-z0-9]+", "_", "_".join(p for p in parts if p)).strip("_").upper()


def _fields(port: dict) -> list[tuple[str, int | str, str]]:
    """(name, value, comment) of one port: its width, and per field offset, width, signedness
    (an array field once: offset of element 0, element width, count); enum values."""
    stream = port.get("stream")
    if stream and stream["role"] != "payload":
        return []  # valid, ready: one bit each
    base = stream["interface"] if stream else port["name"]
    out = [(_constant_name(base, "PAYLOAD_WIDTH" if stream else "WIDTH"), port["width"],
            f"{port['direction']} {port['name']}")]
    seen = set()
    for f in port.get("fields", []):
        name, index = re.fullmatch(r"(.*?)(?:\[(\d+)\])?", f["name"]).groups()
        name = name or "elem"  # the port is an array itself (an AXI tdata of lanes)
        if name in seen:
            continue
        seen.add(name)
        count = sum(1 for g in port["fields"] if "[" in g["name"]
                    and (g["name"].split("[")[0] or "elem") == name) if index is not None else None
        out += [(_constant_name(base, name, "OFFSET"), f["offset"], f"bit offset in {port['name']}"),
                (_constant_name(base, name, "WIDTH"), f["width"], "element width" if count else "bits"),
                (_constant_name(base, name, "SIGNED"), int(f["signed"]), "two's complement" if f["signed"] else "")]
        if count:
            out.append((_constant_name(base, name, "COUNT"), count, "elements, element i at OFFSET + i*WIDTH"))
        for member, value in f.get("values", {}).items():
            out.append((_constant_name(base, name, member), value, "enum value"))
    for member, value in port.get("values", {}).items():
        out.append((_constant_name(base, member), value, "enum value"))
    return out


def _values(name: str, value, group: str) -> list[tuple[str, int | str, str]]:
    """A manifest value as constants: a bool as 0/1, a [min, max] range as NAME_MIN and NAME_MAX,
    a table as NAME_0.., a nested group (the attention widths) with its name in front."""
    if isinstance(value, dict):
        return [c for key, v in value.items() for c in _values(_constant_name(name, key), v, group)]
    if isinstance(value, list):
        suffixes = ("MIN", "MAX") if name.lower().endswith("range") and len(value) == 2 else range(len(value))
        return [c for s, v in zip(suffixes, value) for c in _values(_constant_name(name, str(s)), v, group)]
    return [(_constant_name(name), int(value) if isinstance(value, bool) else value, group)]


def constants(manifest: dict, top: str) -> list[tuple[str, int | str, str]]:
    """(NAME, value, comment) of every parameter, derived width and payload field of `top`."""
    out = []
    for group in ("params", "derived"):
        for key, value in manifest[group].items():
            out += _values(key, value, group)
    for port in manifest["tops"][top]["ports"]:
        out += _fields(port)
    for name, address in manifest["tops"][top].get("register_map", {}).items():
        out.append((_constant_name("REG", name, "ADDR"), address, "AXI4-Lite byte address (+ 4·head for a block)"))
    return out


def _literal(value, sv: bool) -> tuple[str, str]:
    """(declaration type, literal) of a constant: 32-bit integer where it fits, else 64 bits."""
    if isinstance(value, str):
        return ("string " if sv else "", f'"{value}"')
    if -2**31 <= value < 2**31:
        return ("int " if sv else "integer ", str(value))
    return ("longint " if sv else "signed [63:0] ", f"{'-' if value < 0 else ''}64'sd{abs(value)}")


def _lines(manifest: dict, top: str, sv: bool) -> list[str]:
    lines, table = [], constants(manifest, top)
    names = [name for name, _, _ in table]
    if len(set(names)) != len(names):
        raise ValueError(f"header constants of {top} collide: {sorted(n for n in set(names) if names.count(n) > 1)}")
    for name, value, comment in table:
        kind, literal = _literal(value, sv)
        lines.append(f"localparam {kind}{name} = {literal};" + (f"  // {comment}" if comment else ""))
    return lines


def header_files(manifest: dict) -> dict[str, str]:
    """{file name: text} of the include file and the package of every top."""
    files = {}
    for top, entry in manifest["tops"].items():
        module = entry["module"]
        about = (f"// {module}: parameters, derived widths and payload fields (bit offsets within each port's\n"
                 f"// payload, widths, signedness), from manifest.json. Generated by latte-rtl; do not edit.\n")
        files[entry["include"]] = (about + "// Verilog-2005: `include inside the module that uses them.\n"
                                   + "\n".join(_lines(manifest, top, sv=False)) + "\n")
        files[entry["package"]] = (about + f"package {module}_pkg;\n"
                                   + "".join(f"  {line}\n" for line in _lines(manifest, top, sv=True))
                                   + f"endpackage : {module}_pkg\n")
    return files
