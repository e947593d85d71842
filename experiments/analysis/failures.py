"""Why runs failed: the distinct causes of the rows without status ok, with their counts. Formatters return
lines; the CLI prints them. pandas objects are received, never imported here."""

from __future__ import annotations

from experiments.analysis.tables import is_blank
from experiments.errors import error_cause

NO_CAUSE = "(no error recorded)"


def cause_counts(df) -> list[tuple[str, str, int]]:
    """(status, cause, runs) per distinct cause of the rows that are not ok, most frequent first. Causes are
    compared without their log lines, which differ from run to run (pids, ports) for one cause."""
    failed = df[df["status"] != "ok"]
    counts: dict[tuple[str, str], int] = {}
    for status, error in zip(failed["status"], failed["error"], strict=True):
        cause = error_cause(None if is_blank(error) else str(error)) or NO_CAUSE
        key = ("" if is_blank(status) else str(status), cause)
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: -item[1])  # stable: first seen first among equals
    return [(status, cause, runs) for (status, cause), runs in ordered]


def no_success_lines(df, limit: int = 10) -> list[str]:
    """What analyze-results says when no run succeeded: how many runs, and why they failed."""
    if len(df) == 0:
        return ["No run to analyse: the CSV holds no runs."]
    causes = cause_counts(df)
    lines = [f"No run succeeded: {len(df)} run(s), none ok. The causes (runs, status: cause):"]
    lines += [f"  {runs}× {status}: {cause}" for status, cause, runs in causes[:limit]]
    if len(causes) > limit:
        lines.append(f"  … and {len(causes) - limit} more causes; report.md lists every run")
    return lines
