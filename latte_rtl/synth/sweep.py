"""Design-space sweep: every combination of the given parameters, synthesized in worker processes,
cached by manifest hash, written as CSV + JSON + PNG plots."""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import importlib.metadata
import itertools
import json
import socket
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from latte_rtl.config import LatteConfig
from latte_rtl.errors import UserError
from latte_rtl.executor import job_pool
from latte_rtl.progress import Progress
from latte_rtl.tops import TOPS, comparison_pairs, tops_for

from .flows import warm_up
from .report import DEFAULT_KEEP_RATIO, comparisons

SWEEPABLE = ("bits", "msb_bits", "dim", "lanes", "heads", "max_keys", "threshold_mode")
PER_TOP = ("transistors", "ecp5_fmax_mhz", "ecp5_luts", "ihp130_total_um2", "ihp130_logic_um2", "ihp130_fmax_mhz",
           "ihp130_pj_per_row", "ihp130_pj_per_row_ungated")
PER_PAIR = ("logic_area_ratio", "throughput_per_area_ratio", "break_even_keep_ratio",
            "ihp130_keys_per_s_per_mm2_ratio", "ihp130_energy_per_row_ratio")
_SWEPT = [t for t in TOPS.values() if not t.decode]  # the sweep's columns: the on-chip tops
CSV_FIELDS = ["point", *SWEEPABLE, "status",
              *(f"{t.key}_{f}" for f in PER_TOP for t in _SWEPT),
              *(f"{t.key}_vs_{b.key}_{f}" for t, b in comparison_pairs(t.name for t in _SWEPT) for f in PER_PAIR),
              "cached", "seconds", "error"]


