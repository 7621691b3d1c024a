"""Where independent jobs (sweep points, shards of rows) run: local worker processes by default,
or the workers of a Dask distributed cluster (`--scheduler tcp://HOST:8786`). Both give
`submit(fn, *args) -> future` and `as_completed(futures)`; a job's exception comes back from
its future's `result()`, so one failed job is reported and the others go on."""

from __future__ import annotations

import contextlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as local_as_completed

from .errors import UserError

DASK_HINT = 'run `pip install "dask[distributed]"` (part of the dev extra)'
CONNECT_TIMEOUT_S = 10
PER_CORE = 2  # local worker processes per CPU core at most


def bounded_jobs(requested: int, work: int, what: str, option: str = "-j") -> int:
    """Worker processes for `work` independent jobs (rows, flows, points, settings): at most one
    per job and PER_CORE per CPU core; a larger request is clamped, with a note on stderr."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = max(1, min(work, PER_CORE * cores))
    if requested <= limit:
        return requested
    print(f"latte-rtl: note: {option} {requested} clamped to {limit} ({work} {what}, {cores} CPU cores × "
          f"{PER_CORE})", file=sys.stderr)
    return limit


class LocalPool:
    """`workers` local processes; their temporary files go under `tmp_root` (see signals.worker_init)."""

    def __init__(self, workers: int, tmp_root: str | None = None):
        from .signals import worker_init

        self.pool = ProcessPoolExecutor(max_workers=workers, initializer=worker_init, initargs=(tmp_root,))
        self.workers = workers

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def as_completed(self, futures):
        return local_as_completed(futures)

    def close(self, interrupted: bool = False) -> None:
        """Wait for the workers; interrupted, end them first (each kills its children and exits)."""
        if interrupted:
            processes = list((self.pool._processes or {}).values())
            for p in processes:
                with contextlib.suppress(Exception):
                    p.terminate()
            for p in processes:
                p.join(timeout=10)
                if p.is_alive():
                    p.kill()
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskPool:
    """The workers of the Dask cluster whose scheduler listens at `address`."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise UserError(f"--scheduler needs Dask: {DASK_HINT}") from None
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {address} ({exc.__class__.__name__}): expected "
                            "tcp://HOST:PORT of a running `dask scheduler`") from None
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def as_completed(self, futures):
        from distributed import as_completed

        return as_completed(list(futures), loop=self.client.loop)

    def close(self, interrupted: bool = False) -> None:
        self.client.close()


@contextlib.contextmanager
def job_pool(scheduler: str | None, workers: int, tmp_root: str | None = None):
    """A DaskPool on `scheduler`, else a LocalPool of `workers` processes; closed on exit (its
    workers ended first when the block is left by an exception)."""
    pool = DaskPool(scheduler) if scheduler else LocalPool(workers, tmp_root)
    try:
        yield pool
    except BaseException:
        pool.close(interrupted=True)
        raise
    pool.close()
