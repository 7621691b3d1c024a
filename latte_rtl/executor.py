"""Where independent jobs (sweep points, shards of rows) run: local worker processes by default,
or the workers of a Dask distributed cluster (`--scheduler tcp://HOST:8786`). Both give
`submit(fn, *args) -> future` and `as_completed(futures)`; a job's exception comes back from
its future's `result()`, so one failed job is reported and the others go on."""

from __future__ import annotations

import contextlib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as local_as_completed

from .errors import UserError

DASK_HINT = 'run `pip install "dask[distributed]"` (part of the dev extra)'
CONNECT_TIMEOUT_S = 10


class LocalPool:
    """`workers` local processes."""

    def __init__(self, workers: int):
        self.pool = ProcessPoolExecutor(max_workers=workers)
        self.workers = workers

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def as_completed(self, futures):
        return local_as_completed(futures)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


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

    def close(self) -> None:
        self.client.close()


@contextlib.contextmanager
def job_pool(scheduler: str | None, workers: int):
    """A DaskPool on `scheduler`, else a LocalPool of `workers` processes; closed on exit."""
    pool = DaskPool(scheduler) if scheduler else LocalPool(workers)
    try:
        yield pool
    finally:
        pool.close()
