"""latte-rtl command-line machinery: the parser class and shared options (common.py), `parser_for` a
list of command modules and `run`, which maps what a command raised to its exit code. It imports no
command: they are listed above, in latte_rtl/commands.py (`main`, the `latte-rtl` entry point), and
each lives beside the code it drives, importing common.py from here.

Exit codes: 0 done; 1 the run failed (RTL and golden disagree, a simulator or worker process
died, a synthesis flow failed); 2 a user error, one line `latte-rtl: error: ...` on stderr;
128 + n on signal n (SIGINT, SIGTERM, SIGHUP), after removing temporary files and child processes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from ..errors import RunFailed, UserError
from .common import Parser, merge_design


def parser_for(modules: Iterable) -> Parser:
    """The `latte-rtl` parser: each module of `modules` adds its subcommands with `register(sub)`."""
    from .. import __version__

    parser = Parser(prog="latte-rtl", description="Generate, verify and cost LATTE sparse-attention hardware.")
    parser.add_argument("--version", action="version", version=f"latte-rtl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in modules:
        module.register(sub)
    return parser


def run(build: Callable[[], Parser], argv=None) -> int:
    """Parse `argv` with the parser `build()` makes and run its command; the exit code (above)."""
    from ..signals import Interrupted, check_received, handled

    try:
        with handled():
            args = build().parse_args(argv)
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


def __getattr__(name: str):
    """`main` and `build_parser`, the old entry point here (console scripts installed before it moved to
    latte_rtl.commands), looked up when asked for: importing this package imports no command."""
    if name in ("main", "build_parser"):
        from .. import commands

        return getattr(commands, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
