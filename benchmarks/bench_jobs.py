"""`run -j N` is bounded (issue 19): wall time, the most processes at once and their summed peak
RSS (the CLI and every descendant, sampled every 50 ms) for -j 1, 2 and 100000 on a small design
(d = 8, 4 lanes, 16 keys) and 4000 random query rows (seed 19), the harness built before timing.

    python benchmarks/bench_jobs.py [--jobs 1,2,100000]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEED = 19


def _tree(root: int) -> tuple[int, int]:
    """(summed RSS in bytes, number of processes) of `root` and its descendants."""
    children, rss = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        rss[int(entry.name)] = int(fields[21]) * 4096
    todo, total, count = [root], 0, 0
    while todo:
        pid = todo.pop()
        count, total = count + 1, total + rss.get(pid, 0)
        todo += children.get(pid, [])
    return total, count


def measure(cmd: list[str]) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = most = 0
    while proc.poll() is None:
        total, count = _tree(proc.pid)
        peak, most = max(peak, total), max(most, count)
        time.sleep(0.05)
    return {"rc": proc.returncode, "seconds": time.perf_counter() - start, "peak_mib": peak / 2**20,
            "processes": most, "stderr": proc.communicate()[1].strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="1,2,100000", help="comma-separated -j values")
    args = parser.parse_args()
    from latte_rtl.config import LatteConfig
    from latte_rtl.design import generate, load_design
    from latte_rtl.sim.native_build import build_harness

    with tempfile.TemporaryDirectory() as tmp:
        design, qk = Path(tmp) / "d", Path(tmp) / "in.npz"
        generate(LatteConfig.from_params(dim=8, lanes=4, heads=2, max_keys=16), design)
        build_harness(design, "latte_score_engine", load_design(design)[1])
        rng = np.random.default_rng(SEED)
        np.savez(qk, q=rng.integers(-128, 128, (4000, 8), dtype=np.int8),
                 k=rng.integers(-128, 128, (16, 8), dtype=np.int8), thresholds=np.array([40, 80]),
                 heads=rng.integers(0, 2, 4000))
        for jobs in args.jobs.split(","):
            cli = [sys.executable, "-m", "latte_rtl.cli", "run", str(design), "--qk", str(qk), "-o",
                   str(Path(tmp) / "r.npz"), "-j", jobs]
            m = measure(cli)
            print(f"-j {jobs}: exit {m['rc']}, {m['seconds']:.1f} s, at most {m['processes']} processes, "
                  f"peak RSS {m['peak_mib']:.0f} MiB {m['stderr']}")


if __name__ == "__main__":
    main()
