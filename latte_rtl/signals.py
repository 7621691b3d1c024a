"""SIGINT, SIGTERM and SIGHUP end a command the same way: an `Interrupted` exception unwinds the
stack (temporary directories removed, child processes killed, outputs left as they were) and the
CLI exits 128 + the signal number. Child processes run in their own process group and die with
their parent (Linux), so nothing outlives the command."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


class Interrupted(KeyboardInterrupt):
    """A handled signal arrived; `signum` is its number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


_groups: set[int] = set()  # process groups of the running run_child calls (of every thread)
_received: list[int] = []  # the signal being handled: no new child starts meanwhile


def _kill_groups() -> None:
    for pgid in list(_groups):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def _raise(signum, frame):
    for sig in HANDLED:  # a second signal must not interrupt the clean-up of the first
        signal.signal(sig, signal.SIG_IGN)
    _received.append(signum)
    _kill_groups()  # children of other threads too (synthesis flows run in threads)
    raise Interrupted(signum)


def check_received() -> None:
    """Raise Interrupted if a signal arrived whose exception was swallowed (raised inside a
    __del__ or a callback, where Python only prints it)."""
    if _received:
        raise Interrupted(_received[0])


@contextlib.contextmanager
def handled():
    """Within the block, each of HANDLED raises Interrupted (once); the old handlers after it.
    A no-op outside the main thread (where Python cannot set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, _raise) for sig in HANDLED}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        _received.clear()


def _worker_exit(signum, frame):
    _kill_groups()
    os._exit(128 + signum)


def worker_init(tmp_root: str | None = None) -> None:
    """Initializer of a local worker process: a signal kills its child processes and ends it at
    once (no exception to unwind: it could be swallowed mid-job); its temporary files go under
    `tmp_root`, the command's own temporary directory, which the command removes even if this
    worker is killed."""
    for sig in HANDLED:
        signal.signal(sig, _worker_exit)
    if tmp_root is not None:
        tempfile.tempdir = tmp_root


def quiet_worker() -> None:
    """Initializer of a pool worker that holds nothing to clean up: SIGINT is left to the parent
    (which ends the pool), SIGTERM and SIGHUP end the worker without a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _libc_prctl():
    """libc's prctl, looked up once here: the child between fork and exec must not load libraries."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the parent (thread) dies, even by SIGKILL."""
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_child(cmd: list[str], timeout: float | None = None, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run in a new process group that dies with this process; on a signal, a timeout
    (subprocess.TimeoutExpired) or any other exception the whole group is killed first."""
    if _received:  # another thread is unwinding a signal: start nothing new
        raise Interrupted(_received[0])
    preexec = _die_with_parent if _PRCTL is not None else None
    if kwargs.pop("capture_output", False):
        kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with subprocess.Popen(cmd, start_new_session=True, preexec_fn=preexec, **kwargs) as proc:
        _groups.add(proc.pid)
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            _groups.discard(proc.pid)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
