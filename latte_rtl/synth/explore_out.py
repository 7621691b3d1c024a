"""What `explore` prints and writes: the Pareto fronts, the best-vs-best table (100 columns),
DIR/explore.json, DIR/pareto.png and DIR/report.html."""

from __future__ import annotations

import json
from pathlib import Path

from latte_rtl.textfmt import text_table, wrap

from .explore import BUDGETS, COLUMNS, ENGINES, LABELS, SPEED, knob_text

FORMAT_VERSION = 1


def _num(value) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def _metrics(summary: dict) -> list[str]:
    return summary["metrics"]


def front_rows(points: list[dict], summary: dict, family: str) -> list[list[str]]:
    """The family's fronts as table rows, both engines, each engine's best point starred."""
    fam = summary["families"][family]
    metrics = _metrics(summary)
    rows = [[f"{family} front (* best)", *(COLUMNS[m] for m in metrics)]]
    for engine in ENGINES:
        front = sorted((points[i] for i in fam["front"][engine]), key=lambda p: p["metrics"][summary["axes"][1]])
        for p in front:
            star = " *" if p["id"] == fam["best"][engine] else ""
            rows.append([f"{engine} {knob_text(p['knobs'])}{star}", *(_num(p["metrics"][m]) for m in metrics)])
    return rows


def best_rows(points: list[dict], summary: dict) -> list[list[str]]:
    """Per family: the knobs and metrics of each engine's best point and LATTE's advantage."""
    rows = [["best vs best", "LATTE", "dense", "LATTE ×"]]
    for family, fam in summary["families"].items():
        if fam["ratios"] is None:
            rows.append([f"{family}: no successful point of one engine", "-", "-", "-"])
            continue
        a, b = (points[fam["best"][e]] for e in ENGINES)
        rows += [[f"{family}: LATTE best point: {knob_text(a['knobs'])}"],
                 [f"{family}: dense best point: {knob_text(b['knobs'])}"]]
        for metric, ratio in fam["ratios"].items():
            if metric in LABELS:
                rows.append([f"  {LABELS[metric]}", _num(a["metrics"][metric]), _num(b["metrics"][metric]),
                             "-" if ratio is None else f"{ratio:.3f}"])
        speed = SPEED[summary["target"]]
        for budget, resource in BUDGETS[summary["target"]].items():
            match = fam["matched"][budget]
            within = f"  {LABELS[speed]}, dense within LATTE's {LABELS[resource]}"
            if match is None:
                rows.append([within + ": no dense point fits", _num(a["metrics"][speed]), "-", "-"])
                continue
            rows.append([f"{within}: {knob_text(points[match]['knobs'])}", _num(a["metrics"][speed]),
                         _num(points[match]["metrics"][speed]), f"{fam['ratios'][f'throughput_at_{budget}']:.3f}"])
    return rows


def failed_lines(points: list[dict]) -> list[str]:
    return [wrap(f"  FAILED point {p['id']} ({p['family']} {p['engine']} {knob_text(p['knobs'])}): {p['error']}")
            for p in points if p["status"] != "ok"]


def format_text(points: list[dict], summary: dict) -> str:
    """The terminal report: every family's fronts, the failed points, the best-vs-best table."""
    axes = " vs ".join(LABELS[a] for a in summary["axes"])
    legend = ", ".join(f"{COLUMNS[m]} = {LABELS[m]}" for m in summary["metrics"] if COLUMNS[m] != LABELS[m])
    parts = [wrap(f"{family} engines: each engine's Pareto front ({axes}); * its best point for "
                  f"{LABELS[summary['objective_metric']]}") + "\n" + text_table(front_rows(points, summary, family))
             for family in summary["families"]]
    parts[-1] += "\n" + wrap(legend)
    parts += ["\n".join(failed_lines(points))] if any(p["status"] != "ok" for p in points) else []
    parts.append(text_table(best_rows(points, summary)) + "\n" + wrap(
        f"LATTE × = how many times better LATTE's best point is than dense's best (objective: "
        f"{LABELS[summary['objective_metric']]}; higher is better for throughput, lower for area and energy)"))
    return "\n\n".join(parts)


