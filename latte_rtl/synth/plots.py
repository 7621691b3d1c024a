"""PNG plots of sweeps and single designs (matplotlib, headless). Series come from the registry:
one line per top, its baseline dashed in the same colour."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from latte_rtl.config import LatteConfig
from latte_rtl.tops import TOPS, comparison_pairs, get_top

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

KEEP = [i / 100 for i in range(0, 101)]
GROUP = ("msb_bits", "dim", "bits")


def _series(rows, key):
    """{label: [(lanes, value)]} of successful sweep points, grouped by the non-lane parameters."""
    out: dict[str, list] = {}
    for r in rows:
        if r["status"] == "ok" and r.get(key) is not None:
            out.setdefault(", ".join(f"{g}={r[g]}" for g in GROUP), []).append((r["lanes"], r[key]))
    return {k: sorted(v) for k, v in out.items()}


def plot_throughput_vs_keep(ax, cfg: LatteConfig, top, base, area_top, area_base, label=""):
    """Keys/cycle per Mtransistor of `top` and its baseline over the keep ratio."""
    y_top = [1e6 * top.keys_per_cycle(cfg, r) / area_top for r in KEEP]
    y_base = [1e6 * base.keys_per_cycle(cfg, r) / area_base for r in KEEP]
    line, = ax.plot(KEEP, y_top, label=f"{top.key} {label}".strip())
    ax.plot(KEEP, y_base, "--", color=line.get_color(), label=f"{base.key} {label}".strip())


def plot_sweep(rows: list[dict], out_dir: Path) -> list[Path]:
    """The sweep's plots of the metrics its targets produced."""
    paths = []
    if any(_series(rows, f"{t.key}_transistors") for t in TOPS.values()):
        paths.append(_lanes_plot(rows, "transistors", "logic transistors (generic, Yosys estimate)",
                                 "Logic area vs lanes", out_dir / "area_vs_lanes.png"))
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for r in rows:
            if r["status"] != "ok":
                continue
            cfg = LatteConfig.from_params(**r["params"])
            for top, base in comparison_pairs(TOPS):
                a, b = r.get(f"{top.key}_transistors"), r.get(f"{base.key}_transistors")
                if a and b:
                    plot_throughput_vs_keep(ax, cfg, top, base, a, b, f"lanes={r['lanes']} m={r['msb_bits']}")
        ax.set(xlabel="keep ratio (kept keys / keys)", ylabel="keys/cycle per Mtransistor",
               title="Throughput per area vs keep ratio")
        ax.legend(fontsize=6, ncol=2)
        ax.grid(alpha=0.3)
        paths.append(_save(fig, out_dir / "throughput_per_area.png"))
    for metric, ylabel, title, name in (
            ("ihp130_total_um2", "area (µm², IHP SG13G2: logic + SRAM macros)", "Area vs lanes",
             "ihp130_area_vs_lanes"),
            ("ihp130_pj_per_row", "energy per query row (pJ, IHP SG13G2)", "Energy per row vs lanes",
             "ihp130_energy_vs_lanes")):
        if any(_series(rows, f"{t.key}_{metric}") for t in TOPS.values()):
            paths.append(_lanes_plot(rows, metric, ylabel, title, out_dir / f"{name}.png"))
    if any(_series(rows, f"{t.key}_ecp5_fmax_mhz") for t in TOPS.values()):
        paths.append(_lanes_plot(rows, "ecp5_fmax_mhz", "fmax on ECP5-85k (MHz, nextpnr)", "fmax vs lanes",
                                 out_dir / "fmax_vs_lanes.png"))
    return paths


def _lanes_plot(rows, metric, ylabel, title, path: Path) -> Path:
    """One figure of a sweep metric over lanes: a line per top and parameter group."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for n, top in enumerate(TOPS.values()):
        for label, pts in _series(rows, f"{top.key}_{metric}").items():
            ax.plot(*zip(*pts), "o-" if top.baseline else "s--", color=None if top.baseline else f"C{7 + n % 3}",
                    label=f"{top.key} ({label})")
    ax.set(xlabel="lanes", ylabel=ylabel, title=title)
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_design(report: dict, out_dir: Path) -> list[Path]:
    """Plots of one design's synth report: throughput per area vs keep ratio, area by block."""
    cfg = LatteConfig.from_params(**report["config"])
    paths = []
    for pair, comp in report["comparison"].items():
        if "logic_area_ratio" not in comp:
            continue
        top, base = get_top(comp["top"]), get_top(comp["baseline"])
        gt, gb = report["tops"][top.name]["generic"], report["tops"][base.name]["generic"]
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        plot_throughput_vs_keep(ax, cfg, top, base, gt["transistors"], gb["transistors"], f"lanes={cfg.score.lanes}")
        ax.set(xlabel="keep ratio (kept keys / keys)", ylabel="keys/cycle per Mtransistor",
               title=f"Throughput per area, d={cfg.score.dim}, {cfg.score.bits}-bit, m={cfg.score.msb_bits}")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        paths.append(_save(fig, out_dir / f"throughput_per_area_{pair}.png"))
        paths.append(_stacked([gt["blocks"], gb["blocks"]], [top.key, base.key], "transistors (generic)",
                              f"Logic area by block, {top.key} vs {base.key}", out_dir / f"area_by_block_{pair}.png"))
        energy = [report["tops"][t.name].get("ihp130", {}).get("energy") for t in (top, base)]
        if all(energy):
            paths.append(_stacked([e["pj_per_row_by_block"] for e in energy], [top.key, base.key],
                                  "energy per row (pJ, IHP SG13G2)", f"Energy per row by block, keep "
                                  f"{energy[0]['activity']['keep_ratio']:.2f}",
                                  out_dir / f"ihp130_energy_by_block_{pair}.png"))
    return paths


def _stacked(values: list[dict], labels: list[str], ylabel: str, title: str, path: Path) -> Path:
    """One stacked bar per dict of {part: value}, a colour per part, the legend beside the bars."""
    fig, ax = plt.subplots(figsize=(8.0, 4.6))
    bottom = [0.0] * len(values)
    for n, part in enumerate(sorted(set().union(*values))):
        vals = [v.get(part, 0) for v in values]
        ax.bar(labels, vals, bottom=bottom, label=part, color=plt.cm.tab20(n % 20))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)
