import os
import shutil

import pytest

from latte_rtl.sim.runner import INSTALL_HINT, verilator_bin_dir

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def simulator_available(sim: str) -> bool:
    if sim == "verilator":
        return verilator_bin_dir() is not None or shutil.which("verilator") is not None
    return shutil.which("iverilog") is not None


def require_simulator(sim: str) -> None:
    """Fail in CI, skip locally (with the install hint) when a simulator is missing."""
    if simulator_available(sim):
        return
    if IN_CI:
        pytest.fail(f"simulator missing in CI: {INSTALL_HINT[sim]}")
    pytest.skip(INSTALL_HINT[sim])


@pytest.fixture(params=["icarus", "verilator"])
def simulator(request):
    require_simulator(request.param)
    return request.param


TORCH_HINT = "PyTorch missing: pip install torch==2.13.0 (the CPU build)"


def require_torch():
    """The torch module; fail in CI, skip locally (with the install hint) when it is missing."""
    try:
        import torch
    except ImportError:
        if IN_CI:
            pytest.fail(f"torch missing in CI: {TORCH_HINT}")
        pytest.skip(TORCH_HINT)
    return torch


def require_minilm():
    """The MiniLM model (NumPy); fail in CI, skip locally with the install command when missing."""
    from latte_rtl.errors import UserError
    from latte_rtl.workloads.minilm import load_minilm

    try:
        return load_minilm()
    except UserError as exc:
        if IN_CI:
            pytest.fail(f"MiniLM missing in CI: {exc}")
        pytest.skip(str(exc))
