"""One Slurm job, on its node: its runs one after the other, each row appended to its own part file, stopped
cleanly by a cancellation or the time limit's warning (no row for the run in flight). Submitted by the Slurm
launcher (slurm.py), which merges the parts."""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from experiments.environment import collect
from experiments.launchers.base import measure, warm_up
from experiments.launchers.parts import Part
from experiments.measure.executor import Executor
from experiments.measure.processes import become_subreaper
from experiments.plan import RunSpec
from experiments.projects import PreparedProject
from experiments.sweep import ProjectSpec


@dataclass(frozen=True)
class JobSpec:
    """One job: its runs in plan order, the projects they use (built on the shared folder), its part file."""

    name: str
    runs: tuple[RunSpec, ...]
    projects: tuple[tuple[ProjectSpec, PreparedProject], ...]
    part: Path
    warmup_runs: int = 1


class JobStopped(BaseException):
    """Cancelled (SIGTERM, SIGINT) or near its time limit (SIGUSR2): stop now, no row for the run in flight.

    A BaseException so that nothing records the interrupted run as failed on the way out; every ``finally``
    still kills its server."""


_STOP_REASONS = {
    signal.SIGTERM: "cancelled",
    signal.SIGINT: "cancelled",
    signal.SIGUSR2: "stopped near its time limit",
}


def _stop(signum, _frame):
    for sig in _STOP_REASONS:  # once is enough: the unwinding must not be interrupted again
        signal.signal(sig, signal.SIG_IGN)
    raise JobStopped(_STOP_REASONS[signum])


def _server_executor() -> Executor:
    from experiments.measure.executor import ServerExecutor

    return ServerExecutor()


def _server_versions(executor: Executor) -> dict[str, str]:
    """The versions of the servers the job found (none for a fake executor); the record must not fail the job."""
    try:
        return {key: server.version for key, server in getattr(executor, "servers", {}).items()}
    except Exception:
        return {}


def _log(line: str) -> None:
    """The job's log: run_job is the job's entry point, and its standard output is submitit's log file."""
    print(line, flush=True)


def run_job(job: JobSpec, make_executor: Callable[[], Executor] | None = None) -> dict:
    """The body of one job, on its node: its runs one after the other, each row appended to its part.

    Replaces submitit's own handlers (it ignores SIGTERM and, for a job that cannot checkpoint, raises an
    ordinary exception on SIGUSR2, which a run would record as its failure)."""
    for sig in _STOP_REASONS:
        signal.signal(sig, _stop)
    # a signal mask survives fork and exec: a job started by a process that held signals back must not
    signal.pthread_sigmask(signal.SIG_UNBLOCK, set(_STOP_REASONS))
    become_subreaper()  # a killed master's workers are reparented to us and reaped at once
    host = socket.gethostname()
    part = Part(job.part)
    part.write_environment({"host": host, **collect()})
    results = part.writer()
    executor = (make_executor or _server_executor)()
    prepared = dict(job.projects)
    report = {"host": host, "done": 0, "stopped": ""}
    try:
        warm_up(job.runs, prepared, executor, job.warmup_runs, _log)
        for run in job.runs:
            row, measurement = measure(run, prepared.get(run.project), executor)
            part.details.append(run.run_id, measurement.details)  # first: the runner takes them with the row
            results.append(row)
            report["done"] += 1
            _log(f"{run.run_id} {run.describe()}: {measurement.status} {measurement.error[:200]}")
    except JobStopped as exc:
        report["stopped"] = str(exc)
    finally:
        part.write_environment({"host": host, **collect(_server_versions(executor))})
    return report
