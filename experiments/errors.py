"""The one exception family of the experiments package; CLIs turn it into ``Error: …`` and exit status 2."""

from __future__ import annotations


class ExperimentError(Exception):
    """A problem the user can fix (bad input file, bad option); its message is one line."""


class SweepError(ExperimentError):
    """A bad sweep file: names the key (dotted, e.g. ``server.workers``) and, when known, its line."""

    def __init__(self, key: str, message: str, line: int | None = None):
        self.key = key
        self.message = message
        self.line = line
        where = f"{key} (line {line})" if line is not None else key
        super().__init__(f"{where}: {message}")
