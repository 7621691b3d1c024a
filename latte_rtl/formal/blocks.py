"""The stream protocol proven block by block, unbounded: each clocked module of a top on its own (its
input streams assumed to follow the protocol, every other input free), its output streams asserted,
by k-induction (SymbiYosys `prove`). A block whose proof closes holds its protocol in **any**
environment that keeps the protocol on its inputs, for every cycle; the top module's own task is the
whole design (every block in context) with the top's ports asserted.

Composition: the top's protocol task (a BMC in context, `runner.py`) then asserts the output streams of the
blocks whose induction does not close alone (their protocol rests on their context: a counter fed by a
stream without backpressure, a FIFO kept from filling by its producer, a memory port's read data) and the
input streams of every block; a proven block's output streams are not checked again. Sound with no
assumption added: in a run where every asserted stream keeps the protocol up to cycle t, every input of a
proven block keeps it up to t (asserted at that block's inputs), so its proof gives its outputs at t. (An
earlier draft *assumed* the proven blocks' outputs in context: the accumulator passes its input on
combinationally, so assuming its output held also forced the dot product's output held and hid the `ready`
mutant; the mutant test caught it.)
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


def short_name(block: str) -> str:
    """A block's name in reports: its module path in the top (Amaranth names a submodule `<top>__<path>`),
    `top` for the top module itself."""
    return block.split("__", 1)[1] if "__" in block else "top"


def scope(block: str) -> str:
    where = "the whole design, the top's ports" if "__" not in block else "alone, its input streams assumed"
    return f"unbounded (k-induction, k = {BLOCK_DEPTH}): stream protocol of {short_name(block)} ({where})"
