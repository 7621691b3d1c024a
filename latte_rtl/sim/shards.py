"""`run` over many rows: the rows of every layer of an input split into shards, each simulated as
one job (in this process, in local worker processes, or on Dask workers), gathered back into
one result per layer in row order."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latte_rtl.design.files import atomic_write, file_lock
from latte_rtl.errors import RunFailed
from latte_rtl.golden.cycles import MEMORY_QUEUE

CACHE_ENV = "LATTE_RTL_CACHE"  # where a worker keeps designs shipped to it (default ~/.cache/latte-rtl)
PER_ROW = ("q", "heads", "key_limit", "row_thresholds")  # the input arrays with one entry per row
SHARED = ("k", "thresholds", "v", "softmax_mult", "denominator_comp")


@dataclass(frozen=True)
class Shard:
    layer: int | None
    start: int
    stop: int


def plan_shards(rows: dict[int | None, int], jobs: int) -> list[Shard]:
    """Rows of each layer ({layer: rows}) cut into contiguous shards of about total/jobs rows."""
    size = max(1, -(-sum(rows.values()) // jobs))
    return [Shard(layer, s, min(s + size, n)) for layer, n in rows.items() for s in range(0, n, size)]


def shard_arrays(inp, shard: Shard) -> dict[str, np.ndarray]:
    """The input file of one shard: its rows, every key, value and per-head array."""
    rows = slice(shard.start, shard.stop)
    arrays = {"q": inp.q[rows], "heads": inp.heads[rows], "key_limit": inp.key_limit[rows], "k": inp.k,
              "thresholds": inp.thresholds}
    arrays.update({n: inp.extras[n] for n in SHARED if n in inp.extras})
    if inp.row_thresholds is not None:
        arrays["row_thresholds"] = inp.row_thresholds[rows]
    if inp.round1_thresholds is not None:
        arrays["round1_thresholds"] = inp.round1_thresholds
    if inp.kv_heads is not None:  # the file's keys per KV head and the mapping, as given
        arrays.update({"k": inp.kv_k, "kv_heads": inp.kv_heads})
    return arrays


@dataclass(frozen=True)
class DesignFiles:
    """A design for a job: its directory, and for workers that may not see it (a cluster) its
    manifest and Verilog, written into the worker's cache under their SHA-256."""
    path: str
    files: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def shipped(cls, design_dir: Path, top: str) -> DesignFiles:
        from latte_rtl.design import MANIFEST_NAME, load_design

        manifest = load_design(design_dir)[1]
        names = (MANIFEST_NAME, manifest["tops"][top]["file"], manifest["memory_module"]["file"])
        return cls(str(design_dir), {n: (design_dir / n).read_bytes() for n in names})

    def local(self) -> Path:
        if not self.files:
            return Path(self.path)
        digest = hashlib.sha256(b"".join(n.encode() + b"\0" + self.files[n] for n in sorted(self.files)))
        root = Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "latte-rtl")) / digest.hexdigest()[:24]
        root.mkdir(parents=True, exist_ok=True)
        with file_lock(root / "files.lock"):
            for name, data in self.files.items():  # verified: a truncated or edited copy is rewritten
                if not (root / name).is_file() or (root / name).read_bytes() != data:
                    atomic_write(root / name, lambda f, data=data: f.write(data))
        return root


@dataclass(frozen=True)
class Engine:
    """How a shard is simulated: `native` (sim/native.py) or `cocotb` (sim.runner on `sim`)."""
    name: str
    sim: str = "verilator"
    seed: int = 1
    valid_prob: float = 1.0
    ready_prob: float = 1.0
    waves: bool = False
    mem_latency: int = 0                  # native AXI memory model: cycles from AR to its first R beat
    mem_bytes_per_cycle: float | None = None  # native AXI memory model: bandwidth (None: the bus width)
    mem_queue: int = MEMORY_QUEUE         # native AXI memory model: bursts it accepts ahead (a controller's queue)


