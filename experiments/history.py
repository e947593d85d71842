"""Measured history of project builds and runs, kept in the project cache (``<cache>/history.jsonl``), so that
time estimates come from what this machine took before rather than from the model alone.

One JSON line per build or run: what identifies it (the project's key, server, mode, workers …), the seconds
it took and the seconds the model of experiments/plan.py gave it. An estimate is the model's seconds times the
median ratio actual ÷ model of the closest past records: the same project, server, mode, workers and traffic
when there are some (then it is their measured time, whatever the model says), else ever fewer fields in
common, down to every record of the file. Without history it is the model's. Reading and matching are pure
functions of the records; only ``read_history`` and ``append_history`` touch the file. Two runners appending at
once write whole lines (O_APPEND); a line torn by a killed runner is skipped.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path

from experiments.export_csv import drop_torn_line, write_atomically
from experiments.plan import RunSpec, estimate_build_s, estimate_run_s
from experiments.sweep import ProjectSpec

HISTORY_NAME = "history.jsonl"
KEEP_RECORDS = 5000  # the file is cut back to the newest this many once it holds twice as many
RECENT = 20  # the newest matching records an estimate rests on: the machine as it is now

# Closest first: the fields a past record shares with what is estimated; the first level with a record decides.
RUN_LEVELS: tuple[tuple[str, ...], ...] = (
    ("project", "server", "mode", "workers", "threads", "requests_per_worker", "recycling"),
    ("project", "server", "mode", "workers"),
    ("project", "server", "mode"),
    ("project",),
    ("server", "mode"),
    (),
)
BUILD_LEVELS: tuple[tuple[str, ...], ...] = (("project",), ("kind", "profile"), ("kind",))


def history_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / HISTORY_NAME


def run_record(run: RunSpec, actual_s: float, model_s: float) -> dict:
    return {
        "record": "run",
        "project": run.project.key(),
        "server": run.server.backend,
        "mode": run.mode,
        "workers": run.workers,
        "threads": run.server.threads,
        "requests_per_worker": run.traffic.requests_per_worker,
        "recycling": run.server.recycling.label(),
        "actual_s": round(actual_s, 3),
        "model_s": round(model_s, 3),
    }


def build_record(spec: ProjectSpec, actual_s: float, model_s: float) -> dict:
    return {
        "record": "build",
        "project": spec.key(),
        "kind": spec.kind,
        "profile": spec.options_dict.get("profile", ""),
        "actual_s": round(actual_s, 3),
        "model_s": round(model_s, 3),
    }


def _usable(record: dict) -> bool:
    values = (record.get("actual_s"), record.get("model_s"))
    return all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in values)


def scaled_estimate(
    records: Sequence[dict], wanted: dict, model_s: float, levels: Sequence[tuple[str, ...]]
) -> float:
    """``model_s`` times the median actual ÷ model of the newest ``RECENT`` records (in file order) that share
    the fields of the first level any record shares with ``wanted``; ``model_s`` when none does."""
    for level in levels:
        matching = [r for r in records if all(r.get(name) == wanted[name] for name in level)]
        if matching:
            ratios = [r["actual_s"] / r["model_s"] for r in matching[-RECENT:]]
            return model_s * statistics.median(ratios)
    return model_s


def rows_to_records(runs: Iterable[RunSpec], rows: Iterable[dict], cores: int | None = None) -> list[dict]:
    """Run records of the successful ``rows`` (the CSV's, text or numbers) of ``runs``: their ``duration_s``
    against the model. A failed run stops early: its time says nothing about a whole run's."""
    by_id = {run.run_id: run for run in runs}
    records = []
    for row in rows:
        run = by_id.get(row.get("run_id"))
        if run is None or row.get("status") != "ok":
            continue
        try:
            actual = float(row.get("duration_s") or "nan")
        except (TypeError, ValueError):
            continue
        record = run_record(run, actual, estimate_run_s(run, cores))
        if _usable(record):
            records.append(record)
    return records


class Estimates:
    """Seconds a run or a build will take here: the model, scaled by the closest measured history."""

    def __init__(self, records: Iterable[dict] = (), cores: int | None = None):
        records = [r for r in records if _usable(r)]
        self.runs = [r for r in records if r.get("record") == "run"]
        self.builds = [r for r in records if r.get("record") == "build"]
        self.cores = cores

    @classmethod
    def from_cache(cls, cache_dir: Path, cores: int | None = None) -> Estimates:
        return cls(read_history(cache_dir), cores)

    def basis(self) -> str:
        """What the estimates rest on, for the user."""
        if not self.runs and not self.builds:
            return "from the model: no measured history in the cache yet"
        return f"from {len(self.runs)} measured runs and {len(self.builds)} builds in the cache's history"

    def run_s(self, run: RunSpec) -> float:
        wanted = run_record(run, 0.0, 0.0)
        return scaled_estimate(self.runs, wanted, estimate_run_s(run, self.cores), RUN_LEVELS)

    def build_s(self, spec: ProjectSpec) -> float:
        wanted = build_record(spec, 0.0, 0.0)
        return scaled_estimate(self.builds, wanted, estimate_build_s(spec), BUILD_LEVELS)


def read_history(cache_dir: Path) -> list[dict]:
    """Every record of the cache's history, oldest first; none when there is no file or it cannot be read."""
    records = []
    try:
        with open(history_path(cache_dir), encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    records.append(record)
    except (OSError, UnicodeDecodeError):
        return []
    return records


def append_history(cache_dir: Path, records: Sequence[dict]) -> None:
    """Add ``records`` in one write; cut the file back to the newest ``KEEP_RECORDS`` when it holds twice as
    many. A history is only an aid to estimates: a cache that cannot be written costs nothing but them."""
    if not records:
        return
    path = history_path(cache_dir)
    text = "".join(json.dumps(record, sort_keys=True) + "\n" for record in records)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            drop_torn_line(path)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
        if path.stat().st_size > 2 * KEEP_RECORDS * 200:  # ~200 bytes a line: count lines only then
            kept = read_history(cache_dir)
            if len(kept) > 2 * KEEP_RECORDS:
                lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept[-KEEP_RECORDS:])
                write_atomically(path, lambda handle: handle.write(lines), path.stat())
    except OSError:
        pass
