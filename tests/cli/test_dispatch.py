"""The command dispatcher sits above the packages it dispatches to: latte_rtl/commands.py lists the
command modules, latte_rtl/cli/ (parser machinery, exit codes) imports none of them, and the entry
points (`latte-rtl`, `python -m latte_rtl.cli`, the old `latte_rtl.cli.main`) all run the same main."""

import ast
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

import latte_rtl.cli
import latte_rtl.commands
from latte_rtl.commands import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMMAND_PACKAGES = ("design", "sim", "synth", "workloads", "formal")
COMMANDS = ["generate", "golden", "sim", "run", "synth", "sweep", "explore", "flow", "evaluate", "calibrate",
            "dump", "prove"]


def test_every_command_is_dispatched_in_help_order():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == COMMANDS


def test_the_cli_package_imports_no_command_module():
    """Neither at import time (a fresh interpreter) nor anywhere in its source, but its `__main__`."""
    code = ("import sys, latte_rtl.cli, latte_rtl.cli.common; print(sorted(m for m in sys.modules if "
            f"m.split('.')[:2] in [['latte_rtl', p] for p in {COMMAND_PACKAGES + ('commands',)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr
    for path in (ROOT / "latte_rtl" / "cli").glob("*.py"):
        if path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module or ''}.{a.name}" for a in node.names]
                up = [n for n in names if n.lstrip(".").split(".")[0] in COMMAND_PACKAGES and node.level >= 2
                      or n.split(".")[:2] in [["latte_rtl", p] for p in COMMAND_PACKAGES]]
                assert not up, f"{path.name}:{node.lineno} imports {up}"
            elif isinstance(node, ast.Import):
                assert not [a.name for a in node.names if a.name.split(".")[:2] in
                            [["latte_rtl", p] for p in COMMAND_PACKAGES]], f"{path.name}:{node.lineno}"


def test_every_entry_point_runs_the_same_main():
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["latte-rtl"]
    module, _, name = target.partition(":")
    assert getattr(import_module(module), name) is latte_rtl.commands.main
    assert latte_rtl.cli.main is latte_rtl.commands.main  # the old entry point, for installed scripts
    assert latte_rtl.cli.build_parser is latte_rtl.commands.build_parser
    proc = subprocess.run([sys.executable, "-m", "latte_rtl.cli", "--version"], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.startswith("latte-rtl "), proc.stderr
    assert "latte_rtl.commands" in (ROOT / "latte_rtl" / "cli" / "__main__.py").read_text()