def run_shard(design: DesignFiles, top: str, engine: Engine, shard: Shard, arrays: dict) -> dict:
    """Job: simulate one shard. Returns {"shard", "result" (arrays), "mismatch" (first lines, rows
    numbered as in the whole input) or None, "built", "cycles", "seconds", "waves"}."""
    design_dir = design.local()
    with tempfile.TemporaryDirectory(prefix="latte-shard-") as tmp:
        source, result = Path(tmp) / "input.npz", Path(tmp) / "rtl.npz"
        np.savez(source, **arrays)
        mismatch, info, start = None, {}, time.perf_counter()
        try:
            if engine.name == "native":
                from .native import simulate_native

                info = simulate_native(design_dir, [source], [result], top=top, seed=engine.seed,
                                       valid_prob=engine.valid_prob, ready_prob=engine.ready_prob,
                                       memory=(engine.mem_latency, engine.mem_bytes_per_cycle, engine.mem_queue))
            else:
                from .runner import simulate

                info = simulate(design_dir, [source], [result], top=top, sim=engine.sim, seed=engine.seed,
                                valid_prob=engine.valid_prob, ready_prob=engine.ready_prob, waves=engine.waves)
        except AssertionError as exc:
            mismatch = _renumbered(str(exc), shard)
        out = dict(np.load(result)) if result.is_file() else None
    return {"shard": shard, "result": out, "mismatch": mismatch, "built": info.get("built", False),
            "cycles": info.get("cycles"), "seconds": info.get("seconds", time.perf_counter() - start),
            "waves": info.get("waves")}


def run_rows(design_dir: Path, top: str, engine: Engine, inputs: dict, jobs: int = 1,
             scheduler: str | None = None) -> list[dict]:
    """Every row of `inputs` ({layer: input}) through `run_shard`: in this process with jobs = 1,
    else sharded over `jobs` local processes or the workers of the Dask cluster at `scheduler`.
    Returns each shard's run_shard dict."""
    from latte_rtl.executor import job_pool

    rows = {layer: inp.q.shape[0] for layer, inp in inputs.items()}
    if jobs == 1 and not scheduler:
        design = DesignFiles(str(design_dir))
        return [run_shard(design, top, engine, s, shard_arrays(inputs[s.layer], s)) for s in plan_shards(rows, 1)]
    design = DesignFiles.shipped(design_dir, top) if scheduler else DesignFiles(str(design_dir))
    with tempfile.TemporaryDirectory(prefix="latte-run-") as tmp_root, job_pool(scheduler, jobs, tmp_root) as pool:
        futures = {pool.submit(run_shard, design, top, engine, s, shard_arrays(inputs[s.layer], s)): s
                   for s in plan_shards(rows, pool.workers)}
        done, lost = [], []
        for future, shard in futures.items():
            try:
                done.append(future.result())
            except BrokenProcessPool:
                lost.append(shard)
        if lost:
            raise RunFailed(f"a worker process died (killed, or out of memory): {describe_rows(lost)} were not "
                            "simulated; no result written")
        return done


def describe_rows(shards: list[Shard]) -> str:
    """"rows 0..9, 20..29 of layer 1, rows …" of some shards (row ranges inclusive)."""
    parts = []
    for layer in dict.fromkeys(s.layer for s in shards):
        ranges = ", ".join(f"{s.start}..{s.stop - 1}" for s in shards if s.layer == layer)
        parts.append(f"rows {ranges}" + ("" if layer is None else f" of layer {layer}"))
    return "; ".join(parts)


def _renumbered(message: str, shard: Shard) -> str:
    """A shard's "row r" as the row of the whole layer, each line prefixed with the layer."""
    text = re.sub(r"\brow (\d+)", lambda m: f"row {int(m[1]) + shard.start}", message)
    return text if shard.layer is None else "\n".join(f"layer {shard.layer}: {line}" for line in text.splitlines())


def gather(done: list[dict], rows: dict[int | None, int]) -> dict:
    """{layer: result} (or the one result of a one-layer input) from every shard's job, in row order."""
    out = {}
    for layer in rows:
        parts = sorted((d for d in done if d["shard"].layer == layer), key=lambda d: d["shard"].start)
        out[layer] = {name: np.concatenate([p["result"][name] for p in parts]) for name in parts[0]["result"]}
    return out[None] if None in out else out
