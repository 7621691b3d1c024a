"""A progress bar for long steps (synthesis flows, sweep points, evaluation batches).

Drawn on standard error only when it is a terminal, redrawn in place; in a log or a pipe it
writes nothing, so captured output stays exactly what the commands print.
"""

from __future__ import annotations

import sys
import threading
import time

WIDTH = 24  # characters of the bar itself; a whole line stays within 100 columns


class Progress:
    """`with Progress(total, "synthesis") as bar: ... bar.advance("top/flow")`."""

    def __init__(self, total: int, label: str, stream=None):
        if total < 0:
            raise ValueError(f"total must be ≥ 0, not {total!r}")
        self.total, self.label, self.done = total, label, 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._start = time.monotonic()
        self._lock = threading.Lock()  # workers' threads advance and print: one line at a time

    def __enter__(self) -> Progress:
        self._draw("")
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 99 + "\r")
            self.stream.flush()

    def add(self, n: int) -> None:
        """`n` more steps to do (work found on the way)."""
        with self._lock:
            self.total += n

    def advance(self, note: str = "", n: int = 1) -> None:
        with self._lock:
            self.done = min(self.total, self.done + n)
            self._draw(note)

    def print(self, text: str) -> None:
        """Print a line to standard output above the bar (the bar is redrawn below it); safe from several
        threads (print writes the text and its newline apart: two threads could share a line)."""
        with self._lock:
            if self.enabled:
                self.stream.write("\r" + " " * 99 + "\r")
                self.stream.flush()
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            self._draw("")

    def line(self, note: str) -> str:
        """The bar as text (at most 99 characters)."""
        filled = WIDTH * self.done // self.total if self.total else WIDTH
        elapsed = int(time.monotonic() - self._start)
        head = (f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {self.done}/{self.total} "
                f"{elapsed // 60}:{elapsed % 60:02d} ")
        return (head + note)[:99]

    def _draw(self, note: str) -> None:
        if self.enabled:
            self.stream.write("\r" + self.line(note).ljust(99))
            self.stream.flush()
