"""Electrical rule checks of a mapped netlist with no wires: each driver's load against its liberty
limits. Capacitance is counted here (OpenSTA 2.0.17's `report_check_types` has no capacitance
check): a net's load is the sum of its input pins' liberty capacitance, against the driving pin's
`max_capacitance`. Transition comes from OpenSTA (`report_check_types -max_transition`, clocks
propagated, so gated clocks are timed through their ICG)."""

from __future__ import annotations

import functools
import re
from collections import defaultdict

from .clock_tree import NETLIST_CELL as _INSTANCE
from .clock_tree import NETLIST_PIN as _PIN
from .pdk import STDCELL, liberty_text

_CELL = re.compile(r"^\s*cell\s*\(\s*\"?(\w+)\"?\s*\)\s*\{", re.M)
_GROUP = re.compile(r"^\s*(?:pin|bus)\s*\(\s*\"?(\w+)(?:\[[\d:]+\])?\"?\s*\)\s*\{", re.M)
_ATTR = re.compile(r"^\s*(direction|capacitance|max_capacitance)\s*:\s*\"?([\w.]+)\"?\s*;", re.M)
_NET = re.compile(r"\\\S+ |[A-Za-z_][\w$]*(?:\[\d+\])?")


@functools.cache
def pin_table(liberty: str) -> dict[str, dict[str, dict]]:
    """{cell: {pin: {direction, capacitance (pF), max_capacitance (pF, outputs)}}} of a vendored liberty;
    a bus's attributes apply to each of its bits."""
    text = liberty_text(liberty)
    cells = {}
    starts = list(_CELL.finditer(text))
    for n, cell in enumerate(starts):
        body = text[cell.end():starts[n + 1].start() if n + 1 < len(starts) else len(text)]
        pins: dict[str, dict] = {}
        groups = list(_GROUP.finditer(body))
        for k, group in enumerate(groups):
            chunk = body[group.end():groups[k + 1].start() if k + 1 < len(groups) else len(body)]
            attrs = pins.setdefault(group.group(1), {})
            for key, value in _ATTR.findall(chunk[:4000]):
                attrs.setdefault(key, value if key == "direction" else float(value))
        cells[cell.group(1)] = pins
    return cells


def capacitance_violations(netlist: str, liberties: list[str]) -> list[dict]:
    """Every driver pin of the flat `netlist` whose load exceeds its max_capacitance:
    {pin, cell, load_pf, limit_pf}, worst first. Nets driven by a top input are not checked."""
    table: dict[str, dict] = {}
    for lib in [STDCELL, *liberties]:
        table.update(pin_table(lib))
    drivers, loads = {}, defaultdict(float)
    for inst in _INSTANCE.finditer(netlist):
        pins = table.get(inst.group(1))
        if pins is None:
            continue
        for pin, conn in _PIN.findall(inst.group(3)):
            info = pins.get(pin, {})
            for net in _NET.findall(conn):
                if info.get("direction") == "output":
                    pin_path = f"{inst.group(2).strip()}/{pin}"
                    drivers[net.strip()] = (pin_path, inst.group(1), info.get("max_capacitance"))
                else:
                    loads[net.strip()] += info.get("capacitance", 0.0)
    out = [{"pin": pin, "cell": cell, "load_pf": round(loads[net], 4), "limit_pf": limit}
           for net, (pin, cell, limit) in drivers.items() if limit is not None and loads[net] > limit]
    return sorted(out, key=lambda v: v["limit_pf"] - v["load_pf"])
