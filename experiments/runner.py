"""One sweep end to end: resume, build projects, run each planned run, append its row the moment it ends.

Output goes through the ``say`` (messages) and ``progress`` (progress bar) callbacks; nothing here prints.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from experiments.databases import DatabaseServer, open_for_sweep
from experiments.details import DetailsLog
from experiments.environment import (
    check_sidecar,
    collect,
    now_iso,
    read_sidecar,
    remove_sidecar,
    write_sidecar,
)
from experiments.errors import ExperimentError
from experiments.export_csv import ResultsCsv
from experiments.measure.executor import RUN_DIR_PREFIX, Executor, Measurement
from experiments.plan import Plan, RunSpec, estimate_build_s, estimate_run_s, make_plan
from experiments.progress import Progress
from experiments.projects import (
    PreparedProject,
    build_project_database,
    bytecode_dir,
    default_cache_dir,
    prepare,
)
from experiments.sweep import Sweep


@dataclass
class SweepOutcome:
    plan: Plan
    ran: int
    failed: int
    rows: list[dict]  # every row of the CSV once the sweep is over (earlier sessions too)


def make_row(
    run: RunSpec, project: PreparedProject | None, measurement: Measurement, started_at: str
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
        "database": run.project.database.kind,
    }
    row.update(measurement.metrics())
    return row


def check_output(output: Path, fresh: bool = False, label: str = "output") -> ResultsCsv:
    """Refuse an output (or its sidecar) that is not ours before either is touched; ``label`` names the option
    or sweep key it came from. Reads at most a first line and a small JSON file."""
    results = ResultsCsv(output, label)
    results.check(fresh)
    check_sidecar(output, label)
    return results


def prune_run_bytecode(cache_dir: Path) -> None:
    """Servers write bytecode into our prefix, the wrapper's too: its mirror of each (deleted) run directory
    would pile up, one per run. Safe at any time: bytecode is only a cache."""
    mirror = bytecode_dir(cache_dir) / tempfile.gettempdir().lstrip("/")
    for entry in mirror.glob(RUN_DIR_PREFIX + "*"):
        shutil.rmtree(entry, ignore_errors=True)


def _noop(_line: str) -> None:
    pass


def run_sweep(
    sweep: Sweep,
    executor: Executor,
    *,
    output: Path | None = None,
    fresh: bool = False,
    cache_dir: Path | None = None,
    server_versions: dict[str, str] | None = None,
    say: Callable[[str], None] = _noop,
    progress: Callable[[str, bool], None] = lambda _line, _final: None,
    on_run: Callable[[RunSpec, Measurement], None] | None = None,
    database_url: str | None = None,
) -> SweepOutcome:
    output = Path(output or sweep.output)
    results = check_output(output, fresh)
    details = DetailsLog(output)
    if fresh:
        remove_sidecar(output)
        details.remove()
    results.prepare(fresh)
    plan = make_plan(sweep, results.done_ids())
    if plan.done_count:
        say(f"resuming {output}: {plan.done_count} of {len(plan.runs)} runs already done")
    environment, invocation = _open_invocation(sweep, plan, output, fresh, server_versions)

    cache_dir = cache_dir or default_cache_dir()
    try:
        with database_servers(plan.projects, database_url) as servers:
            prepared, broken = prepare_projects(plan, sweep, cache_dir, servers, say)
            for spec in prepared:  # hyperfine's --warmup: a first start pays for cold caches; not recorded
                first = next(run for run in plan.todo if run.project == spec)
                for _ in range(sweep.warmup_runs):
                    say(f"warm-up run (not recorded): {first.mode} {spec.label} workers={first.workers}")
                    measure(executor, first, prepared[spec], servers)
            outputs = (results, details)
            ran, failed = _measure(
                plan, executor, (prepared, broken, servers), outputs, say, progress, on_run
            )
    finally:
        prune_run_bytecode(cache_dir)

    invocation.update({"finished_at": now_iso(), "ran": ran, "failed": failed})
    write_sidecar(output, environment)
    planned = {run.run_id for run in plan.runs}
    rows = [row for row in results.read_rows() if row.get("run_id") in planned]
    return SweepOutcome(plan=plan, ran=ran, failed=failed, rows=rows)


def _open_invocation(sweep: Sweep, plan: Plan, output: Path, fresh: bool, server_versions: dict | None):
    """Record this invocation in the sidecar before any run; returns (environment, invocation) to close it."""
    environment = (None if fresh else read_sidecar(output)) or {"created_at": now_iso(), "invocations": []}
    environment.update(collect(server_versions))
    environment["sweep"] = {
        "name": sweep.name,
        "file": str(sweep.source) if sweep.source else None,
        "sha256": sweep.sha256,
    }
    invocation = {
        "started_at": now_iso(),
        "sweep_sha256": sweep.sha256,
        "fresh": fresh,
        "planned": len(plan.todo),
    }
    environment.setdefault("invocations", []).append(invocation)
    write_sidecar(output, environment)
    return environment, invocation


@contextlib.contextmanager
def database_servers(projects, database_url: str | None = None) -> Iterator[dict[str, DatabaseServer]]:
    """One server per kind of database the projects run on, for the whole sweep; stopped on the way out.
    PostgreSQL: the server at ``database_url``, else the tool's own throwaway cluster."""
    kinds = sorted({spec.database.kind for spec in projects})
    with contextlib.ExitStack() as stack:
        yield {
            kind: stack.enter_context(open_for_sweep(kind, database_url if kind == "postgresql" else None))
            for kind in kinds
        }


