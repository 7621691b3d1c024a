"""Run the CLI as a user does (a subprocess) and check the one-line user-error contract."""

import subprocess
import sys


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "latte_rtl.cli", *map(str, args)], capture_output=True, text=True)


def assert_user_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("latte-rtl: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
