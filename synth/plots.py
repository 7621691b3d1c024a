"""PNG plots of sweeps and single designs (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

KEEP = [i / 100 for i in range(0, 101)]


def _series(rows, key, group=("msb_bits", "dim", "bits")):
    """{label: [(lanes, value)]} for successful points, grouped by the non-lane parameters."""
    out: dict[str, list] = {}
    for r in rows:
        if r["status"] != "ok" or r.get(key) is None:
            continue
        label = ", ".join(f"{g}={r[g]}" for g in group)
        out.setdefault(label, []).append((r["lanes"], r[key]))
    return {k: sorted(v) for k, v in out.items()}


def throughput_per_area(beats: int, transistors_latte: int, transistors_dense: int):
    """Keys/cycle per Mtransistor over keep ratio r: LATTE 1/(beats(1+3r)), dense 1/beats."""
    latte = [1e6 / (beats * (1 + 3 * r) * transistors_latte) for r in KEEP]
    dense = [1e6 / (beats * transistors_dense)] * len(KEEP)
    return latte, dense


def plot_throughput_vs_keep(ax, beats, t_latte, t_dense, label=""):
    latte, dense = throughput_per_area(beats, t_latte, t_dense)
    line, = ax.plot(KEEP, latte, label=f"LATTE {label}".strip())
    ax.plot(KEEP, dense, "--", color=line.get_color(), label=f"dense {label}".strip())
    even = (t_dense / t_latte - 1) / 3
    if 0 <= even <= 1:
        y = 1e6 / (beats * t_dense)
        ax.plot([even], [y], "o", color=line.get_color())
        ax.annotate(f"break-even {even:.2f}", (even, y), textcoords="offset points", xytext=(5, 8), fontsize=8)


def plot_sweep(rows: list[dict], out_dir: Path) -> list[Path]:
    paths = [_lanes_plot(rows, "latte_transistors", "dense_transistors", "logic transistors (generic, Yosys estimate)",
                         "Logic area vs lanes", out_dir / "area_vs_lanes.png")]

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in rows:
        if r["status"] == "ok" and r.get("latte_transistors") and r.get("dense_transistors"):
            plot_throughput_vs_keep(ax, r["beats"], r["latte_transistors"], r["dense_transistors"],
                                    f"lanes={r['lanes']} m={r['msb_bits']}")
    ax.set(xlabel="keep ratio (kept keys / keys)", ylabel="keys/cycle per Mtransistor",
           title="Throughput per area vs keep ratio")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out_dir / "throughput_per_area.png"))

    if _series(rows, "latte_ecp5_fmax_mhz"):
        paths.append(_lanes_plot(rows, "latte_ecp5_fmax_mhz", "dense_ecp5_fmax_mhz", "fmax on ECP5-85k (MHz, nextpnr)",
                                 "fmax vs lanes", out_dir / "fmax_vs_lanes.png"))
    return paths


def _lanes_plot(rows, latte_key, dense_key, ylabel, title, path: Path) -> Path:
    """One figure of a sweep metric over lanes: a line per LATTE variant, dense in black."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, pts in _series(rows, latte_key).items():
        ax.plot(*zip(*pts), "o-", label=f"LATTE ({label})")
    for label, pts in _series(rows, dense_key, group=("dim", "bits")).items():
        ax.plot(*zip(*pts), "s--", color="black", label=f"dense ({label})")
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
    from latte_rtl.config import LatteConfig

    cfg = LatteConfig(**report["config"])
    paths = []
    lg, dg = report["latte"].get("generic", {}), report["dense"].get("generic", {})
    if "transistors" not in lg or "transistors" not in dg:
        return paths
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    plot_throughput_vs_keep(ax, cfg.beats, lg["transistors"], dg["transistors"], f"lanes={cfg.lanes}")
    ax.set(xlabel="keep ratio (kept keys / keys)", ylabel="keys/cycle per Mtransistor",
           title=f"Throughput per area, d={cfg.dim}, {cfg.bits}-bit, m={cfg.msb_bits}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out_dir / "throughput_per_area.png"))

    blocks = sorted(set(lg["blocks"]) | set(dg["blocks"]))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    bottom = [0, 0]
    for block in blocks:
        vals = [lg["blocks"].get(block, 0), dg["blocks"].get(block, 0)]
        ax.bar(["LATTE", "dense"], vals, bottom=bottom, label=block)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set(ylabel="transistors (generic)", title="Logic area by block")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out_dir / "area_by_block.png"))
    return paths
