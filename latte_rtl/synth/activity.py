"""Switching activity and SRAM accesses of a top, measured in simulation for the energy report.

The top runs on real data (the embedded lm dump: a few rows of every head, thresholds set for the
requested keep ratio) on Verilator with a waveform, checked bit-exact against golden as every run
is. From the VCD: clock cycles; per instance (VCD scope) the mean toggles per bit per cycle of its
signals; per memory (`latte_sram` instance) the cycles with a read, with a write and with both.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ACTIVITY_SIM = "verilator"
ACTIVITY_SEED = 1
ROOT_SCOPES = ("$rootio", "TOP")  # Verilator's scopes above the top module


@dataclass
class Activity:
    """What one simulated run did: `toggles` per instance path ("" = the top's own signals)."""
    cycles: int
    rows: int
    keys: int
    kept: int  # keys kept, all rows together
    toggles: dict = field(default_factory=dict)
    reads: dict = field(default_factory=dict)
    writes: dict = field(default_factory=dict)
    slice_writes: dict = field(default_factory=dict)  # macro writes of one bank row (a write: the slices it reaches)
    write_lanes: dict = field(default_factory=dict)  # memory -> {a write's lane enables: writes}
    read_write_conflicts: dict = field(default_factory=dict)
    input: str = ""
    load_cycles: int = 0  # cycles that write a key or V store (loads; the rest serve rows)
    samples: dict = field(default_factory=dict)  # (path, signal, bit) -> bool per rising clock edge
    signal_toggles: dict = field(default_factory=dict)  # (path, signal) -> toggles per bit per cycle


def _embedded_rows(cfg, rows_per_head: int) -> dict | None:
    """The embedded dump's first `rows_per_head` rows of each head, or None if it does not fit `cfg`."""
    from dataclasses import replace

    from latte_rtl.cli.common import default_qk
    from latte_rtl.errors import UserError
    from latte_rtl.npzio import load_attention, load_qk

    try:  # the dump has per-head thresholds: a row-thresholds design gets its rows' heads' (activity_input)
        inp = load_qk(default_qk(), replace(cfg.score, row_thresholds=False))
        if cfg.attention.attention:
            load_attention(inp, cfg)
    except UserError:
        return None
    rows = np.concatenate([np.flatnonzero(inp.heads == h)[:rows_per_head] for h in np.unique(inp.heads)])
    extras = {k: v for k, v in inp.extras.items() if k in ("v", "softmax_mult", "denominator_comp")}
    if inp.round1_thresholds is not None:
        extras["round1_thresholds"] = inp.round1_thresholds.copy()
    return dict(q=inp.q[rows], k=inp.k, heads=inp.heads[rows], thresholds=inp.thresholds.copy(),
                key_limit=inp.key_limit[rows], **extras)


def _random_rows(cfg, rows_per_head: int) -> dict:
    from latte_rtl.sim.stimulus import add_attention_arrays, regression_cases

    heads = min(cfg.score.heads, 3)
    case = regression_cases(cfg.score, ACTIVITY_SEED, rows=rows_per_head * heads,
                            keys=min(cfg.score.max_keys, 192))["random"]
    if cfg.attention.attention:
        add_attention_arrays(cfg, {"random": case}, np.random.default_rng(ACTIVITY_SEED))
    return case


def _decode_input(cfg, path: Path, keep: float | None) -> dict:
    """A decode design's activity input: the `random` decode case (seed ACTIVITY_SEED; N within the dense top's
    kept buffer), its thresholds as they are or, with `keep`, set to keep about that fraction of each row's keys."""
    from latte_rtl.npzio import load_qk
    from latte_rtl.sim.stimulus import decode_cases
    from latte_rtl.tops import default_top, get_top

    arrays = decode_cases(cfg, ACTIVITY_SEED, keys=192)["random"]
    if keep is not None:
        _thresholds_for_keep(cfg, arrays, keep)
    np.savez(path, **arrays)
    kept = get_top(default_top(cfg)).expected(load_qk(path, cfg.score), cfg)["kept"]
    source = f"random int{cfg.score.bits} decode steps (seed {ACTIVITY_SEED})"
    return {"rows": len(arrays["q"]), "keys": arrays["k"].shape[-2], "kept": int(kept.sum()), "input": source}


def _thresholds_for_keep(cfg, arrays: dict, keep: float) -> None:
    """Set each head's threshold in `arrays` to keep about a fraction `keep` of its rows' keys (golden's
    estimate; a decode input's head compares against its KV head's keys)."""
    from latte_rtl import golden

    q, k, heads = (np.asarray(arrays[n]) for n in ("q", "k", "heads"))
    lo, hi = cfg.score.widths.threshold_range
    for h in np.unique(heads):
        keys = k[arrays["kv_heads"][h]] if "kv_heads" in arrays else k[h] if k.ndim == 3 else k
        est = golden.estimates(golden.partial_sums(q[heads == h], keys, cfg.score)["HH"], q[heads == h], keys,
                               cfg.score)
        arrays["thresholds"][h] = np.clip(golden.threshold_for_keep(est, keep, cfg.score.threshold_mode), lo, hi)


def _round1_for(cfg, arrays: dict) -> None:
    """A rounds-2 design's T1 per head (`round1_thresholds`) for the thresholds in `arrays`: calibrate --rounds 2's
    at its default recall, on these rows."""
    from dataclasses import replace
    from types import SimpleNamespace

    from latte_rtl.workloads.dump import ROUND1_RECALL, calibrate_round1

    q, k, heads = (np.asarray(arrays[n]) for n in ("q", "k", "heads"))
    limit = np.asarray(arrays.get("key_limit", np.full(len(q), k.shape[-2])))
    rows = SimpleNamespace(q=q, k=k, heads=heads, key_mask=np.arange(k.shape[-2])[None, :] < limit[:, None])
    arrays["round1_thresholds"] = np.array(calibrate_round1(rows, replace(cfg.score, rounds=1), arrays["thresholds"],
                                                            ROUND1_RECALL)["round1_thresholds"], np.int64)


# Rows of each head in an energy run: 8 rows of the lm dump; all 64 of layer 1 give 2.8 % (LATTE attention)
# and 1.2 % (dense) more energy per row (docs/results/asic.md, `benchmarks/bench_ihp130.py --rows-per-head 16`).
ENERGY_ROWS_PER_HEAD = 2


def activity_input(cfg, path: Path, *, rows_per_head: int, keep: float | None) -> dict:
    """Write the run's input: real rows of the embedded lm dump where it fits the design, else random
    ones (seed ACTIVITY_SEED); with `keep`, per-head thresholds that keep about that fraction.
    Returns {rows, keys, kept (keys kept in all rows), input}."""
    from latte_rtl import golden

    if cfg.bus.external:  # K and V in memory: decode steps, not rows
        return _decode_input(cfg, path, keep)
    arrays = _embedded_rows(cfg, rows_per_head)
    source = "embedded lm dump" if arrays else f"random int{cfg.score.bits} (seed {ACTIVITY_SEED})"
    arrays = arrays or _random_rows(cfg, rows_per_head)
    q, k, heads = (np.asarray(arrays[n]) for n in ("q", "k", "heads"))
    if keep is not None:
        _thresholds_for_keep(cfg, arrays, keep)
    if cfg.score.row_thresholds:  # each row brings its head's T
        arrays["row_thresholds"] = np.asarray(arrays["thresholds"])[heads]
    if cfg.score.rounds == 2 and (keep is not None or "round1_thresholds" not in arrays):
        _round1_for(cfg, arrays)
    np.savez(path, **arrays)
    kept = golden.score_rows(q, k, heads, np.asarray(arrays["thresholds"]), cfg.score,
                             row_thresholds=arrays.get("row_thresholds"),
                             round1_thresholds=arrays.get("round1_thresholds")).kept
    return {"rows": len(q), "keys": k.shape[-2], "kept": int(kept.sum()), "input": source}


def measure(design_dir: Path, top: str, cfg, memory_paths: list[str], *, rows_per_head: int = ENERGY_ROWS_PER_HEAD,
            keep: float | None = None, watch_for=None) -> Activity:
    """Simulate `top` with waves on the activity input and read the VCD. `watch_for({path: names
    the VCD has})` -> {(path, signal): bits} asks for those bits' values at every rising edge."""
    from latte_rtl.sim.runner import prepare_simulator, simulate

    prepare_simulator(ACTIVITY_SIM)
    with tempfile.TemporaryDirectory(prefix="latte-activity-") as tmp:
        source, result = Path(tmp) / "input.npz", Path(tmp) / "rtl.npz"
        info = activity_input(cfg, source, rows_per_head=rows_per_head, keep=keep)
        run = simulate(design_dir, [source], [result], top=top, sim=ACTIVITY_SIM, waves=True)
        watch = watch_for(vcd_names(run["waves"])) if watch_for else None
        activity = parse_vcd(run["waves"], memory_paths, watch)
    activity.rows, activity.keys, activity.kept = info["rows"], info["keys"], info["kept"]
    activity.input = info["input"]
    return activity


def _header(lines, memory_paths):
    """{id: (scope path, width)} of every variable below the top, the clock's id, memory enable
    ids, and {(scope path, name): (id, width)}."""
    scopes, variables, clock, enables, named = [], {}, None, {}, {}
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0] == "$scope":
            scopes.append(words[2])
        elif words[0] == "$upscope":
            scopes.pop()
        elif words[0] == "$var":
            width, ident, name = int(words[2]), words[3], words[4]
            inside = [s for s in scopes if s not in ROOT_SCOPES]  # [top, instance, ...]
            if not inside:
                continue
            path = ".".join(inside[1:])
            named.setdefault((path, name), (ident, width))
            if len(inside) == 1 and name == "clk":
                clock = ident
            elif name != "clk":
                variables.setdefault(ident, (path, width))
            if path in memory_paths and name in ("ren", "wen"):
                enables[(path, name)] = ident
        elif words[0] == "$enddefinitions":
            return variables, clock, enables, named
    raise ValueError("VCD without $enddefinitions")


