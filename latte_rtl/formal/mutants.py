"""Mutation hook: named broken variants of a generated design, made by editing its own Verilog text
(so `prove` can be seen to fail with the right property). Used by the tests; from Python:
`apply(design_dir, name)` edits the design in place (prove it with --allow-modified)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

_MODULE = re.compile(r"^module (\S+) \(.*?^endmodule", re.MULTILINE | re.DOTALL)


class Mutant(NamedTuple):
    path: str  # module path in the top (manifest "modules")
    pattern: re.Pattern
    repl: Callable  # (match, manifest) -> replacement text
    what: str  # what it breaks
    proof: str  # the proof that must catch it
    prop: str  # (a prefix of) the property that must fail
    top: str = "latte_score_engine"
    design: str = "small"  # the CI design it breaks (tests/formal): small, decode, rounds2


def _index_width(manifest: dict) -> int:
    """The decode tops' key index width: max(1, bits of max_keys - 1)."""
    return max(1, (manifest["params"]["max_keys"] - 1).bit_length())


def _truncated_credit(m: re.Match, manifest: dict) -> str:
    """msb_room = (rows in flight − waiting) as index_width + 1 bits: the credit port before commit 3e34533."""
    mask = (1 << (_index_width(manifest) + 1)) - 1
    return f"assign {m.group(1) or ''}msb_room{m.group(2) or ''} = ({m.group(3)}) & {mask};"


MUTANTS = {
    "shift": Mutant("accumulator", re.compile(r"\{ ((?:acc\[\d+\], )+)acc, (\d+)'h0 \}"),  # sign bits, acc, l zeros
                    lambda m, _: f"{{ {m.group(1)}acc, {int(m.group(2)) + 1}'h0 }}",
                    "the LL pass shifts the accumulator by l + 1 instead of l", "recombination",
                    "recombination__pass3_partial_score"),  # the LL pass's first beat: before the score leaves
    "product": Mutant("dot.multipliers", re.compile(r"\$signed\(([^()]+?)\) \* \$signed\(([^()]+?)\)"),
                      lambda m, _: f"{m.group(1)} * {m.group(2)}",
                      "a lane multiplies its operands as unsigned numbers", "datapath",
                      "datapath__stage_products"),  # the products stage, a cycle before the sum
    "ready": Mutant("dot", re.compile(r"assign p_ready = [^;]+;"), lambda m, _: "assign p_ready = 1'h1;",
                    "the dot product's sum register ignores o.ready (overwrites a stalled beat)", "protocol",
                    "protocol__"),
    "key_count": Mutant("issuer", re.compile(r"(assign \w+ = key) < (n_keys;)"),
                        lambda m, _: f"{m.group(1)} <= {m.group(2)}",
                        "the key issuer issues keys j <= N (one too many): an estimate of key N reaches the filter "
                        "and the row does not end", "latency", "latency__row_within_cycle_model"),
    # issue 29: with max_keys 2 and 8 rows in flight the credit 8 reads as 0: no MSB row is ever asked for
    "credit": Mutant("score", re.compile(r"assign (\{ \S+, )?msb_room( \})? = ([^;]+);"), _truncated_credit,
                     "the decode score stage's MSB credit msb_room is cut to index_width + 1 bits (rows in flight "
                     "as a multiple of 2^(index_width + 1) read as 0: the step never ends)", "liveness",
                     "liveness__step_ends_within_bound", "latte_decode_engine", "decode"),
    # rounds 2: q's first-round operand is its whole high part, not its top m1 bits
    "round1_bits": Mutant("fetch", re.compile(r"\{ (\S+)\[\d+\], \1\[\d+:\d+\] \}"), lambda m, _: m.group(1),
                          "the first round multiplies one operand's whole high part (the first in the fetch's "
                          "Verilog), not its top m1 bits", "equivalence",
                          "equiv__", design="rounds2"),
}


def apply(design_dir: str | Path, name: str, top: str | None = None) -> tuple[str, str]:
    """Edit the Verilog of `top` (default: the mutant's) in `design_dir` into mutant `name`; returns (proof,
    property that must fail)."""
    import json

    if name not in MUTANTS:
        raise ValueError(f"mutant must be one of {', '.join(MUTANTS)}, not {name!r}")
    mutant = MUTANTS[name]
    manifest = json.loads((Path(design_dir) / "manifest.json").read_text())
    entry = manifest["tops"][top or mutant.top]
    module = next(m for m, p in entry["modules"].items() if p == mutant.path)
    file = Path(design_dir) / entry["file"]
    text = file.read_text()
    for match in _MODULE.finditer(text):
        if match.group(0).startswith(f"module {module} ("):
            body, n = mutant.pattern.subn(lambda m: mutant.repl(m, manifest), match.group(0), count=1)
            if n != 1:
                raise ValueError(f"mutant {name}: pattern {mutant.pattern.pattern!r} must occur in module {module}")
            file.write_text(text[:match.start()] + body + text[match.end():])
            return mutant.proof, mutant.prop
    raise ValueError(f"module must be in {file}, not {module!r}")
