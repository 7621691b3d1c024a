"""End-to-end cost per query row of the attention tops on real data: cycles the RTL measured,
SRAM bits read per bank, multiplier operations, and keys/cycle per transistor with the logic
area of a synthesis report."""

from __future__ import annotations

import numpy as np

from latte_rtl.config import LatteConfig
from latte_rtl.textfmt import text_table, wrap
from latte_rtl.tops import TOPS, comparison_pairs


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


def compare(costs: dict[str, dict], pairs: list[tuple[str, str]] | None = None) -> dict:
    """Each attention top against its baseline (`pairs` of cost keys, default every registered top with its
    baseline among `costs`): cycles, SRAM bits and, where both carry `transistors` (generic), keys/cycle per
    transistor."""
    out = {}
    for top, base in registered_pairs(costs) if pairs is None else pairs:
        a, b = costs[top], costs[base]
        comp = {"top": top, "baseline": base,
                "cycles_ratio": a["cycles_per_row"] / b["cycles_per_row"],
                "sram_bits_ratio": a["sram_bits_total_per_row"] / b["sram_bits_total_per_row"],
                "mult_ops_ratio": sum(a["mult_ops_per_row"].values()) / sum(b["mult_ops_per_row"].values())}
        ta, tb = a.get("transistors"), b.get("transistors")
        if ta and tb:
            comp["keys_per_cycle_per_transistor_ratio"] = (a["keys_per_cycle"] / ta) / (b["keys_per_cycle"] / tb)
            comp["logic_area_ratio"] = ta / tb
        out[f"{label(top)}_vs_{label(base)}"] = comp
    return out


def registered_pairs(costs: dict) -> list[tuple[str, str]]:
    """(top, baseline) names of every registered top among `costs` whose baseline is there too."""
    return [(top.name, base.name) for top, base in comparison_pairs(n for n in costs if n in TOPS)]


def label(name: str) -> str:
    """A cost column's short name: a registered top's key, else the name itself."""
    return TOPS[name].key if name in TOPS else name


def cost_rows(costs: dict[str, dict]) -> list[tuple]:
    """Per-row costs side by side (one column per top), header first."""
    names = list(costs)
    rows = [("per query row", *map(label, names))]

    def add(label, fn, spec):
        rows.append((label, *(format(fn(costs[n]), spec) if fn(costs[n]) is not None else "-" for n in names)))

    add("cycles between rows (measured)", lambda c: c["cycles_per_row"], ".1f")
    add("latency, cycles (measured)", lambda c: c.get("latency_per_row", c["cycles_per_row"]), ".1f")
    add("keys kept", lambda c: c["kept_per_row"], ".1f")
    add("keys/cycle", lambda c: c["keys_per_cycle"], ".3f")
    for bank, label_ in (("msb", "SRAM bits read: K MSB"), ("lsb", "SRAM bits read: K LSB"),
                         ("full", "SRAM bits read: K"), ("v", "SRAM bits read: V")):
        add(label_, lambda c, b=bank: c["sram_bits_per_row"].get(b), ".0f")
    add("SRAM bits read: total", lambda c: c["sram_bits_total_per_row"], ".0f")
    for part in ("score", "softmax", "pv"):
        add(f"multiplier ops: {part}", lambda c, p=part: c["mult_ops_per_row"][p], ".0f")
    if any("transistors" in c for c in costs.values()):
        add("logic transistors (generic)", lambda c: c.get("transistors"), "")
    return rows


def comparison_lines(comparison: dict) -> list[str]:
    lines = []
    for name, comp in comparison.items():
        text = (f"{name}: cycles x{comp['cycles_ratio']:.3f}, SRAM bits read x{comp['sram_bits_ratio']:.3f}, "
                f"multiplier ops x{comp['mult_ops_ratio']:.3f}")
        if "keys_per_cycle_per_transistor_ratio" in comp:
            text += f", keys/cycle per transistor x{comp['keys_per_cycle_per_transistor_ratio']:.3f}"
        asic = comp.get("ihp130", {})
        if "keys_per_s_per_mm2_measured_ratio" in asic:
            text += (f"; ihp130: fmax x{asic['fmax_ratio']:.3f}, mm² x{asic['total_area_ratio']:.3f}, keys/s per mm² "
                     f"x{asic['keys_per_s_per_mm2_measured_ratio']:.3f} (measured cycles)")
        if "energy_per_row_ratio" in asic:
            text += f", energy per row x{asic['energy_per_row_ratio']:.3f}"
        lines.append(text)
    return lines


def format_costs(costs: dict[str, dict], comparison: dict) -> str:
    """Side-by-side table per row (one column per top), then the ratios; fits 100 columns."""
    return "\n".join([text_table(cost_rows(costs)), *(wrap(line) for line in comparison_lines(comparison))])
