"""Terminal text that fits 100 columns: aligned tables whose long cells wrap, wrapped prose lines."""

from __future__ import annotations

import textwrap

COLUMNS = 100


def wrap(text: str, width: int = COLUMNS, indent: str = "    ") -> str:
    """Each line of `text` wrapped to `width`; continuation lines get `indent` beyond the line's own."""
    out = []
    for line in text.splitlines() or [""]:
        lead = line[:len(line) - len(line.lstrip())]
        out.append(textwrap.fill(line, width, subsequent_indent=lead + indent, break_on_hyphens=False,
                                 break_long_words=True) if len(line) > width else line)
    return "\n".join(out)


def text_table(rows: list, width: int = COLUMNS, rule: bool = True) -> str:
    """Rows of cells (the first row the header) as aligned text: the first column left-aligned, the
    rest right-aligned; a row whose cells do not fit `width` keeps its label and puts the rest,
    wrapped, on the lines below it."""
    rows = [[("" if c is None else str(c)) for c in r] for r in rows]
    n = max(len(r) for r in rows)
    rows = [r + [""] * (n - len(r)) for r in rows]
    fits = [r for r in rows if sum(map(len, r)) + 2 * (n - 1) <= width]
    widths = [max((len(r[i]) for r in fits), default=0) for i in range(n)]
    if sum(widths) + 2 * (n - 1) > width:  # even the fitting rows together are too wide: drop alignment budget
        widths = [min(w, width // n) for w in widths]
    lines = []
    for r in rows:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        line = "  ".join(cells).rstrip()
        if len(line) <= width:
            lines.append(line)
            continue
        lines.append(r[0][:width])
        rest = "  ".join(c for c in r[1:] if c)
        lines.extend(textwrap.wrap(rest, width - 4, initial_indent="    ", subsequent_indent="    "))
    if rule and lines:
        lines.insert(1, "-" * min(width, max(len(x) for x in lines)))
    return "\n".join(lines)
