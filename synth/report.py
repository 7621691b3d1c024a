"""Cost comparison LATTE vs dense (JSON + aligned text table)."""

from __future__ import annotations

from latte_rtl.config import LatteConfig
from latte_rtl.tools import tool_versions

DEFAULT_KEEP_RATIO = 0.10


def keys_per_cycle(cfg: LatteConfig, keep_ratio: float) -> dict[str, float]:
    """Throughput the RTL meets (the cycle model): LATTE beats*(1+3r) cycles a key, dense beats."""
    return {"latte": 1.0 / (cfg.beats * (1 + 3 * keep_ratio)), "dense": 1.0 / cfg.beats}


def compare(cfg: LatteConfig, results: dict, keep_ratio: float) -> dict:
    kpc = keys_per_cycle(cfg, keep_ratio)
    comp: dict = {"keep_ratio": keep_ratio, "keys_per_cycle": kpc}
    latte_g, dense_g = results["latte"].get("generic", {}), results["dense"].get("generic", {})
    if "transistors" in latte_g and "transistors" in dense_g:
        lt, dt = latte_g["transistors"], dense_g["transistors"]
        per_area = {"latte": kpc["latte"] / lt * 1e6, "dense": kpc["dense"] / dt * 1e6}
        comp.update({
            "logic_area_ratio": lt / dt,
            "keys_per_cycle_per_mtransistor": per_area,
            "throughput_per_area_ratio": per_area["latte"] / per_area["dense"],
            # LATTE wins while 1 / (1 + 3r) / A_latte > 1 / A_dense
            "break_even_keep_ratio": max(0.0, (dt / lt - 1) / 3),
        })
    for target in ("ice40", "ice40_dsp", "ecp5"):
        a, b = results["latte"].get(target, {}), results["dense"].get(target, {})
        if a.get("luts") and b.get("luts"):
            comp[f"{target}_lut_ratio"] = a["luts"] / b["luts"]
        if a.get("fmax_mhz") and b.get("fmax_mhz"):
            comp[f"{target}_fmax_ratio"] = a["fmax_mhz"] / b["fmax_mhz"]
    return comp


def build_report(cfg: LatteConfig, results: dict, keep_ratio: float) -> dict:
    return {
        "config": cfg.params(),
        "latte": results["latte"],
        "dense": results["dense"],
        "comparison": compare(cfg, results, keep_ratio),
        "memory_bits": memory_bits(cfg),
        "notes": "Memories (key store, q buffer, estimate buffer) are latte_sram black boxes in the generic "
                 "flow: reported in memory_bits, excluded from logic area. FPGA flows map them to block RAM "
                 "with max_keys capped (max_keys_used) and report the engine without its test harness.",
        "tool_versions": tool_versions(),
    }


def memory_bits(cfg: LatteConfig) -> dict[str, int]:
    words = cfg.max_keys * cfg.beats
    latte = (words * cfg.lanes * cfg.bits  # key store: MSB + LSB banks
             + cfg.beats * cfg.lanes * cfg.bits  # q buffer
             + (-(-cfg.max_keys // cfg.scan_width) * cfg.scan_width * cfg.hh_width
                if cfg.threshold_mode == "relative" else 0))  # estimate buffer
    dense = words * cfg.lanes * cfg.bits + cfg.beats * cfg.lanes * cfg.bits
    return {"latte": latte, "dense": dense}


def _fmt(value, spec="") -> str:
    if value is None:
        return "-"
    return format(value, spec) if spec else str(value)


def format_table(report: dict) -> str:
    """Side-by-side text table of every figure, then the ratios."""
    rows = [("metric", "LATTE", "dense", "LATTE/dense")]

    def add(label, target, field, spec=""):
        a, b = report["latte"].get(target, {}), report["dense"].get(target, {})
        if field not in a and field not in b:
            return
        va, vb = a.get(field), b.get(field)
        ratio = f"{va / vb:.3f}" if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and vb else "-"
        rows.append((label, _fmt(va, spec), _fmt(vb, spec), ratio))

    add("generic: transistors (logic)", "generic", "transistors")
    add("generic: gate cells", "generic", "cells")
    add("generic: flip-flops", "generic", "flip_flops")
    for block in sorted(set(report["latte"].get("generic", {}).get("blocks", {}))
                        | set(report["dense"].get("generic", {}).get("blocks", {}))):
        a = report["latte"].get("generic", {}).get("blocks", {}).get(block)
        b = report["dense"].get("generic", {}).get("blocks", {}).get(block)
        rows.append((f"  {block}", _fmt(a), _fmt(b), f"{a / b:.3f}" if a and b else "-"))
    for target, fields in (("ice40", ("luts", "ffs", "bram", "fmax_mhz")), ("ice40_dsp", ("luts", "dsp", "fmax_mhz")),
                           ("ecp5", ("luts", "ffs", "mult18", "bram", "fmax_mhz"))):
        for field in fields:
            add(f"{target}: {field}", target, field, ".1f" if field == "fmax_mhz" else "")
        for key in ("latte", "dense"):
            if "error" in report[key].get(target, {}):
                rows.append((f"{target}: {key} failed", report[key][target]["error"][:60], "", ""))
    mem = report["memory_bits"]
    rows.append(("memory bits (not in logic area)", str(mem["latte"]), str(mem["dense"]), f"{mem['latte'] / mem['dense']:.3f}"))
    comp = report["comparison"]
    kpc = comp["keys_per_cycle"]
    rows.append((f"keys/cycle at keep {comp['keep_ratio']:.2f}", f"{kpc['latte']:.4f}", f"{kpc['dense']:.4f}",
                 f"{kpc['latte'] / kpc['dense']:.3f}"))
    if "keys_per_cycle_per_mtransistor" in comp:
        pa = comp["keys_per_cycle_per_mtransistor"]
        rows.append(("keys/cycle per Mtransistor", f"{pa['latte']:.3f}", f"{pa['dense']:.3f}",
                     f"{comp['throughput_per_area_ratio']:.3f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    if "break_even_keep_ratio" in comp:
        lines.append(f"LATTE beats dense in throughput per transistor while keep ratio < "
                     f"{comp['break_even_keep_ratio']:.3f}")
    return "\n".join(lines)
