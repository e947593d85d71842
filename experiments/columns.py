"""The one registry of CSV columns: name, type, unit and meaning. Writer, loader and reports all read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: type  # str, int or float
    unit: str  # "" when dimensionless
    description: str


COLUMNS: tuple[Column, ...] = (
    # identity of the run
    Column("sweep", str, "", "name of the sweep file's run"),
    Column("run_id", str, "", "stable id of (parameters, repetition); used to resume"),
    Column("repetition", int, "", "1-based repetition number"),
    Column("mode", str, "", "lazy, prefork, prewarm or prewarm-freeze"),
    Column("workers", int, "", "uWSGI worker processes"),
    Column("project", str, "", "label of the measured project (generated options or path)"),
    Column("models", int, "", "models in the project"),
    Column("apps", int, "", "Django apps of the project"),
    Column("url_patterns", int, "", "URL patterns of the project"),
    # outcome
    Column("status", str, "", "ok, failed or timeout"),
    Column("error", str, "", "why the run failed, with the tail of the server log"),
    # timings
    Column("startup_s", float, "s", "launch until every worker is ready to accept"),
    Column("first_query_ms", float, "ms", "latency of the first request after ready"),
    Column("first_request_ms_mean", float, "ms", "mean over workers of each worker's first request"),
    Column("first_request_ms_max", float, "ms", "slowest worker's first request"),
    Column("steady_ms_median", float, "ms", "median latency of warm traffic"),
    # memory, from /proc/<pid>/smaps_rollup of master and workers
    Column("memory_mb", float, "MB", "total PSS of master and workers after warm traffic"),
    Column("memory_ready_mb", float, "MB", "total PSS at ready, before any request"),
    Column("uss_mb", float, "MB", "total USS (private pages) after warm traffic"),
    Column("rss_mb", float, "MB", "total RSS after warm traffic (counts shared pages once per process)"),
    Column("master_pss_mb", float, "MB", "PSS of the uWSGI master after warm traffic"),
    Column("worker_uss_mb_mean", float, "MB", "mean USS per worker after warm traffic"),
    # appended by the runner
    Column("started_at", str, "", "UTC time the run started (ISO 8601)"),
    Column("duration_s", float, "s", "wall time of the whole run: launch, traffic, memory and stop"),
    Column("startup_cpu_s", float, "s", "CPU time (user+sys) of master and workers at ready"),
    Column("database", str, "", "sqlite or postgresql"),
    Column("db_connections", int, "", "client connections to the run's PostgreSQL database after traffic"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
METRICS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.type is float)


def label(name: str) -> str:
    """Axis/table label with unit, e.g. 'memory_mb (MB)'."""
    unit = BY_NAME[name].unit
    return f"{name} ({unit})" if unit else name
