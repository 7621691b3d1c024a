"""The stream protocol proven block by block, unbounded: each clocked module of a top by k-induction
(SymbiYosys `prove`), alone (its input streams assumed to follow the protocol, every other input free) or,
where that does not close, inside its parent, then further up to the top (the enclosing module's input
streams assumed, the block's output streams asserted): a block whose protocol rests on its neighbours (a read
port's word is the SRAM's read data, a FIFO its producer keeps from filling) is proven where they are. The top
module's own task is the whole design with the top's ports asserted.

Composition: an input stream is assumed only where it comes straight from another block's output stream or
from the top's environment (structure.py); one formed by glue (a combinational fork, a payload assembled in the
parent's body) is left free (`glue`). In a run where the top's inputs keep the protocol, an induction over the
cycles then gives every assumed stream the protocol, so every proven block's outputs keep it. Only if a block
closes nowhere does the top's protocol task in context (a BMC, `runner.py`) run: it asserts the output streams
of the blocks not proven and the input streams of every block; a proven block's output streams are not
checked again. (An earlier draft *assumed* the proven blocks' outputs in context: the accumulator passes its
input on combinationally, so assuming its output held also forced the dot product's output held and hid the
`ready` mutant; the mutant test caught it.)
"""

from __future__ import annotations

import re

from .verilog import Port, stream_ports

_RESET = re.compile(r"\.rst\(([^)]*)\)")

BLOCK_DEPTH = 4  # k of the block inductions (cycles): every block that closes at all closed at 4 (measured)


def clocked_blocks(ports: dict[str, dict[str, Port]], text: str) -> list[str]:
    """Modules with clk and rst that have a stream or a FIFO write to check (the top's file `text`, in
    order); none unless every instance's rst is the top's rst (a block proven alone is reset once, in
    cycle 0: a block reset by the design's own logic would need its reset in its proof)."""
    if any(wire.strip() != "rst" for wire in _RESET.findall(text)):
        return []
    return [m for m, p in ports.items() if "clk" in p and "rst" in p
            and (stream_ports(p) or ("w_en" in p and "w_rdy" in p))]


def ancestors(block: str, modules: dict[str, str], ports: dict[str, dict[str, Port]]) -> tuple[str, ...]:
    """The modules that enclose `block`, its parent first, the top last (`modules`: the manifest's {module:
    path in the top}), each with clk and rst: where `block`'s protocol is tried next when it does not close
    alone."""
    by_path = {path: module for module, path in modules.items()}
    path, found = modules.get(block, ""), []
    while path:
        path = path.rpartition(".")[0]
        module = by_path.get(path)
        if module and "clk" in ports.get(module, {}) and "rst" in ports.get(module, {}):
            found.append(module)
    return tuple(found)


def glue(text: str, ports: dict[str, dict[str, Port]], modules: dict[str, str], blocks: list[str]) -> dict:
    """{(block, input stream): the module that holds the glue} for every block input that passes through glue
    (structure.py), or comes straight from an enclosing module's input that does: no proof assumes their
    protocol. Fails closed: the inputs of a block not found as an instance (a header the parser does not read)
    are all glue, held by the top. `modules`: the manifest's {module: path in the top}."""
    from .structure import glue_streams, instances
    from .verilog import stream_ports

    top = next(m for m, path in modules.items() if path == "")
    found: dict[tuple[str, str], str] = {}
    placed = {top}
    for parent in sorted(modules, key=lambda m: (modules[m].count(".") + bool(modules[m]), modules[m])):
        if f"module {parent} (" not in text:
            continue
        own = {s for (m, s) in found if m == parent}  # glue one level up: not a source for its children either
        children = instances(text, parent)
        found.update({stream: parent for stream in glue_streams(children, ports, parent, set(blocks), own)})
        placed |= {module for module, _ in children.values()}
    for b in blocks:
        if b not in placed:
            found.update({(b, s.name): top for s in stream_ports(ports[b]) if s.valid_in})
    return found


def short_name(block: str) -> str:
    """A block's name in reports: its module path in the top (Amaranth names a submodule `<top>__<path>`),
    `top` for the top module itself."""
    return block.split("__", 1)[1] if "__" in block else "top"


def scope(block: str, within: str | None = None) -> str:
    if within:
        where = f"inside {short_name(within)}, whose input streams are assumed"
    else:
        where = "the whole design, the top's ports" if "__" not in block else "alone, its input streams assumed"
    return f"unbounded (k-induction, k = {BLOCK_DEPTH}): stream protocol of {short_name(block)} ({where})"


def glue_scope(within: str, streams) -> str:
    names = ", ".join(f"{short_name(b)}.{s}" for b, s in streams)
    return (f"unbounded (k-induction, k = {BLOCK_DEPTH}): the streams glue forms between blocks ({names}), inside "
            f"{short_name(within)}, whose input streams are assumed")
