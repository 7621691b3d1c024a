"""The CLI reference, rendered from the code: two Sphinx directives for docs/cli.md.

``latte-cli``     every subcommand of `latte-rtl`'s own argparse parser (`build_parser()`): its help line,
                  its usage and each option group with every option's help, as argparse prints them.
``latte-params``  the design-parameter table, `latte_rtl.params.markdown_table(STAGES)`: one row per
                  parameter of every stage (range, default, meaning), from the parameter specs.

Nothing here is written by hand, so the page cannot drift from the tool; tests/docs/test_site.py builds it.
"""

from __future__ import annotations

import argparse
import re

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


def build_parser() -> argparse.ArgumentParser:
    """`latte-rtl`'s parser, wherever the dispatcher lives (latte_rtl.commands, else latte_rtl.cli)."""
    try:
        from latte_rtl.commands import build_parser as build
    except ImportError:
        from latte_rtl.cli import build_parser as build
    return build()


def params_markdown() -> str:
    """The design-parameter table as Markdown (the one source: the specs of latte_rtl/config.py)."""
    from latte_rtl.config import STAGES
    from latte_rtl.params import markdown_table

    return markdown_table(STAGES)


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of every subcommand, in the order of `latte-rtl --help`."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def option_groups(parser: argparse.ArgumentParser) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group title, [(invocation, help)]) of a parser, as its --help shows them (help itself left out)."""
    formatter = parser._get_formatter()
    groups = []
    for group in parser._action_groups:
        rows = []
        for action in group._group_actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            invocation = formatter._format_action_invocation(action)
            text = formatter._expand_help(action) if action.help else ""
            rows.append((invocation, " ".join(text.split())))
        if rows:
            groups.append((group.title or "", rows))
    return groups


def usage(parser: argparse.ArgumentParser) -> str:
    return parser.format_usage().strip()


DESIGN_GROUP = "design parameters"   # latte_rtl.cli.common.add_config_options
PARAMS_TARGET = "design-parameters"  # the label above the `latte-params` table in docs/cli.md

_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> list[nodes.Node]:
    """Plain text with `code` spans as literals (the help texts quote commands and files that way)."""
    out, pos = [], 0
    for match in _CODE.finditer(text):
        if match.start() > pos:
            out.append(nodes.Text(text[pos:match.start()]))
        out.append(nodes.literal(match.group(1), match.group(1)))
        pos = match.end()
    if pos < len(text):
        out.append(nodes.Text(text[pos:]))
    return out


def _table(header: tuple[str, str], rows: list[tuple[str, str]]) -> nodes.table:
    table = nodes.table(classes=["cli-options"])
    group = nodes.tgroup(cols=2)
    table += group
    group += nodes.colspec(colwidth=35)
    group += nodes.colspec(colwidth=65)

    def row(cells, literal_first):
        r = nodes.row()
        for i, cell in enumerate(cells):
            entry = nodes.entry()
            para = nodes.paragraph()
            para += [nodes.literal(cell, cell)] if (literal_first and i == 0) else _inline(cell)
            entry += para
            r += entry
        return r

    head = nodes.thead()
    head += row(header, False)
    body = nodes.tbody()
    for cells in rows:
        body += row(cells, True)
    group += head
    group += body
    return table


class CliReference(SphinxDirective):
    """Every `latte-rtl` subcommand: a section each with its help, usage and options."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        parser = build_parser()
        out: list[nodes.Node] = []
        overview = usage(parser)
        out.append(nodes.literal_block(overview, overview, language="text"))
        for name, help_line, sub in subcommands(parser):
            section = nodes.section(ids=[f"latte-rtl-{name}"], names=[f"latte-rtl {name}"])
            title = nodes.title()
            title += nodes.literal(f"latte-rtl {name}", f"latte-rtl {name}")
            section += title
            if help_line:
                para = nodes.paragraph()
                para += _inline(help_line + ".")
                section += para
            text = usage(sub)
            section += nodes.literal_block(text, text, language="text")
            for group_title, rows in option_groups(sub):
                section += nodes.rubric(group_title, group_title)
                if group_title == DESIGN_GROUP:  # the same options on every command: the table of the page
                    para = nodes.paragraph()
                    para += nodes.Text(f"{len(rows)} options, one per design parameter: ")
                    link = nodes.reference("", "", internal=True, refid=PARAMS_TARGET)
                    link += nodes.Text("the parameter table")
                    para += link
                    para += nodes.Text(" gives each one's range, default and meaning.")
                    section += para
                else:
                    section += _table(("option", "meaning"), rows)
            self.state.document.note_implicit_target(section, section)
            out.append(section)
        return out


class ParamsTable(SphinxDirective):
    """The design-parameter table of latte_rtl.params.markdown_table, parsed as Markdown."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        container = nodes.container(classes=["latte-params"])
        lines = StringList(params_markdown().splitlines(), source="latte_rtl.params.markdown_table")
        self.state.nested_parse(lines, self.content_offset, container)
        return container.children


def setup(app):
    app.add_directive("latte-cli", CliReference)
    app.add_directive("latte-params", ParamsTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
