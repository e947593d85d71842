"""One sweep end to end: resume, build projects and their databases, hand the runs to a launcher, record the
environment.

The launcher (experiments/launchers/) runs them here or on a cluster and appends each row as its run ends.
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
    legacy_python,
    now_iso,
    read_sidecar,
    remove_sidecar,
    write_sidecar,
)
from experiments.errors import ExperimentError
from experiments.export_csv import ResultsCsv
from experiments.export_timeline import TimelineCsv
from experiments.history import Estimates, append_history, build_record, rows_to_records
from experiments.launchers.base import Batch, Launcher, make_row
from experiments.launchers.local import LocalLauncher
from experiments.measure.executor import RUN_DIR_PREFIX, Executor, Measurement
from experiments.plan import Plan, RunSpec, estimate_build_s, make_plan
from experiments.projects import build_project_database, bytecode_dirs, default_cache_dir, is_built, prepare
from experiments.runtimes import Runtimes
from experiments.sweep import Sweep

__all__ = ["SweepOutcome", "check_output", "make_row", "run_sweep"]


def _noop(_line: str) -> None:
    pass


@dataclass
class SweepOutcome:
    plan: Plan
    ran: int
    failed: int
    rows: list[dict]  # every row of the CSV once the sweep is over (earlier sessions too)


def check_output(output: Path, fresh: bool = False, label: str = "output") -> ResultsCsv:
    """Refuse an output (or its sidecar) that is not ours before either is touched; ``label`` names the option
    or sweep key it came from. Reads at most a first line and a small JSON file."""
    results = ResultsCsv(output, label)
    results.check(fresh)
    TimelineCsv(output, label).check()
    check_sidecar(output, label)
    return results


def prune_run_bytecode(cache_dir: Path) -> None:
    """Servers write bytecode into our prefix, the wrapper's too: its mirror of each (deleted) run directory
    would pile up, one per run. Safe at any time: bytecode is only a cache."""
    for prefix in bytecode_dirs(cache_dir):
        mirror = prefix / tempfile.gettempdir().lstrip("/")
        for entry in mirror.glob(RUN_DIR_PREFIX + "*"):
            shutil.rmtree(entry, ignore_errors=True)


def run_sweep(
    sweep: Sweep,
    executor: Executor | None = None,
    *,
    launcher: Launcher | None = None,
    output: Path | None = None,
    fresh: bool = False,
    cache_dir: Path | None = None,
    server_versions: dict[str, str] | None = None,
    say: Callable[[str], None] = _noop,
    progress: Callable[[str, bool], None] = lambda _line, _final: None,
    on_run: Callable[[RunSpec, Measurement], None] | None = None,
    database_url: str | None = None,
) -> SweepOutcome:
    """Resume (or start) the sweep and run what is left through ``launcher`` (default: ``executor``, here)."""
    if launcher is None:
        if executor is None:
            raise TypeError("run_sweep needs an executor or a launcher")
        launcher = LocalLauncher(executor)
    output = Path(output or sweep.output)
    results = check_output(output, fresh)
    cache_dir = cache_dir or launcher.default_cache_dir() or default_cache_dir()
    # the python axis's environments first: one that cannot be built stops the sweep before it writes anything
    runtimes = Runtimes(cache_dir, {server.backend for server in sweep.servers}, say)
    runtimes.prepare(sweep.projects)
    details = DetailsLog(output)
    if fresh:
        remove_sidecar(output)
        details.remove()
        TimelineCsv(output).remove()
        launcher.forget()
    results.prepare(fresh, legacy_python(read_sidecar(output)))
    launcher.recover(results, details, say)
    plan = make_plan(sweep, results.done_ids())
    if plan.done_count:
        say(f"resuming {output}: {plan.done_count} of {len(plan.runs)} runs already done")
    environment, invocation = _open_invocation(
        sweep, plan, output, fresh, server_versions, launcher.name, runtimes.describe()
    )

    estimates = Estimates.from_cache(cache_dir)
    try:
        with database_servers(plan.projects, database_url, launcher.name) as servers:
            prepared, broken = prepare_projects(plan, sweep, cache_dir, servers, say, estimates, runtimes)
            batch = Batch(sweep, plan, prepared, broken, results, details, say, progress, on_run, servers)
            batch.estimate = estimates.run_s  # the progress bar's ETA, from this machine's history
            tally = launcher.launch(batch)
    finally:
        prune_run_bytecode(cache_dir)

    if tally.nodes:  # every node's own environment: the analysis can check that they agree
        environment.setdefault("nodes", {}).update(tally.nodes)
    invocation.update({"finished_at": now_iso(), "ran": tally.ran, "failed": tally.failed})
    write_sidecar(output, environment)
    planned = {run.run_id for run in plan.runs}
    rows = [row for row in results.read_rows() if row.get("run_id") in planned]
    append_history(cache_dir, rows_to_records(plan.todo, rows))  # what the next estimates rest on
    return SweepOutcome(plan=plan, ran=tally.ran, failed=tally.failed, rows=rows)


def _open_invocation(
    sweep, plan: Plan, output: Path, fresh: bool, server_versions: dict | None, launcher: str, pythons: dict
):
    """Record this invocation in the sidecar before any run; returns (environment, invocation) to close it.
    ``pythons``: the runtime environments of the python axis, with what each interpreter is."""
    environment = (None if fresh else read_sidecar(output)) or {"created_at": now_iso(), "invocations": []}
    environment.update(collect(server_versions))
    if pythons:
        environment.setdefault("pythons", {}).update(pythons)
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
        "launcher": launcher,
    }
    environment.setdefault("invocations", []).append(invocation)
    write_sidecar(output, environment)
    return environment, invocation


@contextlib.contextmanager
def database_servers(
    projects, database_url: str | None = None, launcher: str = "local"
) -> Iterator[dict[str, DatabaseServer]]:
    """One server per kind of database the projects run on, for the whole sweep; stopped on the way out.
    PostgreSQL: the server at ``database_url``, else the tool's own throwaway cluster (on this machine, so
    for the local launcher only)."""
    kinds = sorted({spec.database.kind for spec in projects})
    if "postgresql" in kinds and launcher != "local":
        raise ExperimentError(
            f"database: postgresql runs with the local launcher only (the {launcher} launcher's nodes cannot "
            "reach this machine's throwaway cluster)"
        )
    with contextlib.ExitStack() as stack:
        yield {
            kind: stack.enter_context(open_for_sweep(kind, database_url if kind == "postgresql" else None))
            for kind in kinds
        }


def prepare_projects(
    plan: Plan,
    sweep: Sweep,
    cache_dir: Path,
    servers: dict,
    say,
    estimates: Estimates | None = None,
    runtimes: Runtimes | None = None,
) -> tuple[dict, dict]:
    """Build (or reuse) every project, then its database as a template: (prepared, broken) by spec. Each
    build's time goes into the cache's history, for the next estimates."""
    estimates = estimates or Estimates()
    runtimes = runtimes or Runtimes(cache_dir, {server.backend for server in sweep.servers}, say)
    prepared: dict = {}
    broken: dict = {}
    templates: dict = {}  # (tree, kind) -> template: projects differing only in connection settings share one
    for spec in plan.projects:
        cached = spec.kind == "generated" and is_built(spec, cache_dir)
        expected = estimates.build_s(spec)
        on = f" on Python {spec.interpreter.label}" if spec.interpreter is not None else ""
        say(f"preparing project {spec.label}{on} " + ("(cached)" if cached else f"(~{expected:.0f} s)"))
        started = time.monotonic()
        try:
            project = prepare(spec, sweep.traffic, cache_dir, runtimes.of(spec))
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
            continue
        if not cached:
            seconds = time.monotonic() - started
            append_history(cache_dir, [build_record(spec, seconds, estimate_build_s(spec))])
    for server in servers.values():
        server.end_build()
    return prepared, broken
