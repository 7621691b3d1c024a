"""Strengthening invariants for the protocol inductions of blocks whose reachable states an induction
cannot see alone: facts about a block's own registers, asserted beside its stream protocol (so they are
proven too, and the induction may use them). Each is added where the block's Verilog has the registers it
names (Amaranth keeps a Signal's name), in every proof of a block, alone or inside an enclosing module.

The threshold filter (hw/threshold.py, `ThresholdFilter`): it counts at most N estimates a row, and its
scan (a word read, `fetched`; its kept keys not yet handed on, `cur_bits`) runs only once all N are in,
one word at a time. Without them an induction starts from a scan beside a word still being read, and
sees a kept key's payload change while it waits. Every FIFO (Amaranth's SyncFIFO): its level within its
depth and equal to the entries between its pointers. The P·V stage: nothing in flight past its accumulate
state. The serial divider: no quotient offered while it divides."""

from __future__ import annotations

import re

from .verilog import has_regs

_FILTER_REGS = ("active", "seen", "n_keys")
_SCAN_REGS = ("fetched", "cur_bits")  # relative mode only
_PENDING_R_RDY = re.compile(r" pending \(\n(?:\s+\..*\n)*?\s+\.r_rdy\(([\w$]+)\)")
_FIFO_DEPTH = re.compile(r"^\s*assign w_rdy = level != \d+'h([0-9a-f]+);", re.MULTILINE)


def _filter(body: str) -> list[str]:
    if not has_regs(body, *_FILTER_REGS):
        return []
    lines = ["    filter__at_most_n_estimates: assert (seen <= n_keys);"]
    if has_regs(body, *_SCAN_REGS):
        lines += ["    filter__scan_once_all_seen: assert (!(fetched || cur_bits != 0) || (active && seen == n_keys));",
                  "    filter__word_compared_once_read: assert (!fetched || cur_bits == 0);"]
    return lines


def _fifo(body: str) -> list[str]:
    """Amaranth's SyncFIFO (`level`, `produce`, `consume`; w_rdy = level != depth): the level within the depth
    and equal to the entries between the pointers (else a write could land on the word being read)."""
    depth = _FIFO_DEPTH.search(body)
    if not depth or not has_regs(body, "produce", "consume"):
        return []
    d = int(depth.group(1), 16)
    return [f"    fifo__level_within_depth: assert (level <= {d} && produce < {d} && consume < {d});",
            f"    fifo__level_between_pointers: assert (((produce + {d} - consume) % {d}) == (level % {d}));"]


def _divider(body: str) -> list[str]:
    """hw/divider.py: a quotient is offered only once its bits are all in (never while still dividing)."""
    return ["    divider__offered_once_done: assert (!(busy && o__valid));"] if has_regs(body, "busy") else []


def _pv(body: str) -> list[str]:
    """stages/pv.py: past ACCUMULATE (the FSM's first state) no V word is asked for, waits or is added, so
    the accumulators hold while the out beats are offered."""
    waiting = _PENDING_R_RDY.search(body)  # the net of its word FIFO's r_rdy (a request waits for its word)
    if not has_regs(body, "fsm_state", "cur", "add") or not waiting:
        return []
    idle = f"!cur && !add && !{waiting.group(1)}"
    return [f"    pv__nothing_in_flight_past_accumulate: assert (fsm_state == 0 || ({idle}));"]


_BY_ROLE = {"filter": _filter, "divider": _divider, "pv": _pv}


def block_lines(path: str, body: str) -> list[str]:
    """The invariant lines for the block at `path` in the top (the manifest's module path) whose Verilog is
    `body`; none for a block that needs none or whose registers are not there."""
    role = _BY_ROLE.get(path.rpartition(".")[2])
    found = (role(body) if role else []) + _fifo(body)
    if not found:
        return []
    return (["  // latte-rtl prove: reachable states (formal/invariants.py)", "  always @(posedge clk) if (!rst) begin"]
            + found + ["  end"])


def instrument(text: str, modules: dict[str, str]) -> str:
    """`text` with the invariant lines in every module that has them (`modules`: the manifest's {module:
    path}); a proof sees those of the modules under its top."""
    from .verilog import insert_before_endmodule, module_body

    for module, path in modules.items():
        lines = block_lines(path, module_body(text, module)) if f"module {module} (" in text else []
        if lines:
            text = insert_before_endmodule(text, module, lines)
    return text
