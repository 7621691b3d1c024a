"""Run the CLI as a user does (a subprocess) and check the one-line user-error contract."""

import subprocess
import sys


def run_cli(*args, timeout: float | None = None):
    """`latte-rtl ARGS` in a subprocess; past `timeout` seconds it gets SIGTERM (prove then stops its solvers)
    and the test fails."""
    with subprocess.Popen([sys.executable, "-m", "latte_rtl.cli", *map(str, args)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.communicate()
            raise AssertionError(f"latte-rtl {' '.join(map(str, args))} ran over {timeout} s") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def assert_user_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("latte-rtl: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
