"""End-to-end cost per query row of the attention tops on real data: cycles the RTL measured,
SRAM bits read per bank, multiplier operations, and keys/cycle per transistor with the logic
area of a synthesis report."""

from __future__ import annotations

import numpy as np

from latte_rtl.config import LatteConfig
from latte_rtl.textfmt import text_table, wrap
from latte_rtl.tops import comparison_pairs, get_top


def bank_bits(cfg: LatteConfig) -> dict[str, int]:
    """Bits of one word of each SRAM bank."""
    sc = cfg.score
    return {"msb": sc.lanes * sc.msb_bits, "lsb": sc.lanes * sc.lsb_bits, "full": sc.lanes * sc.bits,
            "v": sc.lanes * sc.bits}


def row_costs(cfg: LatteConfig, raw: dict) -> dict:
    """Per-row means of one attention top's run (the testbench's raw result: cycles, kept,
    reads_<bank> word counts, and `interval` where rows overlap). `cycles_per_row` and keys/cycle are
    throughput: the mean interval between row completions (the rows of a head back to back); the
    mean latency (`cycles`) is `latency_per_row`."""
    lanes, bits = cfg.score.lanes, bank_bits(cfg)
    banks = [b for b in bits if f"reads_{b}" in raw]
    reads = {b: float(np.mean(raw[f"reads_{b}"])) for b in banks}
    key_words = sum(v for b, v in reads.items() if b != "v")  # one dot-product token per key word read
    n_keys = raw["kept"].shape[1]
    kept = float(raw["kept"].sum(axis=1).mean())
    latency = float(np.mean(raw["cycles"]))
    cycles = float(np.mean(raw["interval"])) if "interval" in raw else latency
    return {
        "rows": int(len(raw["cycles"])), "keys": n_keys, "kept_per_row": kept,
        "cycles_per_row": cycles, "latency_per_row": latency, "keys_per_cycle": n_keys / cycles,
        "sram_bits_per_row": {b: reads[b] * bits[b] for b in banks},
        "sram_bits_total_per_row": sum(reads[b] * bits[b] for b in banks),
        # score array: lanes products per token; softmax: s·M in each of 3 passes + e·inv; P·V: lanes per V word
        "mult_ops_per_row": {"score": lanes * key_words, "softmax": 4 * kept, "pv": lanes * reads.get("v", 0.0)},
    }


def compare(cfg: LatteConfig, costs: dict[str, dict], synth: dict | None) -> dict:
    """Each attention top against its baseline: cycles, SRAM bits and, with a synthesis report,
    keys/cycle per transistor."""
    out = {}
    for top, base in comparison_pairs(costs):
        a, b = costs[top.name], costs[base.name]
        comp = {"top": top.name, "baseline": base.name,
                "cycles_ratio": a["cycles_per_row"] / b["cycles_per_row"],
                "sram_bits_ratio": a["sram_bits_total_per_row"] / b["sram_bits_total_per_row"],
                "mult_ops_ratio": sum(a["mult_ops_per_row"].values()) / sum(b["mult_ops_per_row"].values())}
        ta = (synth or {}).get("tops", {}).get(top.name, {}).get("generic", {}).get("transistors")
        tb = (synth or {}).get("tops", {}).get(base.name, {}).get("generic", {}).get("transistors")
        if ta and tb:
            comp["keys_per_cycle_per_transistor_ratio"] = (a["keys_per_cycle"] / ta) / (b["keys_per_cycle"] / tb)
            comp["logic_area_ratio"] = ta / tb
        out[f"{top.key}_vs_{base.key}"] = comp
    return out


def cost_rows(costs: dict[str, dict], synth: dict | None = None) -> list[tuple]:
    """Per-row costs side by side (one column per top), header first."""
    names = list(costs)
    rows = [("per query row", *(get_top(n).key for n in names))]

    def add(label, fn, spec):
        rows.append((label, *(format(fn(costs[n]), spec) if fn(costs[n]) is not None else "-" for n in names)))

    add("cycles between rows (measured)", lambda c: c["cycles_per_row"], ".1f")
    add("latency, cycles (measured)", lambda c: c.get("latency_per_row", c["cycles_per_row"]), ".1f")
    add("keys kept", lambda c: c["kept_per_row"], ".1f")
    add("keys/cycle", lambda c: c["keys_per_cycle"], ".3f")
    for bank, label in (("msb", "SRAM bits read: K MSB"), ("lsb", "SRAM bits read: K LSB"),
                        ("full", "SRAM bits read: K"), ("v", "SRAM bits read: V")):
        add(label, lambda c, b=bank: c["sram_bits_per_row"].get(b), ".0f")
    add("SRAM bits read: total", lambda c: c["sram_bits_total_per_row"], ".0f")
    for part in ("score", "softmax", "pv"):
        add(f"multiplier ops: {part}", lambda c, p=part: c["mult_ops_per_row"][p], ".0f")
    if synth:
        rows.append(("logic transistors (generic)",
                     *(str(synth["tops"].get(n, {}).get("generic", {}).get("transistors", "-")) for n in names)))
    return rows


def comparison_lines(comparison: dict) -> list[str]:
    lines = []
    for name, comp in comparison.items():
        text = (f"{name}: cycles x{comp['cycles_ratio']:.3f}, SRAM bits read x{comp['sram_bits_ratio']:.3f}, "
                f"multiplier ops x{comp['mult_ops_ratio']:.3f}")
        if "keys_per_cycle_per_transistor_ratio" in comp:
            text += f", keys/cycle per transistor x{comp['keys_per_cycle_per_transistor_ratio']:.3f}"
        lines.append(text)
    return lines


def format_costs(costs: dict[str, dict], comparison: dict, synth: dict | None = None) -> str:
    """Side-by-side table per row (one column per top), then the ratios; fits 100 columns."""
    return "\n".join([text_table(cost_rows(costs, synth)), *(wrap(line) for line in comparison_lines(comparison))])
