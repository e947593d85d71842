"""One sweep end to end: resume, build projects, run each planned run, append its row the moment it ends.

Output goes through the ``say`` (messages) and ``progress`` (progress bar) callbacks; nothing here prints.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
from experiments.projects import PreparedProject, bytecode_dir, default_cache_dir, prepare
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
        prepared, broken = _prepare_projects(sweep, plan, cache_dir, say)
        for spec in plan.projects:  # hyperfine's --warmup: a first start pays for cold caches; not recorded
            first = next(run for run in plan.todo if run.project == spec)
            for _ in range(sweep.warmup_runs if spec in prepared else 0):
                say(f"warm-up run (not recorded): {first.mode} {spec.label} workers={first.workers}")
                executor.run(first, prepared[spec])
        ran, failed = _measure(plan, executor, prepared, broken, (results, details), say, progress, on_run)
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


def _prepare_projects(sweep: Sweep, plan: Plan, cache_dir: Path, say) -> tuple[dict, dict]:
    """{spec: PreparedProject} of the projects that could be prepared, {spec: why not} of the others."""
    prepared: dict = {}
    broken: dict = {}
    for spec in plan.projects:
        say(f"preparing project {spec.label} (~{estimate_build_s(spec):.0f} s if not cached)")
        try:
            prepared[spec] = prepare(spec, sweep.traffic, cache_dir)
        except ExperimentError as exc:
            broken[spec] = str(exc)
            say(f"cannot prepare {spec.label}: {exc}")
    return prepared, broken


def _measure(plan, executor, prepared, broken, outputs, say, progress, on_run) -> tuple[int, int]:
    """Run every planned run, appending its row (and its details) the moment it ends; returns (ran, failed)."""
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
                measurement = executor.run(run, project)
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
