"""What every launcher shares: the batch of runs it is handed, the row of a run, and measuring one run.

A launcher decides *where* the runs of a sweep execute (this process, or jobs on a cluster); the runner does
everything around it (resume, sidecar, projects) and hands it a :class:`Batch`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from experiments.details import DetailsLog
from experiments.environment import now_iso
from experiments.export_csv import ResultsCsv
from experiments.export_timeline import TimelineCsv
from experiments.interpreters import Interpreter, current
from experiments.measure.executor import Executor, Measurement
from experiments.plan import Plan, RunSpec, estimate_run_s
from experiments.projects import PreparedProject
from experiments.sweep import ProjectSpec, Sweep


def _noop(_line: str) -> None:
    pass


@dataclass
class Batch:
    """The runs still to do, the projects they need, and where their rows go."""

    sweep: Sweep
    plan: Plan
    prepared: dict[ProjectSpec, PreparedProject]
    broken: dict[ProjectSpec, str]  # projects that could not be prepared -> why
    results: ResultsCsv
    details: DetailsLog
    say: Callable[[str], None] = _noop
    progress: Callable[[str, bool], None] = lambda _line, _final: None
    on_run: Callable[[RunSpec, Measurement], None] | None = None
    databases: dict | None = None  # kind -> DatabaseServer, open for the sweep (None: SQLite, on a node)
    estimate: Callable[[RunSpec], float] = estimate_run_s  # seconds of one run, for the progress bar's ETA


@dataclass
class Tally:
    ran: int = 0
    failed: int = 0
    nodes: dict[str, dict] = field(default_factory=dict)  # host -> its environment (cluster launchers)


class Launcher(Protocol):
    name: str

    def default_cache_dir(self) -> Path | None:
        """Where generated projects are built when --cache-dir is not given (None: the usual place)."""

    def forget(self) -> None:
        """--fresh: remove whatever the launcher kept of earlier invocations."""

    def recover(self, results: ResultsCsv, details: DetailsLog, say: Callable[[str], None]) -> int:
        """Before planning: bring in rows that earlier invocations left outside the CSV; returns their count."""

    def launch(self, batch: Batch) -> Tally:
        """Run every run of ``batch.plan.todo``, appending one row per finished run to ``batch.results``."""

    def dry_run_lines(self, plan: Plan, warmup_runs: int = 1) -> list[str]:
        """What ``launch`` would do with ``plan``, for --dry-run."""


def make_row(
    run: RunSpec,
    project: PreparedProject | None,
    measurement: Measurement,
    started_at: str,
    host: str | None = None,
) -> dict:
    row = {
        "sweep": run.sweep,
        "run_id": run.run_id,
        "repetition": run.repetition,
        "mode": run.mode,
        "workers": run.workers,
        "project": run.project.label,
        "models": project.models if project else run.project.models,
        "apps": project.apps if project else run.project.options_dict.get("apps"),
        "url_patterns": project.url_patterns if project else None,
        "status": measurement.status,
        "error": measurement.error,
        "started_at": started_at,
        "duration_s": measurement.timings.get("total"),
        "server": run.server.backend,
        "server_version": measurement.server_version,
        "threads": run.server.threads,
        "recycling": run.server.recycling.label(),
        "requests_per_worker": run.traffic.requests_per_worker,
        "clients": run.traffic.clients or run.workers * run.server.threads,
        "database": _database_of(run, measurement),
        "host": host or socket.gethostname(),
    }
    python = _interpreter_of(run, project)
    row["python"] = python.label if python else ""
    row["python_build"] = python.build_label if python else ""
    row.update(measurement.metrics())
    return row


def _database_of(run: RunSpec, measurement) -> str:
    """What the project ran on: the engine its settings named once loaded; before that, what the sweep set up
    for a generated project (an existing one chooses its own: unknown)."""
    engine = measurement.details.get("database_engine")
    if engine:
        return engine
    return run.project.database.kind if run.project.kind == "generated" else ""


def _interpreter_of(run: RunSpec, project: PreparedProject | None) -> Interpreter | None:
    """The interpreter the run's servers ran on: the python axis's, the project's own, or this runner's
    (None: a project on its own interpreter that could not be prepared)."""
    if project is not None and project.interpreter is not None:
        return project.interpreter
    if run.project.interpreter is not None:
        return run.project.interpreter
    return None if run.project.python else current()


def record(results: ResultsCsv, details: DetailsLog, row: dict, measurement: Measurement) -> None:
    """Keep one run: its timeline (if it sampled), its details, then its row, each flushed and fsynced, so
    that a row never lacks what explains it."""
    records = measurement.details.pop("timeline", None)
    if records:
        TimelineCsv(results.path).append(row["run_id"], row["started_at"], records)
    details.append(row["run_id"], measurement.details)
    results.append(row)


def _run_on_its_database(executor: Executor, run: RunSpec, project: PreparedProject, databases: dict | None):
    """One run on a database of its own (a copy of the project's template), dropped when the run ends; the
    server's connections to it are counted after traffic, while the server still holds them. Without open
    ``databases`` (a cluster node), SQLite: the project's own file."""
    from experiments.databases.sqlite import SqliteServer

    server = (databases or {}).get(run.project.database.kind)
    if server is None and run.project.database.kind == "sqlite":
        server = SqliteServer()
    if server is None:
        raise RuntimeError(f"no {run.project.database.kind} server was opened for this run")
    with server.database_for_run(project.database_template) as database:
        count = None
        if database.name is not None:

            def count():
                return {"db_connections": server.count_connections(database.name)}

        # An existing project is measured as it stands, its database included: the DATABASE_URL of its block or
        # of the runner's environment reaches it (the SQLite server's empty one is for generated projects)
        env = project.env if run.project.kind == "existing" else {**project.env, **database.env}
        return executor.run(run, replace(project, env=env), after_traffic=count)


def measure(
    run: RunSpec,
    project: PreparedProject | None,
    executor: Executor,
    broken: str = "",
    databases: dict | None = None,
) -> tuple[dict, Measurement]:
    """Run one run and make its row; a project that could not be prepared, or a bug of ours, fails the run
    (never the sweep: the server is already gone when the executor returns or raises)."""
    started_at = now_iso()
    started = time.monotonic()
    if project is None:
        measurement = Measurement(status="failed", error=broken or "project not prepared")
    else:
        try:
            measurement = _run_on_its_database(executor, run, project, databases)
        except Exception as exc:
            measurement = Measurement(status="failed", error=f"internal error: {type(exc).__name__}: {exc}")
    measurement.timings.setdefault("total", time.monotonic() - started)
    return make_row(run, project, measurement, started_at), measurement


def warm_up(
    runs: tuple[RunSpec, ...] | list[RunSpec],
    prepared: dict[ProjectSpec, PreparedProject],
    executor: Executor,
    count: int,
    say: Callable[[str], None] = _noop,
    databases: dict | None = None,
) -> None:
    """hyperfine's --warmup: a first server start pays for cold caches; ``count`` unrecorded runs per project
    (with the first run that uses it)."""
    for spec in dict.fromkeys(run.project for run in runs):
        if spec not in prepared:
            continue
        first = next(run for run in runs if run.project == spec)
        for _ in range(count):
            say(f"warm-up run (not recorded): {first.mode} {spec.label} workers={first.workers}")
            _run_on_its_database(executor, first, prepared[spec], databases)
