"""One source for every design parameter: its help, range or choices, and where it applies.

A stage dataclass declares each parameter with `param(...)`; the spec travels in the field's
metadata and drives validation (`check_params`), the CLI options (`latte_rtl.cli.common`),
the manifest's `param_ranges` and the parameter table of docs/cli.md (`markdown_table`, checked by a test).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import UserError


@dataclass(frozen=True)
class ParamSpec:
    """What a parameter means and which values it takes.

    help      one phrase, no range (the range is appended from lo/hi or choices)
    lo, hi    inclusive integer bounds; `hi` may name another parameter, optionally minus a constant
              ("dim", "bits-1"), resolved against the design
    choices   the allowed strings of a string parameter (a `Live` sequence follows a registry)
    requires  ((parameter, value), ...) under which it applies; given otherwise, the CLI refuses it (a
              `Live` value: any of its items)
    symbol    the spec's letter for it (docs/spec.md) (F, P, B, R, L), if any
    """

    help: str
    lo: int | None = None
    hi: int | str | None = None
    choices: Sequence[str] = ()
    requires: tuple[tuple[str, object], ...] = ()
    symbol: str = ""


class Live(Sequence):
    """A sequence read afresh from `source()` at every use: choices, or a `requires` value, that follow a
    registry (`kv_memory`'s buses: a bus registered later is one of them). Printed as its items joined by |."""

    def __init__(self, source: Callable[[], Sequence]):
        self.source = source

    def __getitem__(self, index):
        return tuple(self.source())[index]

    def __len__(self) -> int:
        return len(tuple(self.source()))

    def __str__(self) -> str:
        return "|".join(map(str, self.source()))


def meets(value, wanted) -> bool:
    """Whether a parameter's `value` meets a `requires` value: equal to it, or one of a `Live` one's items."""
    return value in wanted if isinstance(wanted, Live) else value == wanted


def param(default, help: str, **spec) -> dataclasses.Field:
    """A dataclass field carrying its ParamSpec (see the class for the keywords)."""
    return dataclasses.field(default=default, metadata={"param": ParamSpec(help, **spec)})


def spec_of(f: dataclasses.Field) -> ParamSpec:
    try:
        return f.metadata["param"]
    except KeyError:
        raise TypeError(f"design parameter {f.name!r} must be declared with param(...), with its help and "
                        "range: it drives the CLI, the checks and the docs/cli.md table") from None


def param_fields(stage_cls) -> list[dataclasses.Field]:
    """The parameter fields of a stage dataclass (init fields), in declaration order."""
    return [f for f in dataclasses.fields(stage_cls) if f.init]


def _bound(stage, hi, *, applies: bool = True) -> tuple[int, str]:
    """(value, text) of an upper bound: an int, or "name" / "name-k" of another parameter. Where
    the parameter does not apply, a named bound falls back to that parameter's own static maximum."""
    if hi is None or isinstance(hi, int):
        return hi, str(hi)
    name, _, minus = hi.partition("-")
    offset = int(minus) if minus else 0
    if not applies:
        other = spec_of(next(f for f in dataclasses.fields(stage) if f.name == name))
        return other.hi - offset, str(other.hi - offset)
    value = getattr(stage, name) - offset
    return value, f"{hi} = {value}"


def applies(stage_values: dict, spec: ParamSpec) -> bool:
    return all(name not in stage_values or meets(stage_values[name], value) for name, value in spec.requires)


def range_text(spec: ParamSpec) -> str:
    """'4..16', '1..dim', or 'relative|absolute' (unresolved, for help and docs)."""
    if spec.choices:
        return ", ".join(spec.choices)
    if spec.lo is None:
        return "on, off"
    return f"{spec.lo}..{spec.hi}"


def check_params(stage) -> None:
    """UserError worded "name must be …, not value" for the first parameter of `stage` out of its range."""
    values = {f.name: getattr(stage, f.name) for f in param_fields(type(stage))}
    for f in param_fields(type(stage)):
        spec, value = spec_of(f), values[f.name]
        if spec.choices:
            if value not in spec.choices:
                raise UserError(f"{f.name} must be one of {', '.join(spec.choices)}, not {value!r}")
        elif isinstance(f.default, bool):
            if not isinstance(value, bool):
                raise UserError(f"{f.name} must be true or false, not {value!r}")
        else:
            hi, hi_text = _bound(stage, spec.hi, applies=applies(values, spec))
            check_int(f.name, value, spec.lo, hi, hi_text)


def check_int(name: str, value, lo: int, hi: int, hi_text: str | None = None) -> None:
    """UserError worded "name must be an integer lo ≤ name ≤ hi, not value" unless lo ≤ value ≤ hi."""
    expected = f"an integer {lo} ≤ {name} ≤ {hi_text or hi}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{name} must be {expected}, not {value!r}")
    if not (lo <= value <= hi):
        raise UserError(f"{name}={value} is out of range: {name} must be {expected}, not {value}")


def resolved_ranges(stage) -> dict[str, object]:
    """{name: [lo, hi] or [choices...]} with bounds resolved for this design (the manifest's form)."""
    values = {f.name: getattr(stage, f.name) for f in param_fields(type(stage))}
    out = {}
    for f in param_fields(type(stage)):
        spec = spec_of(f)
        if spec.choices:
            out[f.name] = list(spec.choices)
        elif isinstance(f.default, bool):
            out[f.name] = [False, True]
        else:
            out[f.name] = [spec.lo, _bound(stage, spec.hi, applies=applies(values, spec))[0]]
    return out


def cli_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def help_text(f: dataclasses.Field, default=dataclasses.MISSING) -> str:
    """The CLI help of a parameter: its phrase, range and default (its field's, or `default` where a
    command has its own)."""
    spec = spec_of(f)
    default = f.default if default is dataclasses.MISSING else default
    if isinstance(default, bool):
        return f"{spec.help} (default {'on' if default else 'off'})"
    if spec.choices:  # argparse lists the choices
        return f"{spec.help} (default {default})"
    return f"{spec.symbol + ': ' if spec.symbol else ''}{spec.help}, {range_text(spec)} (default {default})"


def markdown_table(stages: dict) -> str:
    """The parameter table of docs/cli.md (its latte-params directive), one row per parameter of every stage."""
    rows = ["| option | stage | range | default | meaning |", "|---|---|---|---|---|"]
    for stage_name, cls in stages.items():
        for f in param_fields(cls):
            spec = spec_of(f)
            flag = cli_flag(f.name) + ("/--no-" + f.name.replace("_", "-") if isinstance(f.default, bool) else "")
            meaning = (f"{spec.symbol}: " if spec.symbol else "") + spec.help
            if spec.requires:
                meaning += "; applies with " + ", ".join(
                    f"{cli_flag(n)}" if v is True else f"{cli_flag(n)} {v}" for n, v in spec.requires)
            default = ("on" if f.default else "off") if isinstance(f.default, bool) else f.default
            rows.append(f"| `{flag}` | {stage_name} | {range_text(spec)} | {default} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":  # python -m latte_rtl.params: print the docs/cli.md table
    from .config import STAGES

    print(markdown_table(STAGES))
