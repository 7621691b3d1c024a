"""Cost report: every top's synthesis results, and each top against its registered baseline
(JSON + aligned text table)."""

from __future__ import annotations

from latte_rtl.config import LatteConfig
from latte_rtl.textfmt import text_table, wrap
from latte_rtl.tools import tool_versions
from latte_rtl.tops import comparison_pairs, get_top

DEFAULT_KEEP_RATIO = 0.10


def break_even_keep_ratio(top, base, cfg: LatteConfig, area_top: float, area_base: float) -> float:
    """Largest keep ratio at which `top` still has at least `base`'s keys/cycle per area
    (bisection on the registered throughput models; 0 if never, 1 if always)."""
    def lead(r):
        return top.keys_per_cycle(cfg, r) / area_top - base.keys_per_cycle(cfg, r) / area_base

    if lead(0.0) < 0:
        return 0.0
    if lead(1.0) >= 0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if lead(mid) >= 0 else (lo, mid)
    return lo


def compare_pair(cfg: LatteConfig, top, base, results: dict, keep_ratio: float) -> dict:
    """One top against its baseline: throughput (model the RTL meets), area, fmax, LUT ratios."""
    kpc = {"top": top.keys_per_cycle(cfg, keep_ratio), "baseline": base.keys_per_cycle(cfg, keep_ratio)}
    comp: dict = {"top": top.name, "baseline": base.name, "keep_ratio": keep_ratio, "keys_per_cycle": kpc}
    a, b = results.get(top.name, {}).get("generic", {}), results.get(base.name, {}).get("generic", {})
    if "transistors" in a and "transistors" in b:
        at, bt = a["transistors"], b["transistors"]
        per_area = {"top": kpc["top"] / at * 1e6, "baseline": kpc["baseline"] / bt * 1e6}
        comp.update({
            "logic_area_ratio": at / bt,
            "keys_per_cycle_per_mtransistor": per_area,
            "throughput_per_area_ratio": per_area["top"] / per_area["baseline"],
            "break_even_keep_ratio": break_even_keep_ratio(top, base, cfg, at, bt),
        })
    x, y = results.get(top.name, {}).get("ihp130", {}), results.get(base.name, {}).get("ihp130", {})
    if "total_um2" in x and "total_um2" in y:
        comp["ihp130"] = asic_comparison(x, y)
    for target in ("ice40", "ice40_dsp", "ecp5"):
        x, y = results.get(top.name, {}).get(target, {}), results.get(base.name, {}).get(target, {})
        if x.get("luts") and y.get("luts"):
            comp[f"{target}_lut_ratio"] = x["luts"] / y["luts"]
        if x.get("fmax_mhz") and y.get("fmax_mhz"):
            comp[f"{target}_fmax_ratio"] = x["fmax_mhz"] / y["fmax_mhz"]
    return comp


def keys_per_s_per_mm2(result: dict) -> float | None:
    """Keys scored per second per mm² (logic + macros) at fmax, with the cycles per row measured in
    the energy run (the load cycles left out); None without timing or energy."""
    energy = result.get("energy")
    if not energy or not result.get("fmax_mhz"):
        return None
    act = energy["activity"]
    keys_per_cycle = act["keys"] * act["rows"] / (act["cycles"] - act["load_cycles"])
    return keys_per_cycle * result["fmax_mhz"] * 1e6 / (result["total_um2"] / 1e6)


def asic_comparison(top: dict, base: dict) -> dict:
    """IHP130 figures of a top against its baseline: area, fmax, keys/s per mm², energy per row."""
    comp = {"total_area_ratio": top["total_um2"] / base["total_um2"],
            "logic_area_ratio": top["logic_um2"] / base["logic_um2"],
            "macro_area_ratio": top["macro_um2"] / base["macro_um2"] if base["macro_um2"] else None}
    if top.get("fmax_mhz") and base.get("fmax_mhz"):
        comp["fmax_ratio"] = top["fmax_mhz"] / base["fmax_mhz"]
    a, b = keys_per_s_per_mm2(top), keys_per_s_per_mm2(base)
    if a and b:
        comp.update({"keys_per_s_per_mm2": {"top": a, "baseline": b}, "keys_per_s_per_mm2_ratio": a / b,
                     "energy_per_row_ratio": top["energy"]["pj_per_row"] / base["energy"]["pj_per_row"]})
    return comp


