"""latte-rtl command line. Each command lives beside the code it drives:

  generate, golden          latte_rtl/design/cli.py
  sim, run                  sim/cli.py
  synth, sweep, flow        synth/cli.py
  evaluate, calibrate, dump latte_rtl/workloads/cli.py
  prove                     latte_rtl/formal/cli.py

Exit codes: 0 done; 1 the run failed (RTL and golden disagree, a simulator or worker process
died, a synthesis flow failed); 2 a user error, one line `latte-rtl: error: ...` on stderr;
128 + n on signal n (SIGINT, SIGTERM, SIGHUP), after removing temporary files and child processes.
"""

from __future__ import annotations

import sys

from ..errors import RunFailed, UserError
from .common import Parser, merge_design


def build_parser() -> Parser:
    from .. import __version__
    from ..design import cli as design_cli
    from ..formal import cli as formal_cli
    from ..sim import cli as sim_cli
    from ..synth import cli as synth_cli
    from ..workloads import cli as workloads_cli

    parser = Parser(prog="latte-rtl", description="Generate, verify and cost LATTE sparse-attention hardware.")
    parser.add_argument("--version", action="version", version=f"latte-rtl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in (design_cli, sim_cli, synth_cli, workloads_cli, formal_cli):
        module.register(sub)
    return parser


def main(argv=None) -> int:
    from ..signals import Interrupted, check_received, handled

    try:
        with handled():
            args = build_parser().parse_args(argv)
            merge_design(args)
            code = args.func(args)
            check_received()
            return code
    except UserError as exc:
        print(f"latte-rtl: error: {exc}", file=sys.stderr)
        return 2
    except RunFailed as exc:
        print(f"latte-rtl: FAIL: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(f"latte-rtl: interrupted by {exc.name} (temporary files and child processes removed)", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("latte-rtl: interrupted by SIGINT (temporary files and child processes removed)", file=sys.stderr)
        return 130
    except OSError as exc:  # a file-system failure the checks did not foresee: still one line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"latte-rtl: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