def plot_pareto(plan, points: list[dict], summary: dict, path: Path) -> Path:
    """Throughput against area of every point, one panel per family, each engine's front joined
    and its best point starred."""
    from .plots import _save, plt

    y_axis, x_axis = summary["axes"][:2]
    fig, axes = plt.subplots(1, len(summary["families"]), figsize=(6.4 * len(summary["families"]), 4.6),
                             squeeze=False)
    for ax, (family, fam) in zip(axes[0], summary["families"].items(), strict=True):
        for engine, color in zip(ENGINES, ("tab:red", "tab:blue"), strict=True):
            mine = [p for p in points if p["family"] == family and p["engine"] == engine and p["status"] == "ok"]
            ax.scatter([p["metrics"][x_axis] for p in mine], [p["metrics"][y_axis] for p in mine], color=color,
                       alpha=0.3, s=18, label=f"{engine}: every point")
            front = sorted((points[i] for i in fam["front"][engine]), key=lambda p: p["metrics"][x_axis])
            ax.plot([p["metrics"][x_axis] for p in front], [p["metrics"][y_axis] for p in front], "o-",
                    color=color, label=f"{engine}: Pareto front")
            if fam["best"][engine] is not None:
                best = points[fam["best"][engine]]
                ax.plot(best["metrics"][x_axis], best["metrics"][y_axis], "*", color=color, markersize=16,
                        markeredgecolor="black", label=f"{engine}: best ({knob_text(best['knobs'])})")
        ax.set(xlabel=LABELS[x_axis], ylabel=LABELS[y_axis],
               title=f"{family} engines, d={plan.dim}, N={plan.max_keys}, keep {plan.keep:.3g}"
                     f"{' (real rows)' if plan.qk else ''}, {plan.target}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def document(plan, points: list[dict], summary: dict, command: str, versions: dict) -> dict:
    """The contents of explore.json."""
    return {"format_version": FORMAT_VERSION, "command": command,
            "design": {"dim": plan.dim, "max_keys": plan.max_keys}, "keep_ratio": plan.keep,
            "throughput": {"rows": plan.qk} if plan.qk else {"model_keep_ratio": plan.keep},
            "target": plan.target, "objective": plan.objective, "families": list(plan.families),
            "grids": {e: {k: list(v) for k, v in g.items()} for e, g in plan.grids.items()},
            "axes": summary["axes"], "objective_metric": summary["objective_metric"],
            "points": points, "fronts": {f: v["front"] for f, v in summary["families"].items()},
            "best": {f: v["best"] for f, v in summary["families"].items()},
            "ratios": {f: v["ratios"] for f, v in summary["families"].items()},
            "matched": {f: v["matched"] for f, v in summary["families"].items()}, "tool_versions": versions}


def write_outputs(plan, points: list[dict], summary: dict, out_dir: Path, command: str) -> list[Path]:
    """explore.json, pareto.png and report.html in `out_dir`, all three or (a full disk, a signal)
    none: written in a staging directory first; returns their paths."""
    from latte_rtl.design import atomic_write_text
    from latte_rtl.design.files import staged_dir
    from latte_rtl.report_html import Figure, Paragraph, Section, Table, tool_versions_section, write_report

    from .report import _tool_versions

    versions = _tool_versions({"explore": {plan.target: {}}})
    names = ("explore.json", "pareto.png", "report.html")
    with staged_dir(out_dir) as stage:
        atomic_write_text(stage / names[0], json.dumps(document(plan, points, summary, command, versions), indent=1)
                          + "\n")
        png = plot_pareto(plan, points, summary, stage / names[1])
        every = [["id", "family", "engine", "knobs", "status", *(COLUMNS[m] for m in _metrics(summary))]]
        every += [[p["id"], p["family"], p["engine"], knob_text(p["knobs"]), p["error"] or "ok",
                   *(_num(p["metrics"][m]) for m in _metrics(summary))] for p in points]
        sections = [Section("Best vs best", [Table(best_rows(points, summary)), Paragraph(command)]),
                    *(Section(f"Pareto fronts: {f}", [Table(front_rows(points, summary, f))])
                      for f in summary["families"]),
                    Section("Plot", [Figure(png)]), Section("Every point", [Table(every)]),
                    tool_versions_section(versions)]
        write_report(stage / names[2], f"latte-rtl explore: {plan.target}, {plan.objective}", sections)
    return [out_dir / name for name in names]
