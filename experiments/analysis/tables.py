"""Cells and tables of the analysis's text: numbers at a precision a reader takes in, identity cells, markdown
tables with their glossary. Every section of report.md (and the per-host and "explain why" ones) writes through
these; they return text. pandas objects are received, never imported here."""

from __future__ import annotations

import math
from collections.abc import Sequence

from experiments.analysis.glossary import glossary_lines
from experiments.columns import BY_NAME


def fmt(value: float | None) -> str:
    """A measurement at a precision a reader can take in: 0.46, 9.3, 132, 3747."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    value = float(value)
    size = abs(value)
    if size >= 10 or size == 0:
        return f"{value:.0f}"
    if size >= 1:
        return f"{value:.1f}"
    if size >= 0.01:
        return f"{value:.2f}"
    return f"{value:.2g}"


def fmt_ci(median: float, low: float, high: float) -> str:
    if any(is_nan(v) for v in (median, low, high)):
        return fmt(median)
    return f"{fmt(median)} [{fmt(low)}–{fmt(high)}]"


def is_nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def unit_of(metric: str) -> str:
    return BY_NAME[metric].unit if metric in BY_NAME else ""


def is_blank(value) -> bool:
    """None, NaN or pandas' NA (whose comparisons have no truth value), without importing pandas."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:
        return True


def cell_text(value) -> str:
    """An identity cell: blank when the CSV had none."""
    return "" if is_blank(value) else str(value)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence], align: str = "") -> list[str]:
    """A GitHub markdown table; ``align`` has one letter per column, l or r (default: first l, rest r)."""
    align = align or "l" + "r" * (len(header) - 1)
    align = [":---" if a == "l" else "---:" for a in align]
    out = ["| " + " | ".join(_cell(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def described_table(
    header: Sequence[str], rows: Sequence[Sequence], align: str = "", **glossary
) -> list[str]:
    """A markdown table, a blank line, and its glossary (``glossary.glossary_lines``: ``columns``, ``notes``)."""
    return [*markdown_table(header, rows, align), "", *glossary_lines(header, **glossary), ""]
