"""Shared pieces of the command line: the parser class, design-parameter options, list options."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import STAGES, LatteConfig, implied_params
from ..errors import UserError
from ..params import cli_flag, help_text, meets, param_fields, spec_of


def design_parameters() -> dict:
    """{name: dataclass field} of every design parameter, in pipeline order."""
    return {f.name: f for cls in STAGES.values() for f in param_fields(cls)}


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage + message otherwise)
        raise UserError(message)


def add_config_options(p: argparse.ArgumentParser, defaults: dict | None = None) -> None:
    """One option per design parameter of every stage; help, choices and range from its param spec
    (defaults stay None here so that a given option can be told from a default). `defaults` {name:
    value}: where the command's default differs from the parameter's (the help says so)."""
    g = p.add_argument_group("design parameters")
    for name, f in design_parameters().items():
        spec, text = spec_of(f), help_text(f, (defaults or {}).get(name, f.default))
        if isinstance(f.default, bool):
            g.add_argument(cli_flag(name), action=argparse.BooleanOptionalAction, default=None, help=text)
        elif spec.choices:
            g.add_argument(cli_flag(name), choices=spec.choices, default=None, help=text)
        else:
            g.add_argument(cli_flag(name), type=int, default=None, metavar="N", help=text)


def given_config_options(args) -> dict:
    return {name: getattr(args, name) for name in design_parameters() if getattr(args, name, None) is not None}


def config_from_args(args) -> LatteConfig:
    return LatteConfig.from_params(**given_config_options(args))


def design_config_from_args(args, *, attention_default: bool = False) -> LatteConfig:
    """The config of a design to generate: softmax and P·V options need the attention tops, and
    --log-levels the log2 format (an option that does not apply is an error, not ignored)."""
    given = given_config_options(args)
    values = {"attention": attention_default, **implied_params(given)}   # --kv-memory axi: attention on
    params = design_parameters()
    unmet = {name: [(n, v) for n, v in spec_of(params[name]).requires
                    if not meets(values.get(n, params[n].default), v)] for name in given}
    unmet = {name: u for name, u in unmet.items() if u}
    need_attention = [name for name, u in unmet.items() if ("attention", True) in u]
    if need_attention:
        raise UserError(f"{', '.join(map(cli_flag, need_attention))} configure the attention tops: add --attention")
    for name, u in unmet.items():
        raise UserError(f"{cli_flag(name)} applies to {' '.join(cli_flag(n) + ' ' + str(v) for n, v in u)} only")
    return LatteConfig.from_params(**values)


def add_design_argument(p: argparse.ArgumentParser, text: str) -> None:
    """The design directory: positional (`latte-rtl CMD DIR`), `--design DIR` an alias."""
    p.add_argument("design", nargs="?", metavar="DIR", help=text)
    p.add_argument("--design", dest="design_option", metavar="DIR", help="the same as the positional DIR")


def merge_design(args) -> None:
    """args.design := the positional DIR or --design DIR (giving both, different, is an error)."""
    if not hasattr(args, "design_option"):
        return
    if args.design and args.design_option and args.design != args.design_option:
        raise UserError(f"two design directories, {args.design} and --design {args.design_option}: give one")
    args.design = args.design or args.design_option


def required_design(args) -> str:
    """The design directory of a command that needs one."""
    if not args.design:
        raise UserError(f"{args.command} needs a design directory: latte-rtl {args.command} DIR … (made by "
                        "`latte-rtl generate -o DIR`)")
    return args.design


def one_simulator(text: str | None, simulators, option: str = "--sim") -> str | None:
    """--sim of a command that runs one simulator (of `simulators`): the same comma-list syntax, one item."""
    if text is None:
        return None
    sims = split_list(text, simulators, option)
    if len(sims) > 1:
        raise UserError(f"{option} {text}: this command runs one simulator: expected one of {', '.join(simulators)}")
    return sims[0]


def int_at_least(option: str, minimum: int, maximum: int | None = None):
    """argparse type: an integer ≥ minimum (and ≤ maximum, if given)."""
    expected = f"an integer ≥ {minimum}" if maximum is None else f"an integer {minimum} ≤ N ≤ {maximum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} must be {expected}, not {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{option} must be {expected}, not {value}")
        return value
    return parse


def _number(option: str, expected: str, ok):
    """argparse type: a float for which ok(value) holds, else "OPTION must be EXPECTED, not …"."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} must be {expected}, not {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{option} must be {expected}, not {value}")
        return value
    return parse


def positive_number(option: str):
    """argparse type: a finite number > 0."""
    return _number(option, "a finite number > 0", lambda v: 0 < v < float("inf"))


def fraction(option: str):
    """argparse type: a number in [0, 1]."""
    return _number(option, "a number 0 ≤ R ≤ 1", lambda v: 0.0 <= v <= 1.0)


def positive_fraction(option: str):
    """argparse type: a number in (0, 1]."""
    return _number(option, "a number 0 < R ≤ 1", lambda v: 0.0 < v <= 1.0)


def add_keep_ratio(p: argparse.ArgumentParser, text: str, *, default=None, dest: str = "keep_ratio",
                   above_zero: bool = False) -> None:
    """`--keep-ratio R`, 0 ≤ R ≤ 1 (0 < R with `above_zero`), the one spelling every command shows, and
    `--keep`, its old spelling on calibrate and explore: the same value, hidden from help and usage."""
    def kind(option: str):
        return positive_fraction(option) if above_zero else fraction(option)

    p.add_argument("--keep-ratio", dest=dest, type=kind("--keep-ratio"), default=default, metavar="R", help=text)
    p.add_argument("--keep", dest=dest, type=kind("--keep"), default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def split_list(text: str, allowed, option: str) -> list[str]:
    """A comma-separated list whose items are all in `allowed`."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    for item in items:
        if item not in allowed:
            raise UserError(f"{option}: unknown value {item!r}: expected a comma-separated list of "
                            f"{', '.join(allowed)}")
    if not items:
        raise UserError(f"{option} is empty: expected a comma-separated list of {', '.join(allowed)}")
    return items


def scheduler_address(text: str) -> str:
    """argparse type: tcp://HOST:PORT (or tls://) of a Dask scheduler, checked before connecting."""
    from urllib.parse import urlsplit

    expected = "expected tcp://HOST:PORT of a running `dask scheduler`"
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a scheduler address: {expected}") from None
    if url.scheme not in ("tcp", "tls") or not url.hostname or not port or url.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a scheduler address: {expected}")
    return text


def default_qk() -> str:
    """The embedded default input: real Q/K of the shipped lm model (layer 1, 4 heads, d = 64)."""
    return str(Path(__file__).resolve().parent.parent / "data" / "default_qk.npz")


def embedded_keep_ratio(cfg: LatteConfig) -> float | None:
    """Kept fraction of the embedded real dump under `cfg` (golden), or None if it does not fit. The dump's
    thresholds are calibrated on HH: a design comparing another estimate gets the fraction they keep there."""
    from dataclasses import replace

    from latte_rtl import golden

    from ..npzio import load_qk

    score = replace(cfg.score, estimate="hh", row_thresholds=False)
    try:
        inp = load_qk(default_qk(), score)
    except UserError:
        return None
    return float(golden.score_rows(inp.q, inp.k, inp.heads, inp.thresholds, score,
                                   round1_thresholds=inp.round1_thresholds).kept.mean())