def comparisons(cfg: LatteConfig, results: dict, keep_ratio: float) -> dict:
    return {f"{t.key}_vs_{b.key}": compare_pair(cfg, t, b, results, keep_ratio)
            for t, b in comparison_pairs(results)}


def memory_bits(manifest: dict) -> dict[str, int]:
    """SRAM bits of every top (excluded from logic area), from the manifest's memory list."""
    return {name: sum(m["words"] * m["bits"] for m in t["memories"]) for name, t in manifest["tops"].items()}


def build_report(cfg: LatteConfig, manifest: dict, results: dict, keep_ratio: float) -> dict:
    return {
        "config": cfg.params(),
        "tops": results,
        "comparison": comparisons(cfg, results, keep_ratio),
        "memory_bits": memory_bits(manifest),
        "notes": "Memories (key store, q buffer, estimate buffer) are latte_sram black boxes in the generic "
                 "flow: reported in memory_bits, excluded from logic area. FPGA flows map them to block RAM "
                 "with max_keys capped (max_keys_used) and report the engine without its test harness. "
                 "ihp130 maps them to IHP SG13G2 SRAM macros (or flip-flops where smaller; see memories) and "
                 "reports energy per row from a simulated run (synth/asic.py states the method).",
        "tool_versions": _tool_versions(results),
    }


def _tool_versions(results: dict) -> dict:
    from .asic import sta_binary, sta_version

    asic = any("ihp130" in flows for flows in results.values())
    return {**tool_versions(), **({"opensta": sta_version()} if asic and sta_binary() else {})}


def failed_flows(report: dict) -> list[str]:
    return [f"{top}/{flow}" for top, flows in report["tops"].items() for flow, r in flows.items() if "error" in r]


def _fmt(value, spec="") -> str:
    if value is None:
        return "-"
    return format(value, spec) if spec else str(value)


def _ratio(a, b) -> str:
    return f"{a / b:.3f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "-"


def format_pair(report: dict, comp: dict) -> list[tuple[str, str, str, str]]:
    """Rows (metric, top, baseline, ratio) of one comparison."""
    top, base = get_top(comp["top"]), get_top(comp["baseline"])
    rt, rb = report["tops"].get(top.name, {}), report["tops"].get(base.name, {})
    ratio = f"{top.key}/{base.key}"
    rows = [("metric", top.key, base.key, ratio if len(ratio) <= 16 else "ratio")]

    def add(label, target, field, spec=""):
        a, b = rt.get(target, {}), rb.get(target, {})
        if field in a or field in b:
            rows.append((label, _fmt(a.get(field), spec), _fmt(b.get(field), spec), _ratio(a.get(field), b.get(field))))

    add("generic: transistors (logic)", "generic", "transistors")
    add("generic: gate cells", "generic", "cells")
    add("generic: flip-flops", "generic", "flip_flops")
    blocks_a, blocks_b = rt.get("generic", {}).get("blocks", {}), rb.get("generic", {}).get("blocks", {})
    for block in sorted(set(blocks_a) | set(blocks_b)):
        a, b = blocks_a.get(block), blocks_b.get(block)
        rows.append((f"  {block}", _fmt(a), _fmt(b), _ratio(a, b)))
    for target, fields in (("ice40", ("luts", "ffs", "bram", "fmax_mhz")), ("ice40_dsp", ("luts", "dsp", "fmax_mhz")),
                           ("ecp5", ("luts", "ffs", "mult18", "bram", "fmax_mhz"))):
        for field in fields:
            add(f"{target}: {field}", target, field, ".1f" if field == "fmax_mhz" else "")
        for name, r in ((top.key, rt), (base.key, rb)):
            if "error" in r.get(target, {}):
                rows.append((f"{target}: {name} failed", r[target]["error"], "", ""))
            if "fit" in r.get(target, {}):
                rows.append((f"{target}: {name}", r[target]["fit"], "", ""))
    rows += _asic_rows(rt.get("ihp130", {}), rb.get("ihp130", {}))
    mem = report["memory_bits"]
    rows.append(("memory bits (not in logic area)", str(mem.get(top.name)), str(mem.get(base.name)),
                 _ratio(mem.get(top.name), mem.get(base.name))))
    kpc = comp["keys_per_cycle"]
    rows.append((f"keys/cycle at keep {comp['keep_ratio']:.2f}", f"{kpc['top']:.4f}", f"{kpc['baseline']:.4f}",
                 _ratio(kpc["top"], kpc["baseline"])))
    if "keys_per_cycle_per_mtransistor" in comp:
        pa = comp["keys_per_cycle_per_mtransistor"]
        rows.append(("keys/cycle per Mtransistor", f"{pa['top']:.3f}", f"{pa['baseline']:.3f}",
                     f"{comp['throughput_per_area_ratio']:.3f}"))
    return rows