def point_key(cfg: LatteConfig, targets: list[str], keep_ratio: float, tops: list[str] | None = None) -> str:
    """Cache key: the parameters, the Verilog of the tops synthesized (default: every top of the
    design), the targets (and the keep ratio of the ihp130 energy run)."""
    from latte_rtl.design.emit import top_verilog

    chosen = [TOPS[name] for name in tops] if tops else tops_for(cfg)
    texts = {top.name: top_verilog(cfg, top)[0] for top in chosen}
    blob = json.dumps({"params": cfg.params(), "verilog": {t: hashlib.sha256(v.encode()).hexdigest()
                                                            for t, v in texts.items()},
                       "targets": sorted(targets), "keep": keep_ratio if "ihp130" in targets else None,
                       "ihp130_flow": _asic_flow_hash() if "ihp130" in targets else None},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _asic_flow_hash() -> str:
    """The ihp130 flow's Yosys script and energy method: a cached point is stale when they change."""
    from .asic import SCRIPT

    sources = [SCRIPT, SCRIPT.with_name("gating.py"), SCRIPT.with_name("asic.py")]
    return hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _source_hash() -> str:
    """The generator's code and flow scripts (latte_rtl/**/*.py, *.ys) and Amaranth's version."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(importlib.metadata.version("amaranth").encode())
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.ys")]):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _index_path(cache_dir: Path, cfg: LatteConfig, targets: list[str], keep_ratio: float,
                tops: list[str] | None) -> Path:
    """Where a point's cache key is remembered by its parameters and the generator's source, so
    that a rerun finds a cached point without elaborating its Verilog."""
    blob = json.dumps({"params": cfg.params(), "tops": tops, "targets": sorted(targets),
                       "keep": keep_ratio if "ihp130" in targets else None, "source": _source_hash()},
                      sort_keys=True)
    return cache_dir / "index" / hashlib.sha256(blob.encode()).hexdigest()[:24]


def _indexed_key(index: Path) -> str | None:
    """The cache key `index` remembers, if its synthesis result is still there."""
    try:
        key = index.read_text().strip()
    except OSError:
        return None
    return key if key and (index.parent.parent / key / "synth.json").is_file() else None


def _remember(index: Path, key: str) -> None:
    from latte_rtl.design import atomic_write_text

    index.parent.mkdir(exist_ok=True)
    atomic_write_text(index, key)


ENTRY_FORMAT = 2  # of cache/<key>/synth.json: {"stamp", "results", "error", "sha256"}


def entry_stamp(cfg: LatteConfig, key: str, targets: list[str], keep_ratio: float, tops: list[str] | None) -> dict:
    """What a cache entry is for: its key, the design's parameters, the tops, targets and keep ratio,
    and the versions of the tools that synthesized it; an entry whose stamp differs is stale."""
    from latte_rtl.tools import tool_versions

    return {"format": ENTRY_FORMAT, "key": key, "params": cfg.params(), "tops": tops, "targets": sorted(targets),
            "keep": keep_ratio if "ihp130" in targets else None, "tools": tool_versions()}


def read_entry(path: Path, stamp: dict) -> tuple[dict | None, str | None]:
    """(the entry, None) if `path` holds a complete entry, unchanged since it was written (its
    content hash) and written for `stamp`; (None, why not) if it fails a check; (None, None) if absent."""
    from latte_rtl.design.files import content_hash, read_hashed_json

    doc, why = read_hashed_json(path)
    if doc is None:
        return None, why
    if not isinstance(doc.get("stamp"), dict) or "results" not in doc:
        return None, "not a cache entry of this version"
    mine = {k: v for k, v in doc["stamp"].items() if k != "tools"}
    if content_hash(mine) != content_hash({k: v for k, v in stamp.items() if k != "tools"}):
        return None, "stale: written for other parameters"
    if content_hash(doc["stamp"].get("tools")) != content_hash(stamp["tools"]):
        return None, "stale: written by other tool versions"
    return doc, None


def _lookup(cache_dir: Path, cfg: LatteConfig, targets: list[str], keep_ratio: float,
            tops: list[str] | None) -> tuple[str, dict | None, str | None]:
    """(the point's cache key, its valid entry or None, why the entry there failed its check or
    None). The index is a hint: an entry it leads to that is not this point's is not trusted."""
    index = _index_path(cache_dir, cfg, targets, keep_ratio, tops)
    hinted, entry, why = _indexed_key(index), None, None
    if hinted:
        entry, why = read_entry(cache_dir / hinted / "synth.json", entry_stamp(cfg, hinted, targets, keep_ratio, tops))
        if entry is not None:
            return hinted, entry, None
    key = point_key(cfg, targets, keep_ratio, tops)
    if key != hinted:
        entry, why = read_entry(cache_dir / key / "synth.json", entry_stamp(cfg, key, targets, keep_ratio, tops))
    if entry is not None:
        _remember(index, key)
    return key, entry, why


def _run_point(params: dict, targets: list[str], cache_dir: str, keep_ratio: float = DEFAULT_KEEP_RATIO,
               tops: list[str] | None = None, label: str = "sweep") -> dict:
    """Worker: generate, synthesize (or reuse the checked cached result) one point: `tops` (default
    every top of the design). A cached entry that fails its check is synthesized again, the
    result's `note` saying so."""
    start = time.perf_counter()
    try:
        if not Path(cache_dir).is_dir():
            raise UserError(f"the sweep cache {cache_dir} does not exist on worker host {socket.gethostname()}: put "
                            "the sweep's -o on a filesystem the workers share")
        cfg = LatteConfig.from_params(**params)
        key, entry, why = _lookup(Path(cache_dir), cfg, targets, keep_ratio, tops)
        if entry is not None:
            return {"params": params, "key": key, "cached": True, "seconds": 0.0,
                    "results": entry["results"], "error": entry.get("error")}
        if why:  # not trusted again, whatever becomes of the new synthesis
            (Path(cache_dir) / key / "synth.json").unlink(missing_ok=True)
        out = _synthesize_point(cfg, Path(cache_dir), key, targets, keep_ratio, tops)
        if why:
            done = "rebuilt" if out["error"] is None else "synthesized again, which failed"
            out["note"] = f"{label}: cache entry {key} failed its check ({why}): {done}"
        return {"params": params, "key": key, "cached": False, "seconds": round(time.perf_counter() - start, 1), **out}
    except UserError as exc:
        return {"params": params, "key": None, "cached": False, "seconds": 0.0, "results": None, "error": str(exc)}
    except Exception as exc:  # a failed point is reported and the sweep goes on
        return {"params": params, "key": None, "cached": False, "seconds": round(time.perf_counter() - start, 1),
                "results": None, "error": f"{exc.__class__.__name__}: {exc}"}


def _synthesize_point(cfg: LatteConfig, cache_dir: Path, key: str, targets: list[str], keep_ratio: float,
                      tops: list[str] | None) -> dict:
    """Generate and synthesize one point into cache/<key>/; a complete result is cached (written
    whole, with its stamp and content hash). Returns {"results", "error"}."""
    from latte_rtl.design import generate
    from latte_rtl.design.files import write_hashed_json

    from .flows import synthesize

    point_dir = cache_dir / key
    manifest = generate(cfg, point_dir, force=True)
    results = synthesize(cfg, point_dir, tops or list(manifest["tops"]), targets, workers=1, keep_ratio=keep_ratio,
                         log=lambda *_: None)
    errors = [f"{k}/{t}: {r['error']}" for k in results for t, r in results[k].items() if "error" in r]
    out = {"results": results, "error": "; ".join(errors) or None}
    if not errors:
        write_hashed_json(point_dir / "synth.json", {"stamp": entry_stamp(cfg, key, targets, keep_ratio, tops), **out})
        _remember(_index_path(cache_dir, cfg, targets, keep_ratio, tops), key)
    return out


def expand(grid: dict[str, list]) -> list[dict]:
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))]


