"""The output directory: ours to write only where we wrote before, never over a user's file.

``advice.json`` lists every file ``advise`` wrote there with its SHA-256. A later ``advise`` may replace a
listed file that is unchanged since, and resumes the results CSV (which the runner checks for itself); any other
file in the way, or a listed one edited since, stops it before anything runs. A file is listed before it is
written (without a hash), so that one cut short by a kill is still known to be ours.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from experiments.details import details_path
from experiments.environment import sidecar_path
from experiments.errors import ExperimentError
from experiments.export_timeline import timeline_path

MANIFEST = "advice.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _temporary_of(name: str, ours: set[str]) -> bool:
    """A temporary file one of our writers leaves when killed mid-write (``.advise.csv.x1y2.tmp``)."""
    return name.startswith(".") and name.endswith(".tmp") and any(name.startswith(f".{o}.") for o in ours)


class OutputDirectory:
    def __init__(self, path: Path, csv: Path, label: str = "--output"):
        self.path = path
        self.csv = csv  # the runner's; it checks the CSV and its sidecars itself
        self.label = label
        self.session: set[str] = set()  # what this advise wrote or adopted

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    def _manifest(self) -> dict:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"files": {}}
        except (OSError, ValueError):
            raise ExperimentError(
                f"{self.label}: {self.manifest_path} is not advise's; choose another directory"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
            raise ExperimentError(
                f"{self.label}: {self.manifest_path} is not advise's; choose another directory"
            )
        return data

    def _runner_files(self) -> set[str]:
        return {
            p.name
            for p in (self.csv, sidecar_path(self.csv), details_path(self.csv), timeline_path(self.csv))
        }

    def check(self) -> None:
        """Absent, empty, or holding only our files unchanged; ExperimentError naming the first other one."""
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise ExperimentError(f"{self.label}: {self.path} is not a directory")
        files = self._manifest()["files"]
        ours = self._runner_files() | {MANIFEST}
        for entry in sorted(self.path.iterdir()):
            if entry.name in ours or _temporary_of(entry.name, ours):
                continue
            if entry.name not in files:
                raise ExperimentError(
                    f"{self.label}: {entry} was not written by advise; choose another directory or move it away"
                )
            expected = files[entry.name]
            if expected is not None and (not entry.is_file() or _sha256(entry) != expected):
                raise ExperimentError(
                    f"{self.label}: {entry} was changed since advise wrote it; move it away to advise again"
                )

    def _save(self, data: dict) -> None:
        temporary = self.manifest_path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, self.manifest_path)

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        if not self.manifest_path.exists():
            self._save({"files": {}})

    def write(self, name: str, content: str | bytes) -> Path:
        """Write one file of ours (listed first, hashed once complete)."""
        data = self._manifest()
        data["files"][name] = None
        self._save(data)
        self.session.add(name)
        path = self.path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        data["files"][name] = _sha256(path)
        self._save(data)
        return path

    def adopt(self, name: str) -> Path:
        """List a file something else of ours wrote there (the sweep files, the plot)."""
        data = self._manifest()
        path = self.path / name
        data["files"][name] = _sha256(path) if path.is_file() else None
        self._save(data)
        self.session.add(name)
        return path

    def remove_stale(self) -> list[str]:
        """Remove our listed files, unchanged since, that this advise did not write (an earlier one's other
        server's configuration, say); their names."""
        data = self._manifest()
        removed = []
        for name, digest in list(data["files"].items()):
            path = self.path / name
            if name in self.session:
                continue
            if path.is_file() and (digest is None or _sha256(path) == digest):
                path.unlink()
                removed.append(name)
            if not path.exists():
                del data["files"][name]
        self._save(data)
        return removed