def _asic_rows(a: dict, b: dict) -> list[tuple[str, str, str, str]]:
    """IHP130 rows of a comparison: µm², fmax, keys/s per mm², energy per row and its blocks."""
    if not a and not b:
        return []
    rows = []

    def add(label, x, y, spec=",.0f"):
        rows.append((f"ihp130: {label}", _fmt(x, spec), _fmt(y, spec), _ratio(x, y)))

    for field, label in (("logic_um2", "logic µm²"), ("flip_flop_um2", "  of which flip-flops µm²"),
                         ("macro_um2", "SRAM macros µm²"), ("total_um2", "total µm²")):
        add(label, a.get(field), b.get(field))
    add("fmax MHz (OpenSTA)", a.get("fmax_mhz"), b.get("fmax_mhz"), ".1f")
    for field in ("startpoint", "endpoint"):
        if a.get(field) or b.get(field):
            rows.append((f"ihp130:   critical path {field[:-5]}", _fmt(a.get(field)), _fmt(b.get(field)), ""))
    add("ICGs (clock gates)", a.get("icgs"), b.get("icgs"))
    la, lb = a.get("electrical") or {}, b.get("electrical") or {}
    if la or lb:
        for key, label in (("max_transition_violations", "max transition violations"),
                           ("max_capacitance_violations", "max capacitance violations")):
            add(f"  {label}", la.get(key), lb.get(key))
    ca, cb = a.get("clock_gating_check") or {}, b.get("clock_gating_check") or {}
    if ca or cb:
        add("  ICG enable setup slack at fmax, ns", ca.get("slack_at_fmax_ns"), cb.get("slack_at_fmax_ns"), ".3f")
    add("keys/s per mm²", keys_per_s_per_mm2(a), keys_per_s_per_mm2(b), ".4g")
    ea, eb = a.get("energy") or {}, b.get("energy") or {}
    ga, gb = ea.get("clock_gating") or {}, eb.get("clock_gating") or {}
    if ga or gb:
        add("flip-flops behind an ICG", ga.get("gated_share"), gb.get("gated_share"), ".1%")
        for block in sorted(set(ga.get("by_block", {})) | set(gb.get("by_block", {}))):
            x, y = ga.get("by_block", {}).get(block, {}), gb.get("by_block", {}).get(block, {})
            rows.append((f"ihp130:   gated/flip-flops {block}", _gated(x), _gated(y), ""))
    ra, rb = ea.get("rtl_activity") or {}, eb.get("rtl_activity") or {}
    add("pJ per row (gate level, gated clocks)", ea.get("pj_per_row"), eb.get("pj_per_row"))
    add("pJ per row (ungated: every flop clocked)", (ea.get("ungated") or {}).get("pj_per_row"),
        (eb.get("ungated") or {}).get("pj_per_row"))
    if ra or rb:
        add("pJ per row (RTL-activity estimate; per block in parentheses)", ra.get("pj_per_row"), rb.get("pj_per_row"))
    add("pJ per key", ea.get("pj_per_key"), eb.get("pj_per_key"), ".1f")
    blocks_a, blocks_b = ea.get("pj_per_row_by_block", {}), eb.get("pj_per_row_by_block", {})
    rtl_a, rtl_b = ra.get("pj_per_row_by_block", {}), rb.get("pj_per_row_by_block", {})
    for block in sorted(set(blocks_a) | set(blocks_b)):
        x, y = blocks_a.get(block), blocks_b.get(block)
        rows.append((f"ihp130:   pJ/row {block}", _with_estimate(x, rtl_a.get(block)),
                     _with_estimate(y, rtl_b.get(block)), _ratio(x, y)))
    rows += _decode_step_rows(ea.get("decode_step") or {}, eb.get("decode_step") or {})
    for name, r in (("top", a), ("baseline", b)):
        for key in ("error", "skipped"):
            if key in r:
                rows.append((f"ihp130: {name} {key}", r[key], "", ""))
    return rows


