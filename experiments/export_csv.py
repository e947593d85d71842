"""The results CSV: header on create, one row appended (flushed and fsynced) per finished run, resume ids.

Columns come from experiments.columns. A file written before columns were appended is migrated in place;
a file with other columns is refused (use --fresh or another --output). A torn last line (the runner killed
mid-write) is dropped before appending.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from experiments.columns import COLUMN_NAMES
from experiments.errors import ExperimentError


def format_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class ResultsCsv:
    def __init__(self, path: Path):
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def read_rows(self) -> list[dict[str, str]]:
        if not self.exists():
            return []
        with open(self.path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def done_ids(self) -> set[str]:
        """Run ids with a finished, successful row: a resumed sweep skips them (failed runs are retried)."""
        return {row["run_id"] for row in self.read_rows() if row.get("status") == "ok" and row.get("run_id")}

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def _check_header(self) -> None:
        with open(self.path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        if tuple(header) == COLUMN_NAMES:
            return
        if tuple(header) == COLUMN_NAMES[: len(header)]:  # older file: columns appended since
            rows = self.read_rows()
            self._rewrite(rows)
            return
        raise ExperimentError(
            f"{self.path}: written with other columns; pass --fresh to start over, or --output another file"
        )

    def _rewrite(self, rows: list[dict]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, COLUMN_NAMES, extrasaction="ignore", restval="")
            writer.writeheader()
            writer.writerows(rows)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def _drop_torn_line(self) -> None:
        with open(self.path, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)

    def prepare(self) -> None:
        """Create the file with its header, or check (and repair) an existing one before appending."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.exists():
            self._drop_torn_line()
            self._check_header()
        else:
            self._rewrite([])

    def append(self, row: dict) -> None:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(format_value(row.get(name)) for name in COLUMN_NAMES)
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
