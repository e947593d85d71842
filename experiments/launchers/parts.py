"""Part files of a cluster sweep, and merging them into the sweep's CSV.

Each job appends its rows to its own CSV (through ResultsCsv: header, one line per finished run, flushed and
fsynced) with its per-run details and its node's environment beside it, on the shared folder. The runner reads
parts while jobs run and merges every complete row into the sweep's CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from experiments.columns import COLUMN_NAMES
from experiments.details import DetailsLog
from experiments.environment import SIDECAR_SUFFIX, read_json, write_json
from experiments.export_csv import ResultsCsv, format_value
from experiments.export_timeline import TimelineCsv

PART_SUFFIX = ".part.csv"


@dataclass(frozen=True)
class Part:
    """The files one job writes: ``<name>.part.csv``, its details and its node's environment."""

    csv: Path

    @classmethod
    def named(cls, directory: Path, name: str) -> Part:
        return cls(directory / f"{name}{PART_SUFFIX}")

    @property
    def name(self) -> str:
        return self.csv.name[: -len(PART_SUFFIX)]

    @property
    def details(self) -> DetailsLog:
        return DetailsLog(self.csv)

    @property
    def environment_path(self) -> Path:
        return self.csv.with_name(self.name + SIDECAR_SUFFIX)  # a job's node, as beside a CSV

    def writer(self) -> ResultsCsv:
        results = ResultsCsv(self.csv)
        results.prepare()
        return results

    def rows(self) -> list[dict[str, str]]:
        """Every complete row so far: a line the job is still writing (or was killed writing) is left out."""
        try:
            data = self.csv.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        records = list(csv.reader(io.StringIO(data[: data.rfind("\n") + 1])))
        if not records:
            return []
        header = records[0]
        return [
            dict(zip(header, record, strict=True)) for record in records[1:] if len(record) == len(header)
        ]

    def write_environment(self, environment: dict) -> None:
        write_json(self.environment_path, environment)

    def environment(self) -> dict:
        return read_json(self.environment_path)

    def remove(self) -> None:
        for path in (self.csv, self.details.path, self.environment_path):
            path.unlink(missing_ok=True)


def parts_in(directory: Path) -> list[Part]:
    """The parts in ``directory``, oldest invocation first (their names start with its time stamp)."""
    return [Part(path) for path in sorted(Path(directory).glob(f"*{PART_SUFFIX}"))]


def _attempt(row: dict) -> tuple[str, ...]:
    """A row as the CSV holds it: two attempts of a run differ in it (start time, status, figures), a row read
    back from a part or from the CSV equals the one written."""
    return tuple(format_value(row.get(name)) for name in COLUMN_NAMES)


class Merger:
    """Appends part rows to the sweep's CSV once per run attempt, and never a second row for a run id that
    already has a successful one: merging the same part twice changes nothing."""

    def __init__(self, results: ResultsCsv, details: DetailsLog):
        self.results = results
        self.details = details
        self.timeline = TimelineCsv(results.path)
        existing = results.read_rows()
        self.ok = {row["run_id"] for row in existing if row.get("status") == "ok"}
        self.attempts = {_attempt(row) for row in existing}

    def merge(self, part: Part) -> list[dict[str, str]]:
        """Append the rows of ``part`` not merged yet; returns them."""
        merged = []
        found: dict[str, dict] | None = None
        for row in part.rows():
            run_id = row.get("run_id", "")
            if not run_id or _attempt(row) in self.attempts or run_id in self.ok:
                continue
            self.add(row)
            if found is None:
                found = part.details.read()
            record = found.get(run_id)
            if record is not None:
                timeline = record.pop("timeline", None)
                if timeline:
                    self.timeline.append(run_id, row.get("started_at", ""), timeline)
                self.details.append(run_id, {k: v for k, v in record.items() if k != "run_id"})
            merged.append(row)
        return merged

    def add(self, row: dict) -> None:
        """Append one row (from a part, or made by the runner for a run its job never finished)."""
        self.results.append(row)
        self.attempts.add(_attempt(row))
        if row.get("status") == "ok":
            self.ok.add(row["run_id"])
