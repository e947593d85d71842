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


# In a failed run's ``error`` (the CSV column): the cause, then this mark and the server log's lines about it.
LOG_MARK = " | log: "


def error_cause(error: str | None, limit: int = 160) -> str:
    """The cause of a failed run's ``error``, without the log lines after it, on one line of at most ``limit``
    characters."""
    text = (error or "").split(LOG_MARK, 1)[0].strip()
    first = text.splitlines()[0].strip() if text else ""
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
