"""The timeline beside the results CSV: memory and collections of every process as the traffic went on.

``<output>.timeline.csv`` (columns: ``TIMELINE_COLUMNS`` in experiments/columns.py), tidy, one line per process
per reading, written only by runs with ``traffic.sample_every``. A run's lines are appended (flushed and fsynced)
before its row, as its details are: a run cut short leaves lines whose ``run_id`` and ``started_at`` match no
row, which the analysis leaves out. A file that is not a timeline of ours is refused untouched.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from experiments.columns import TIMELINE_NAMES
from experiments.errors import ExperimentError
from experiments.export_csv import check_target, drop_torn_line, format_value

SUFFIX = ".timeline.csv"


def timeline_path(csv_path: Path) -> Path:
    """``r.csv`` -> ``r.csv.timeline.csv``: derived from the whole name, so it can never be the CSV itself."""
    csv_path = Path(csv_path)
    return csv_path.with_name(csv_path.name + SUFFIX)


class TimelineCsv:
    def __init__(self, csv_path: Path, label: str = "output"):
        self.path = timeline_path(csv_path)
        self.label = label

    def check(self) -> None:
        """Absent, empty, or a timeline of ours (its header); ExperimentError otherwise. Changes nothing."""
        info = check_target(self.path, self.label, "a timeline CSV")
        if info is None or info.st_size == 0:
            return
        with open(self.path, "rb") as handle:
            first = handle.readline(1 << 12).decode("utf-8", "replace").rstrip("\r\n")
        if tuple(next(csv.reader([first]), [])) != TIMELINE_NAMES:
            raise ExperimentError(
                f"{self.label}: {self.path} exists and is not a timeline of run-experiments; move it away"
            )

    def append(self, run_id: str, started_at: str, records: list[dict]) -> None:
        if not records:
            return
        self.check()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        new = not self.path.exists() or self.path.stat().st_size == 0
        if not new:
            drop_torn_line(self.path)
        if new:
            writer.writerow(TIMELINE_NAMES)
        head = {"run_id": run_id, "started_at": started_at}
        for record in records:
            values = {**record, **head}
            writer.writerow(format_value(values.get(name)) for name in TIMELINE_NAMES)
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())

    def read_rows(self) -> list[dict[str, str]]:
        try:
            with open(self.path, newline="", encoding="utf-8") as handle:
                return list(csv.DictReader(handle))
        except FileNotFoundError:
            return []

    def remove(self) -> None:
        """Delete the file; only after ``check`` showed it to be ours."""
        self.path.unlink(missing_ok=True)
