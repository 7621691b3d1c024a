"""A self-contained `report.html`: every table and figure of a command, tool versions included.

Blocks are plain data: a `Table` (rows of cells, the first row the header), a `Text` (preformatted
text such as a design summary), a `Figure` (a PNG, embedded as a data URI so the file travels
alone) or a `Paragraph`. No scripts, no external files.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from .design.files import atomic_write_text

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: .2em .6em; text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eef2f7; } td:first-child, th:first-child, td.text { text-align: left; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
.caption { color: #555; font-size: .9em; }
"""


@dataclass(frozen=True)
class Table:
    rows: list  # list of rows (lists of cells); the first row is the header
    caption: str = ""


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Figure:
    path: Path
    caption: str = ""


@dataclass
class Section:
    heading: str
    blocks: list = field(default_factory=list)


def _cell(value, tag: str) -> str:
    text = "" if value is None else str(value)
    numeric = text.replace(",", "").replace(".", "", 1).replace("%", "").lstrip("-x").isdigit() or text in ("", "-")
    return f"<{tag}{'' if numeric else ' class=text'}>{html.escape(text)}</{tag}>"


def _block(block) -> str:
    if isinstance(block, Table):
        if not block.rows:
            return ""
        head = "".join(_cell(c, "th") for c in block.rows[0])
        body = "".join("<tr>" + "".join(_cell(c, "td") for c in row) + "</tr>" for row in block.rows[1:])
        caption = f"<caption class='caption'>{html.escape(block.caption)}</caption>" if block.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Text):
        return f"<pre>{html.escape(block.text)}</pre>"
    if isinstance(block, Paragraph):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Figure):
        data = base64.b64encode(Path(block.path).read_bytes()).decode("ascii")
        alt = html.escape(block.caption or Path(block.path).name)
        return (f"<figure><img alt='{alt}' src='data:image/png;base64,{data}'>"
                f"<figcaption class='caption'>{alt}</figcaption></figure>")
    raise TypeError(f"report block must be a Table, Text, Paragraph or Figure, not {block!r}")


def tool_versions_section(versions: dict) -> Section:
    return Section("Tool versions", [Table([["tool", "version"], *([k, v] for k, v in sorted(versions.items()))])])


def render(title: str, sections: list[Section]) -> str:
    parts = [f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.heading)}</h2>")
        parts.extend(_block(b) for b in section.blocks)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(path: Path, title: str, sections: list[Section]) -> Path:
    """Write the report atomically (a failed write leaves no partial file)."""
    atomic_write_text(Path(path), render(title, sections))
    return Path(path)
