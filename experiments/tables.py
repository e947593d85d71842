"""Plain-text tables for a terminal: cells in, aligned lines out (pure)."""

from __future__ import annotations

from collections.abc import Sequence


def aligned(header: Sequence[str], rows: Sequence[Sequence[str]], gap: int = 3) -> list[str]:
    """The header and rows as lines: the first column left-aligned, the others right-aligned, each as wide as
    its widest cell."""
    table = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append((" " * gap).join(cells).rstrip())
    return lines


def times(value: float | None, reference: float | None) -> str:
    """``value`` as a multiple of ``reference``: "×0.42"; empty when either is missing or the reference is 0."""
    if value is None or reference is None or reference == 0:
        return ""
    return f"×{value / reference:.2f}"


def figure(value: float | None, digits: int = 0) -> str:
    """A number with thousands separators, or an em dash when it was not measured."""
    return "—" if value is None else f"{value:,.{digits}f}"
