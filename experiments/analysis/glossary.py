"""The glossary under every table of analyze-results: one line per column, naming what it counts and its unit.

Registry columns (experiments/columns.py) are described by the registry; what the analysis derives (a count of
runs, a fit's slope, the talk's figure) by ``DERIVED``. Formatters return lines; only the CLI prints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from experiments.columns import BY_NAME

# What the analysis derives from the registry's columns: heading -> its meaning, with its unit.
DERIVED: dict[str, str] = {
    "n": "successful runs at the point (each a fresh server)",
    "runs": "successful runs the figures rest on",
    "talk": "the talk's figure for the same sequence (its own 300-model project and hardware, DjangoCon Europe "
    "2018)",
    "series": "a generated project at every size it was measured at: its label with the model count as *",
    "metric": "the column fitted (experiments/columns.py)",
    "MB per extra worker": "slope of the least-squares fit of memory on workers (MB)",
    "± s.e.": "standard error of that slope; n/a with two worker counts only (MB)",
    "intercept (MB)": "the fit's memory at zero workers: what the master and shared pages weigh (MB)",
    "R²": "share of the runs' variance the straight line explains (1: all of it)",
    "per 100 models": "slope of the least-squares fit on models: what 100 more models add (the metric's unit)",
    "at 0 models": "the fit's value at zero models: what Django and the libraries cost alone (the metric's unit)",
    "talk's row": "the talk's mode (its slide)",
    "its sequence": "what the server does between launch and ready in that mode",
    "our modes": "the modes of this tool that follow the sequence",
    "load + warm-up": "sum of the loading phases and the warm-up (s)",
    "total": "sum of the first request's phases (ms)",
    "USS": "sum of the private parts: the mean worker's unique set size after traffic (MB)",
    "USS at steady state": "the mean worker's USS after one full garbage collection in every worker (MB)",
    "private share": "of the pages holding inherited objects, the share a worker made its own (%)",
    "run_id": "stable id of the run's parameters and repetition",
}

_UNIT = re.compile(r"\s+\([^()]+\)$")  # "startup (s)", not "apps: ready()"


def describe(heading: str, columns: Mapping[str, str] = {}, notes: Mapping[str, str] = {}) -> str | None:
    """What the column headed ``heading`` counts, with its unit; None when nothing describes it.

    ``notes`` gives a heading's meaning outright; ``columns`` names the registry column a heading shows; else
    a heading that is a registry column's name shows that column, and the analysis' own are in ``DERIVED``.
    """
    if heading in notes:
        return notes[heading]
    name = columns.get(heading, heading)
    column = BY_NAME.get(name)
    if column is not None:
        return column.description + (f" ({column.unit})" if column.unit else "")
    return DERIVED.get(heading)


def _shown(heading: str) -> str:
    """A heading without the unit the description names: "startup (s)" -> "startup"."""
    return _UNIT.sub("", heading) or heading


def glossary_lines(
    header: Sequence[str],
    columns: Mapping[str, str] = {},
    notes: Mapping[str, str] = {},
    *,
    markdown: bool = True,
) -> list[str]:
    """One line per distinct heading of a table that something describes, in the table's order: a Markdown
    list item (``- *startup*: launch until … (s)``), or a plain line for a terminal."""
    lines = []
    for heading in dict.fromkeys(header):
        meaning = describe(heading, columns, notes)
        if meaning is None:
            continue
        shown = _shown(heading)
        lines.append(f"- *{shown}*: {meaning}" if markdown else f"{shown}: {meaning}")
    return lines


def undescribed(
    header: Sequence[str], columns: Mapping[str, str] = {}, notes: Mapping[str, str] = {}
) -> list:
    """The headings ``glossary_lines`` cannot describe (a test keeps this empty for every table)."""
    return [h for h in dict.fromkeys(header) if describe(h, columns, notes) is None]
