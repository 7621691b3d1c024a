"""latte-rtl command line. Each command lives beside the code it drives:

  generate, golden          latte_rtl/design/cli.py
  sim, run                  sim/cli.py
  synth, sweep, flow        synth/cli.py
  evaluate, calibrate, dump latte_rtl/workloads/cli.py
  prove                     latte_rtl/formal/cli.py

Every user error prints one line `latte-rtl: error: ...` on stderr and exits with code 2.
"""

from __future__ import annotations

import sys

from ..errors import UserError
from .common import Parser


def build_parser() -> Parser:
    from ..design import cli as design_cli
    from ..formal import cli as formal_cli
    from ..sim import cli as sim_cli
    from ..synth import cli as synth_cli
    from ..workloads import cli as workloads_cli

    from .. import __version__

    parser = Parser(prog="latte-rtl", description="Generate, verify and cost LATTE sparse-attention hardware.")
    parser.add_argument("--version", action="version", version=f"latte-rtl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in (design_cli, sim_cli, synth_cli, workloads_cli, formal_cli):
        module.register(sub)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UserError as exc:
        print(f"latte-rtl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("latte-rtl: interrupted", file=sys.stderr)
        return 130