def run_sweep(grid: dict[str, list], targets: list[str], out_dir: Path, **options) -> list[dict]:
    """The rows of `sweep`."""
    return sweep(grid, targets, out_dir, **options)[0]


def sweep(grid: dict[str, list], targets: list[str], out_dir: Path, *, jobs: int = 2,
          keep_ratio: float = DEFAULT_KEEP_RATIO, cache_dir: Path | None = None,
          scheduler: str | None = None) -> tuple[list[dict], list[Path]]:
    """Synthesize every point on `jobs` local processes or the Dask cluster at `scheduler`
    (invalid points are refused before any work; a point whose flows fail, or whose worker is
    lost, is reported in its row and the sweep goes on; finished points are cached, so an
    interrupted sweep resumes where it stopped). Returns (rows, the plots written)."""
    check_grid(grid)
    points = [{**p, "lanes": LatteConfig.from_params(**p).score.lanes} for p in expand(grid)]
    with point_pool(out_dir, targets, jobs=jobs, scheduler=scheduler, cache_dir=cache_dir) as (pool, cache):
        results = run_points(pool, [(p, None) for p in points], targets, cache, keep_ratio)
    rows = [_row(i, result, keep_ratio) for i, result in enumerate(results)]
    return rows, write_outputs(rows, out_dir, keep_ratio)


@contextlib.contextmanager
def point_pool(out_dir: Path, targets: list[str], *, jobs: int, scheduler: str | None, cache_dir: Path | None = None):
    """(pool, cache directory) for `run_points`: local processes or the Dask cluster at `scheduler`
    (one that cannot be reached fails before anything is written); the cache defaults to
    OUT/cache. The workers and their tools (yowasp's `yowasp_*` directories) keep their temporary
    files in a private TMPDIR, removed when the block ends, also on a signal."""
    from latte_rtl.design.files import private_tmpdir

    with private_tmpdir("latte-sweep-") as tmp_root, job_pool(scheduler, max(1, jobs), str(tmp_root)) as pool:
        out_dir.mkdir(parents=True, exist_ok=True)
        cache_dir = cache_dir or out_dir / "cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
        if not scheduler:
            warm_up(targets)
        yield pool, cache_dir


def run_points(pool, jobs: list[tuple[dict, list[str] | None]], targets: list[str], cache_dir: Path,
               keep_ratio: float, label: str = "sweep") -> list[dict]:
    """Every (params, tops) job through `_run_point` on the pool; the results in job order, a lost
    or failed worker reported in its job's result; the notes of rebuilt cache entries on stderr."""
    points = [params for params, _ in jobs]
    results: list[dict | None] = [None] * len(jobs)
    futures = {pool.submit(_run_point, p, targets, str(cache_dir.resolve()), keep_ratio, tops, label): i
               for i, (p, tops) in enumerate(jobs)}
    with Progress(len(jobs), label) as bar:
        for fut in pool.as_completed(futures):
            i = futures[fut]
            try:
                result = fut.result()
            except BrokenProcessPool:  # a worker died: every point not finished is lost (cached ones resume)
                result = {"params": points[i], "key": None, "cached": False, "seconds": 0.0, "results": None,
                          "error": "lost: a worker process died (killed, or out of memory); rerun to resume"}
            except Exception as exc:  # the worker itself failed (e.g. lost): this point only
                result = {"params": points[i], "key": None, "cached": False, "seconds": 0.0, "results": None,
                          "error": f"{exc.__class__.__name__}: {exc}"}
            results[i] = result
            bar.advance(f"point {i}: {'failed' if result.get('error') else 'ok'}")
    for result in results:  # after the bar: cache entries that failed their check
        if result.get("note"):
            print(result["note"], file=sys.stderr)
    return results


