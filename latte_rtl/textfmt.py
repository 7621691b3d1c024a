"""Terminal text that fits 100 columns: aligned tables whose long labels wrap, wrapped prose lines."""

from __future__ import annotations

import textwrap

COLUMNS = 100
LABEL_MIN = 28  # value columns narrow (their longest cells move below the row) until labels get this much


def wrap(text: str, width: int = COLUMNS, indent: str = "    ") -> str:
    """Each line of `text` wrapped to `width`; continuation lines get `indent` beyond the line's own."""
    out = []
    for line in text.splitlines() or [""]:
        lead = line[:len(line) - len(line.lstrip())]
        out.append(textwrap.fill(line, width, subsequent_indent=lead + indent, break_on_hyphens=False,
                                 break_long_words=True) if len(line) > width else line)
    return "\n".join(out)


def text_table(rows: list, width: int = COLUMNS, rule: bool = True) -> str:
    """Rows of cells (the first row the header) as aligned text within `width` columns: the label
    column left-aligned and wrapped to the room the value columns leave, values right-aligned; a
    value too long for its column (an error message, say) is printed wrapped below its row."""
    rows = [[("" if c is None else str(c)) for c in r] for r in rows]
    n = max(len(r) for r in rows)
    rows = [r + [""] * (n - len(r)) for r in rows]
    cap = max(len(c) for r in rows for c in r[1:])
    while True:
        values = [max([len(r[i]) for r in rows if len(r[i]) <= cap] or [0]) for i in range(1, n)]
        label_room = width - sum(values) - 2 * (n - 1)
        if label_room >= LABEL_MIN or cap <= 8:
            break
        cap -= 1
    label = max(8, min(label_room, max(len(r[0]) for r in rows)))
    lines = []
    for r in rows:
        long_cells = [c for c in r[1:] if len(c) > cap]
        cells = ["" if len(c) > cap else c for c in r[1:]]
        head = textwrap.wrap(r[0], label, subsequent_indent="  ") or [""]
        lines += head[:-1]
        lines.append("  ".join([head[-1].ljust(label), *(c.rjust(w) for c, w in zip(cells, values))]).rstrip())
        for cell in long_cells:
            lines.extend(textwrap.wrap(cell, width - 4, initial_indent="    ", subsequent_indent="    "))
    if rule and lines:
        lines.insert(1, "-" * min(width, max(len(x) for x in lines)))
    return "\n".join(lines)