def _decode_step_rows(a: dict, b: dict) -> list[tuple[str, str, str, str]]:
    """A decode top's energy per step: on chip, bytes read, and with each DRAM class (synth/dram.py)."""
    if not a and not b:
        return []
    rows = [("ihp130: decode step: pJ on chip", _fmt(a.get("onchip_pj"), ",.0f"), _fmt(b.get("onchip_pj"), ",.0f"),
             _ratio(a.get("onchip_pj"), b.get("onchip_pj"))),
            ("ihp130: decode step: bytes read", _fmt(a.get("bytes_per_step"), ",.0f"),
             _fmt(b.get("bytes_per_step"), ",.0f"), _ratio(a.get("bytes_per_step"), b.get("bytes_per_step")))]
    for name, pj_per_bit in (a.get("pj_per_bit") or b.get("pj_per_bit") or {}).items():
        x, y = (a.get("total_pj") or {}).get(name), (b.get("total_pj") or {}).get(name)
        rows.append((f"ihp130: decode step: pJ on chip + {name} ({pj_per_bit:g} pJ/bit)", _fmt(x, ",.0f"),
                     _fmt(y, ",.0f"), _ratio(x, y)))
    return rows


def _gated(block: dict) -> str:
    """"gated/all (ICGs, mean duty)" of one block's flip-flops."""
    if not block:
        return "-"
    duty = block.get("mean_gated_duty")
    return (f"{block['gated_flip_flops']}/{block['flip_flops']} ({block['icgs']} ICGs"
            + (f", duty {duty:.2f})" if duty is not None else ")"))


def _with_estimate(figure, estimate) -> str:
    if figure is None:
        return "-"
    return f"{figure:,.0f}" + (f" ({estimate:,.0f})" if estimate is not None else "")


def format_table(report: dict) -> str:
    """Side-by-side text table of every comparison of the report (fits 100 columns)."""
    out = []
    for comp in report["comparison"].values():
        text = text_table(format_pair(report, comp))
        if "break_even_keep_ratio" in comp:
            text += "\n" + wrap(break_even_line(comp))
        out.append(text)
    return "\n\n".join(out)


def break_even_line(comp: dict) -> str:
    """Where a comparison's top beats its baseline in throughput per transistor (keep ratios below the
    break-even one, or none)."""
    ratio = comp["break_even_keep_ratio"]
    if ratio <= 0:
        return f"{comp['top']} does not beat {comp['baseline']} in throughput per transistor at any keep ratio"
    if ratio >= 1:
        return f"{comp['top']} beats {comp['baseline']} in throughput per transistor at every keep ratio"
    return f"{comp['top']} beats {comp['baseline']} in throughput per transistor while keep ratio < {ratio:.3f}"


def html_sections(report: dict) -> list:
    """The report's comparison tables, the flows' results, the notes and tool versions, for report.html."""
    from latte_rtl.report_html import Paragraph, Section, Table, tool_versions_section

    sections = []
    for name, comp in report["comparison"].items():
        blocks = [Table(format_pair(report, comp), caption=f"keep ratio {comp['keep_ratio']:.3f}")]
        if "break_even_keep_ratio" in comp:
            blocks.append(Paragraph(break_even_line(comp)))
        sections.append(Section(f"Comparison {name}", blocks))
    flows = [["top", "flow", "seconds", "result"]]
    for top, results in report["tops"].items():
        for flow, r in results.items():
            flows.append([top, flow, r.get("seconds", "-"), r.get("error") or r.get("skipped") or "ok"])
    sections.append(Section("Flows", [Table(flows), Paragraph(report["notes"])]))
    sections.append(tool_versions_section(report["tool_versions"]))
    return sections
