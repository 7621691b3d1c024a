import importlib
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


def _require(module: str, what: str, hint: str):
    """import `module`; fail in CI, skip locally (with the install hint) when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if IN_CI:
            pytest.fail(f"{what} missing in CI: {hint}")
        pytest.skip(hint)


def require_torch():
    """The torch module; fail in CI, skip locally (with the install hint) when it is missing."""
    return _require("torch", "torch", TORCH_HINT)


def require_dask():
    """The `distributed` module; fail in CI, skip locally (with the install hint) when it is missing."""
    from latte_rtl.executor import DASK_HINT

    return _require("distributed", "Dask", DASK_HINT)


def require_model(label: str, load):
    """load() of a model shipped in a wheel; fail in CI, skip locally with the install command when missing."""
    from latte_rtl.errors import UserError

    try:
        return load()
    except UserError as exc:
        if IN_CI:
            pytest.fail(f"{label} missing in CI: {exc}")
        pytest.skip(str(exc))


def require_minilm():
    """The MiniLM model (NumPy)."""
    from latte_rtl.workloads.minilm import load_minilm

    return require_model("MiniLM", load_minilm)


CHROMIUM_HINT = "Chromium missing: sudo apt-get install chromium (Debian) to render report.html in a test"


def render_html(html_path, png_path, width: int = 1280, height: int = 8000):
    """Render an HTML file with headless Chromium to a PNG (fails in CI, skips locally without it)."""
    import subprocess

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        if IN_CI:
            pytest.fail(f"chromium missing in CI: {CHROMIUM_HINT}")
        pytest.skip(CHROMIUM_HINT)
    profile = png_path.parent / "chromium-profile"
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--screenshot={png_path}",
           f"file://{html_path}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and png_path.is_file(), proc.stderr[-2000:]
    return png_path


def png_content(png_path) -> dict:
    """What a rendered page shows: the share of non-white pixels and whether the report's table
    header colour (#eef2f7) and an embedded plot's colours (saturated pixels) appear."""
    import numpy as np
    from PIL import Image

    image = Image.open(png_path).convert("RGB")
    pixels = np.asarray(image, dtype=np.int32).reshape(-1, 3)
    ink = float((pixels.min(axis=1) < 200).mean())
    header = bool((pixels == (0xEE, 0xF2, 0xF7)).all(axis=1).any())
    saturated = int(((pixels.max(axis=1) - pixels.min(axis=1)) > 80).sum())
    return {"ink": ink, "table_header": header, "saturated_pixels": saturated, "size": image.size}
