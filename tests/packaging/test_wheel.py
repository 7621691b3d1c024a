"""The built wheel installs one package, latte_rtl, with every data file the tool reads at run time."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_holds_only_the_latte_rtl_package(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", tmp_path, ROOT], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "License classifiers are deprecated" not in proc.stderr and "license" not in proc.stderr.lower()
    (wheel,) = tmp_path.glob("latte_rtl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"latte_rtl"}, tops
    for needed in ("latte_rtl/golden/latte.py", "latte_rtl/sim/tb_top.py", "latte_rtl/sim/native_harness.cpp",
                   "latte_rtl/synth/ihp130.ys", "latte_rtl/synth/generic.ys", "latte_rtl/data/default_qk.npz"):
        assert needed in names, needed
    assert any(n.startswith("latte_rtl/synth/pdk/ihp-sg13g2/") and n.endswith(".xz") for n in names)
    metadata = next(n for n in names if n.endswith("METADATA"))
    assert "License-Expression: Apache-2.0" in zipfile.ZipFile(wheel).read(metadata).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), "the Apache-2.0 text (license-files)"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "latte-rtl = latte_rtl.commands:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