def vcd_names(path: Path) -> dict[str, set[str]]:
    """{scope path below the top: the signal names the VCD has there}."""
    with open(path) as vcd:
        named = _header(vcd, set())[3]
    names: dict[str, set[str]] = {}
    for scope, name in named:
        names.setdefault(scope, set()).add(name)
    return names


def _samples(changes: dict, watch: dict, named: dict, cycles: int) -> dict:
    """{(path, signal, bit): its value at each rising edge} from each watched id's changes
    [(first edge it holds for, value)]."""
    out = {}
    for (path, name), bits in watch.items():
        ident = named[(path, name)][0]
        events = changes.get(ident, [])
        for bit in bits:
            values = np.zeros(cycles, bool)
            for (start, value), (end, _) in zip(events, [*events[1:], (cycles, 0)], strict=True):
                values[start:end] = (value >> bit) & 1
            out[(path, name, bit)] = values
    return out


def parse_vcd(path: Path, memory_paths: list[str], watch: dict | None = None) -> Activity:
    """Cycles, toggles per bit per cycle per scope, and memory accesses sampled at each rising clock
    edge; with `watch` {(path, signal): bits}, those bits at every rising edge."""
    with open(path) as vcd:
        variables, clock, enables, named = _header(vcd, set(memory_paths))
        watched = {named[key][0] for key in watch or {}}
        history: dict[str, list] = {ident: [] for ident in watched}
        values: dict[str, int] = {}
        flips = dict.fromkeys(variables, 0)
        counts = {m: [0, 0, 0] for m in memory_paths}  # reads, writes, both
        lanes: dict = {m: {} for m in memory_paths}  # each write's lane enables
        cycles, loads, first, changes = 0, 0, True, []
        stores = [m for m in memory_paths if is_store(m)]

        def step():  # one timestamp: sample at a rising clock edge, before this timestamp's changes
            nonlocal cycles, loads
            if any(ident == clock and value and not values.get(clock) for ident, value in changes):
                cycles += 1
                loads += any(values.get(enables.get((m, "wen")), 0) for m in stores)
                for memory, count in counts.items():
                    r, w = (values.get(enables.get((memory, n)), 0) for n in ("ren", "wen"))
                    count[0], count[1], count[2] = count[0] + bool(r), count[1] + bool(w), count[2] + bool(r and w)
                    if w:
                        lanes[memory][w] = lanes[memory].get(w, 0) + 1
            for ident, value in changes:
                if not first and ident in flips:
                    flips[ident] += (value ^ values.get(ident, 0)).bit_count()
                if ident in watched:
                    history[ident].append((cycles, value))
                values[ident] = value
            changes.clear()

        for line in vcd:
            head = line[:1]
            if head == "#":
                step()
                first = line.strip() == "#0"
            elif head == "b":
                bits, ident = line[1:].split()
                changes.append((ident, int(bits, 2)))
            elif head in ("0", "1"):
                changes.append((line[1:].strip(), int(head)))
        step()
    reads, writes, both = ({m: c[i] for m, c in counts.items()} for i in range(3))
    bits_by_scope: dict[str, int] = {}
    flips_by_scope: dict[str, int] = {}
    for ident, (scope, width) in variables.items():
        bits_by_scope[scope] = bits_by_scope.get(scope, 0) + width
        flips_by_scope[scope] = flips_by_scope.get(scope, 0) + flips[ident]
    toggles = {s: flips_by_scope[s] / bits_by_scope[s] / max(1, cycles) for s in bits_by_scope}
    signal_toggles = {key: flips[ident] / width / max(1, cycles) for key, (ident, width) in named.items()
                      if ident in flips}
    return Activity(cycles=cycles, rows=0, keys=0, kept=0, toggles=toggles, reads=reads, writes=writes,
                    write_lanes=lanes, read_write_conflicts=both, load_cycles=loads, signal_toggles=signal_toggles,
                    samples=_samples(history, watch or {}, named, cycles))


def is_store(memory_path: str) -> bool:
    """A key or V store (written by loads), not a per-row buffer."""
    return "key_store" in memory_path or "v_store" in memory_path