def prepare_projects(plan: Plan, sweep: Sweep, cache_dir: Path, servers: dict, say) -> tuple[dict, dict]:
    """Build (or reuse) every project, then its database as a template: (prepared, broken) by spec."""
    prepared: dict = {}
    broken: dict = {}
    templates: dict = {}  # (tree, kind) -> template: projects differing only in connection settings share one
    for spec in plan.projects:
        say(f"preparing project {spec.label} (~{estimate_build_s(spec):.0f} s if not cached)")
        try:
            project = prepare(spec, sweep.traffic, cache_dir)
            server = servers[spec.database.kind]
            source = (project.root, server.kind)
            if source not in templates:
                templates[source] = server.build_template(
                    spec.key(), lambda env, project=project: build_project_database(project, env)
                )
            prepared[spec] = replace(project, database_template=templates[source])
        except ExperimentError as exc:
            broken[spec] = str(exc)
            say(f"cannot prepare {spec.label}: {exc}")
    for server in servers.values():
        server.end_build()
    return prepared, broken


def measure(executor: Executor, run: RunSpec, project: PreparedProject, servers: dict) -> Measurement:
    """One run on a database of its own (a copy of the project's template), dropped when the run ends; the
    server's connections to it are counted after traffic, while the server still holds them."""
    server = servers[run.project.database.kind]
    with server.database_for_run(project.database_template) as database:
        count = None
        if database.name is not None:

            def count():
                return {"db_connections": server.count_connections(database.name)}

        return executor.run(run, replace(project, env={**project.env, **database.env}), after_traffic=count)


def _measure(plan, executor, projects, outputs, say, progress, on_run) -> tuple[int, int]:
    """Run every planned run, appending its row (and its details) the moment it ends; returns (ran, failed).
    ``projects``: (prepared, broken, database servers); ``outputs``: (results CSV, details log)."""
    prepared, broken, servers = projects
    results, details = outputs
    bar = Progress(len(plan.todo), [estimate_run_s(run) for run in plan.todo])
    ran = failed = 0
    progress(bar.line(), False)
    for run in plan.todo:
        progress(bar.line(run.describe()), False)
        started_at = now_iso()
        started = time.monotonic()
        project = prepared.get(run.project)
        if project is None:
            measurement = Measurement(status="failed", error=broken.get(run.project, "project not prepared"))
        else:
            try:
                measurement = measure(executor, run, project, servers)
            except Exception as exc:  # a bug of ours must not end the sweep; the server is already gone
                measurement = Measurement(
                    status="failed", error=f"internal error: {type(exc).__name__}: {exc}"
                )
        measurement.timings.setdefault("total", time.monotonic() - started)
        results.append(make_row(run, project, measurement, started_at))
        details.append(run.run_id, measurement.details)
        ran += 1
        if measurement.status != "ok":
            failed += 1
            say(f"run {run.run_id} ({run.describe()}) {measurement.status}: {measurement.error[:300]}")
        if on_run is not None:
            on_run(run, measurement)
        bar.advance(time.monotonic() - started)
        progress(bar.line(f"{run.describe()}: {measurement.status}"), True)
    return ran, failed
