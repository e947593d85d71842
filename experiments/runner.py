"""One sweep end to end: resume, build projects, hand the runs to a launcher, record the environment.

The launcher (experiments/launchers/) runs them here or on a cluster and appends each row as its run ends.
Output goes through the ``say`` (messages) and ``progress`` (progress bar) callbacks; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from experiments.details import DetailsLog
from experiments.environment import collect, now_iso, read_sidecar, sidecar_path, write_sidecar
from experiments.errors import ExperimentError
from experiments.export_csv import ResultsCsv
from experiments.launchers.base import Batch, Launcher, make_row
from experiments.launchers.local import LocalLauncher
from experiments.measure.executor import Executor, Measurement
from experiments.plan import Plan, RunSpec, estimate_build_s, make_plan
from experiments.projects import default_cache_dir, prepare
from experiments.sweep import Sweep

__all__ = ["SweepOutcome", "make_row", "run_sweep"]


def _noop(_line: str) -> None:
    pass


@dataclass
class SweepOutcome:
    plan: Plan
    ran: int
    failed: int
    rows: list[dict]  # every row of the CSV once the sweep is over (earlier sessions too)


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
) -> SweepOutcome:
    """Resume (or start) the sweep and run what is left through ``launcher`` (default: ``executor``, here)."""
    if launcher is None:
        if executor is None:
            raise TypeError("run_sweep needs an executor or a launcher")
        launcher = LocalLauncher(executor)
    output = Path(output or sweep.output)
    results = ResultsCsv(output)
    sidecar = sidecar_path(output)
    details = DetailsLog(output)
    if fresh:
        results.remove()
        sidecar.unlink(missing_ok=True)
        details.remove()
        launcher.forget()
    results.prepare()
    launcher.recover(results, details, say)
    plan = make_plan(sweep, results.done_ids())
    if plan.done_count:
        say(f"resuming {output}: {plan.done_count} of {len(plan.runs)} runs already done")

    environment = read_sidecar(sidecar) or {"created_at": now_iso(), "invocations": []}
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
        "launcher": launcher.name,
    }
    environment.setdefault("invocations", []).append(invocation)
    write_sidecar(sidecar, environment)

    cache_dir = cache_dir or launcher.default_cache_dir() or default_cache_dir()
    prepared: dict = {}
    broken: dict = {}
    for spec in plan.projects:
        say(f"preparing project {spec.label} (~{estimate_build_s(spec):.0f} s if not cached)")
        try:
            prepared[spec] = prepare(spec, sweep.traffic, cache_dir)
        except ExperimentError as exc:
            broken[spec] = str(exc)
            say(f"cannot prepare {spec.label}: {exc}")

    batch = Batch(sweep, plan, prepared, broken, results, details, say, progress, on_run)
    tally = launcher.launch(batch)

    if tally.nodes:  # every node's own environment: the analysis can check that they agree
        environment.setdefault("nodes", {}).update(tally.nodes)
    invocation.update({"finished_at": now_iso(), "ran": tally.ran, "failed": tally.failed})
    write_sidecar(sidecar, environment)
    planned = {run.run_id for run in plan.runs}
    rows = [row for row in results.read_rows() if row.get("run_id") in planned]
    return SweepOutcome(plan=plan, ran=tally.ran, failed=tally.failed, rows=rows)
