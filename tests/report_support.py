"""Helpers shared by the report tests (not a test module): the tables of a report.md and their glossaries."""

from __future__ import annotations

import re

_ALIGN_ROW = re.compile(r"^\|[\s:|-]+\|$")
_UNIT = re.compile(r"\s+\([^()]+\)$")


def tables_of(text: str) -> list[tuple[list[str], list[str]]]:
    """(headings, glossary entries) of every Markdown table: the entries are the ``- *name*:`` items that
    follow the table after one blank line."""
    lines = text.splitlines()
    found = []
    index = 0
    while index < len(lines):
        if not (
            lines[index].startswith("|") and index + 1 < len(lines) and _ALIGN_ROW.match(lines[index + 1])
        ):
            index += 1
            continue
        headings = [cell.strip() for cell in lines[index].strip().strip("|").split(" | ")]
        index += 2
        while index < len(lines) and lines[index].startswith("|"):
            index += 1
        entries = []
        index += 1  # the blank line
        while index < len(lines) and lines[index].startswith("- *"):
            entries.append(lines[index][3 : lines[index].index("*:")])
            index += 1
        found.append((headings, entries))
    return found


def assert_every_table_described(text: str) -> None:
    tables = tables_of(text)
    assert tables, "no table found"
    for headings, entries in tables:
        wanted = list(dict.fromkeys(_UNIT.sub("", h) or h for h in headings))
        assert entries == wanted, (headings, entries)
