"""Mutation hook: named broken variants of a generated design, made by editing its own Verilog text
(so `prove` can be seen to fail with the right property). Used by the tests; from Python:
`apply(design_dir, name)` edits the design in place (prove it with --allow-modified)."""

from __future__ import annotations

import re
from pathlib import Path

_MODULE = re.compile(r"^module (\S+) \(.*?^endmodule", re.MULTILINE | re.DOTALL)

# name: (module path in the top, pattern, replacement, what it breaks, proof, property that must fail)
MUTANTS = {
    "shift": ("accumulator", re.compile(r"\{ acc\[(\d+)\], acc, (\d+)'h0 \}"),
              lambda m: f"{{ acc[{m.group(1)}], acc, {int(m.group(2)) + 1}'h0 }}",
              "the LL pass shifts the accumulator by l + 1 instead of l", "recombination",
              "recombination__score_equals_qk"),
    "ready": ("dot", re.compile(r"assign p_ready = [^;]+;"), lambda m: "assign p_ready = 1'h1;",
              "the dot product's sum register ignores o.ready (overwrites a stalled beat)", "protocol",
              "protocol__"),
    "key_count": ("issuer", re.compile(r"(assign \w+ = key) < (n_keys;)"), lambda m: f"{m.group(1)} <= {m.group(2)}",
                  "the key issuer issues keys j <= N (one too many): an estimate of key N appears", "latency",
                  "equiv__estimate_equals_hh"),
}


def apply(design_dir: str | Path, name: str, top: str = "latte_score_engine") -> str:
    """Edit `top`'s Verilog in `design_dir` into mutant `name`; returns (proof, property that must fail)."""
    import json

    if name not in MUTANTS:
        raise ValueError(f"mutant must be one of {', '.join(MUTANTS)}, not {name!r}")
    path_in_top, pattern, repl, _, proof, prop = MUTANTS[name]
    manifest = json.loads((Path(design_dir) / "manifest.json").read_text())
    entry = manifest["tops"][top]
    module = next(m for m, p in entry["modules"].items() if p == path_in_top)
    file = Path(design_dir) / entry["file"]
    text = file.read_text()
    for match in _MODULE.finditer(text):
        if match.group(0).startswith(f"module {module} ("):
            body, n = pattern.subn(repl, match.group(0), count=1)
            if n != 1:
                raise ValueError(f"mutant {name}: pattern {pattern.pattern!r} must occur in module {module}")
            file.write_text(text[:match.start()] + body + text[match.end():])
            return proof, prop
    raise ValueError(f"module must be in {file}, not {module!r}")
