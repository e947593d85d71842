"""What a failed run's ``error`` keeps of the server's log: only the lines that say something about the failure.

A server's log is mostly its banner (uWSGI's options and workers spawned, gunicorn's workers booting), which
says nothing about why a run failed and would bury the project's own error. Kept: the lines of a Python
traceback (its header, its frames, its exception line, whatever the exception is called), lines that name an
error or a failure, and the server's bind errors (the executor retries on those). The last exception line
joins the cause, so that it survives where only the cause is shown (the analysis' tables and summaries).
"""

from __future__ import annotations

import re
from pathlib import Path

from experiments.errors import LOG_MARK
from experiments.servers.base import Server

TAIL_LINES = 15
TAIL_CHARS = 2000
READ_BYTES = 20000  # of the log's end: a long run's log is not read whole

# A line of a traceback's body: a frame, its source line, or the chaining of one exception to another.
_FRAME = re.compile(r"^\s+\S|^(During handling of the above exception|The above exception was the direct)")
_FAILURE = re.compile(
    r"error|exception|fatal|failed|unable to|cannot|can't|died|killed by signal|segmentation fault|game over",
    re.IGNORECASE,
)
_TRACEBACK = "Traceback (most recent call last):"


def failure_lines(text: str, server: Server) -> tuple[list[str], str]:
    """The lines of ``text`` (a server's log) that say something about a failure, each once, in order; and
    the last exception line of a traceback among them ("" when there is none)."""
    kept: list[str] = []
    exception = ""
    in_traceback = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.lstrip().startswith(_TRACEBACK):
            in_traceback = True
            kept.append(line.strip())
            continue
        if in_traceback:
            if _FRAME.match(line):
                kept.append(line.strip())
                continue
            in_traceback = False  # the first line that is no frame: the exception the traceback ends with
            exception = line.strip()
            kept.append(exception)
            continue
        if server.is_noise(line):
            continue
        if _FAILURE.search(line) or any(marker in line for marker in server.bind_errors):
            kept.append(line.strip())
    return list(dict.fromkeys(kept)), exception


def explain_failure(message: str, log_path: Path, server: Server) -> str:
    """A failed run's ``error``: ``message`` (the cause the executor found), the log's last exception when
    ``message`` does not already end with it, then the log's lines about the failure."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - READ_BYTES))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        text = ""
    lines, exception = failure_lines(text, server)
    if exception and exception not in message:
        message = f"{message}: {exception}"
    tail = " | ".join(lines[-TAIL_LINES:])[-TAIL_CHARS:]
    return f"{message}{LOG_MARK}{tail}" if tail else message
