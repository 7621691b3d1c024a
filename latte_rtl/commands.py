"""The latte-rtl commands: the `latte-rtl` console script and `python -m latte_rtl.cli` run `main`.
Each command lives beside the code it drives and registers its subcommands (`register(sub)`):

  generate, golden          latte_rtl/design/cli.py
  sim, run                  latte_rtl/sim/cli.py
  synth, sweep, explore,    latte_rtl/synth/cli.py
  flow
  evaluate, calibrate, dump latte_rtl/workloads/cli.py
  prove                     latte_rtl/formal/cli.py

This module sits above them all; latte_rtl/cli/ below holds only the parser machinery (the parser,
shared options, exit codes) that the command modules import.
"""

from __future__ import annotations

from .cli import Parser, parser_for, run


def command_modules() -> tuple:
    """Every command module, in the order of `latte-rtl --help`."""
    from .design import cli as design_cli
    from .formal import cli as formal_cli
    from .sim import cli as sim_cli
    from .synth import cli as synth_cli
    from .workloads import cli as workloads_cli

    return design_cli, sim_cli, synth_cli, workloads_cli, formal_cli


def build_parser() -> Parser:
    """The `latte-rtl` parser with every command."""
    return parser_for(command_modules())


def main(argv=None) -> int:
    """Run `latte-rtl` on `argv` (default sys.argv[1:]); the exit code (latte_rtl/cli/__init__.py)."""
    return run(build_parser, argv)
