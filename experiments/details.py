"""Per-run details beside the results CSV: one JSON line per run, appended when its row is (what explains it).

The row holds the figures; the line holds what they come from: every process's loading phases with the
slowest apps, each worker's first request, the collections each worker ran, pids and the server's command.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SUFFIX = ".details.jsonl"


def details_path(csv_path: Path) -> Path:
    """``r.csv`` -> ``r.csv.details.jsonl``: derived from the whole name, so it can never be the CSV itself."""
    csv_path = Path(csv_path)
    return csv_path.with_name(csv_path.name + SUFFIX)


class DetailsLog:
    def __init__(self, csv_path: Path):
        self.path = details_path(csv_path)

    def append(self, run_id: str, details: dict) -> None:
        line = json.dumps({"run_id": run_id, **details}, sort_keys=True, default=str)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> dict[str, dict]:
        """run_id -> its details (the last line wins: a run redone after a failure)."""
        found: dict[str, dict] = {}
        try:
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # a line torn by a killed runner
                    found[record.get("run_id", "")] = record
        except FileNotFoundError:
            pass
        return found

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
