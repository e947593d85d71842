"""What one run measures (``Measurement``: the row's figures, the run's details and timings), the interface every
executor offers, the failures that end a run, and ``Live``, the state of one attempt that ``finally`` needs."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from experiments.plan import RunSpec
    from experiments.projects import PreparedProject
    from experiments.servers.base import Server


METRIC_FIELDS = (
    "startup_s",
    "first_query_ms",
    "first_request_ms_mean",
    "first_request_ms_max",
    "steady_ms_median",
    "memory_mb",
    "memory_ready_mb",
    "uss_mb",
    "rss_mb",
    "master_pss_mb",
    "worker_uss_mb_mean",
    "startup_cpu_s",
    "fork_span_ms",
    "memory_steady_mb",
    "worker_uss_steady_mb_mean",
    "worker_gen2_collections_mean",
    "collect_ms_mean",
)


@dataclass
class Measurement:
    status: str  # ok, failed or timeout
    error: str = ""
    server_version: str = ""
    startup_s: float | None = None
    first_query_ms: float | None = None
    first_request_ms_mean: float | None = None
    first_request_ms_max: float | None = None
    steady_ms_median: float | None = None
    memory_mb: float | None = None
    memory_ready_mb: float | None = None
    uss_mb: float | None = None
    rss_mb: float | None = None
    master_pss_mb: float | None = None
    worker_uss_mb_mean: float | None = None
    startup_cpu_s: float | None = None
    fork_span_ms: float | None = None
    memory_steady_mb: float | None = None
    worker_uss_steady_mb_mean: float | None = None
    worker_gen2_collections_mean: float | None = None
    collect_ms_mean: float | None = None
    # registry columns that explain the figures above: phase_* (where loading and a first request spend their
    # time) and worker_private_*_mb_mean (what each worker keeps private, by kind of mapping)
    breakdown: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(
        default_factory=dict
    )  # seconds per phase of the run: startup, traffic, …
    details: dict = field(default_factory=dict)  # pids, readiness latencies, wrapper headers, per-app phases

    def metrics(self) -> dict[str, float | None]:
        return {**{name: getattr(self, name) for name in METRIC_FIELDS}, **self.breakdown}


AfterTraffic = Callable[[], dict[str, float]] | None  # read while the server still runs: more row columns


class Executor(Protocol):
    def run(
        self, run: RunSpec, project: PreparedProject, after_traffic: AfterTraffic = None
    ) -> Measurement: ...


class RunFailed(Exception):
    status = "failed"


class RunTimedOut(RunFailed):
    status = "timeout"


@dataclass
class Live:
    """The state of one attempt that ``finally`` needs: what to kill and where the log is."""

    server: Server
    run_dir: Path
    log_path: Path
    process: subprocess.Popen | None = None
    workers: list[int] = field(default_factory=list)  # the workers serving now
    seen: list[int] = field(default_factory=list)  # every worker that ever served, recycled ones too
    port: int = 0
    command: list[str] = field(default_factory=list)
