"""Plain-text tables for the terminal: the one table formatter of bnnzoo."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of strings as aligned columns: the first row is the header, underlined with dashes;
    the first column is left-aligned, the others right-aligned (they hold figures).

    Example:
        >>> print(format_table([["model", "ms"], ["bdn28", "4.26"]]))
        model    ms
        -----  ----
        bdn28  4.26
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