def _row(index: int, result: dict, keep_ratio: float) -> dict:
    row = {"point": index, **{k: result["params"].get(k) for k in SWEEPABLE}, "params": result["params"],
           "cached": result["cached"], "seconds": result["seconds"], "error": result.get("error")}
    results = result.get("results")
    row["status"] = "failed" if row["error"] else "ok"
    if results:
        cfg = LatteConfig.from_params(**result["params"])
        for name, flows in results.items():
            key = TOPS[name].key
            row[f"{key}_transistors"] = flows.get("generic", {}).get("transistors")
            row[f"{key}_ecp5_fmax_mhz"] = flows.get("ecp5", {}).get("fmax_mhz")
            row[f"{key}_ecp5_luts"] = flows.get("ecp5", {}).get("luts")
            asic = flows.get("ihp130", {})
            for field in ("total_um2", "logic_um2", "fmax_mhz"):
                row[f"{key}_ihp130_{field}"] = asic.get(field)
            energy = asic.get("energy") or {}
            row[f"{key}_ihp130_pj_per_row"] = energy.get("pj_per_row")
            row[f"{key}_ihp130_pj_per_row_ungated"] = (energy.get("ungated") or {}).get("pj_per_row")
        for pair, comp in comparisons(cfg, results, keep_ratio).items():
            flat = {**comp, **{f"ihp130_{k}": v for k, v in comp.get("ihp130", {}).items()}}
            row.update({f"{pair}_{f}": flat.get(f) for f in PER_PAIR})
    return row


def write_outputs(rows: list[dict], out_dir: Path, keep_ratio: float) -> list[Path]:
    """sweep.csv, sweep.json, the PNG plots and report.html, all or (a full disk, a signal) none: written
    in a staging directory first; returns the plots written."""
    from latte_rtl.design.files import staged_dir
    from latte_rtl.report_html import Figure, Section, Table, tool_versions_section, write_report
    from latte_rtl.tools import tool_versions

    from .plots import plot_sweep

    with staged_dir(out_dir) as stage:
        with open(stage / "sweep.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        plots = plot_sweep(rows, stage)
        (stage / "sweep.json").write_text(json.dumps({"keep_ratio": keep_ratio, "points": rows}, indent=2) + "\n")
        columns = [c for c in CSV_FIELDS if any(r.get(c) not in (None, "") for r in rows)]
        table = Table([columns, *([_cell(r.get(c)) for c in columns] for r in rows)],
                      caption=f"every point; throughput compared at keep ratio {keep_ratio}")
        write_report(stage / "report.html", f"latte-rtl sweep: {len(rows)} points", [
            Section("Points", [table]), Section("Plots", [Figure(p) for p in plots]),
            tool_versions_section(tool_versions())])
    return [out_dir / p.name for p in plots]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def parse_grid(args) -> dict[str, list]:
    """Comma lists from the CLI (e.g. --lanes 4,8,16) → {param: [values]}; unset ones use the default."""
    defaults = {**LatteConfig().params(), "lanes": 0}   # lanes 0: each point's own default, min(dim, 64)
    grid = {}
    for name in SWEEPABLE:
        text = getattr(args, name)
        if text is None:
            grid[name] = [defaults[name]]
            continue
        items = [t.strip() for t in str(text).split(",") if t.strip()]
        if not items:
            raise UserError(f"--{name.replace('_', '-')} is empty: expected a comma-separated list")
        if name == "threshold_mode":
            grid[name] = items
        else:
            try:
                grid[name] = [int(t) for t in items]
            except ValueError:
                raise UserError(f"--{name.replace('_', '-')}={text!r}: expected comma-separated integers") from None
    if getattr(args, "attention", False):
        grid["attention"] = [True]
    check_grid(grid)
    return grid


def check_grid(grid: dict[str, list]) -> None:
    """Every point of the grid is a valid design, or one UserError names the first that is not."""
    for point in expand(grid):
        try:
            LatteConfig.from_params(**point)
        except UserError as exc:
            varied = ", ".join(f"{k}={v}" for k, v in point.items() if len(grid[k]) > 1) or "the grid"
            raise UserError(f"sweep point {varied} is not a valid design: {exc}") from None
