"""The one registry of CSV columns: name, type, unit and meaning. Writer, loader and reports all read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: type  # str, int or float
    unit: str  # "" when dimensionless
    description: str
    heading: str = ""  # a short name for people (axis labels); the column's name when empty


COLUMNS: tuple[Column, ...] = (
    # identity of the run
    Column("sweep", str, "", "name of the sweep file's run"),
    Column("run_id", str, "", "stable id of (parameters, repetition); used to resume"),
    Column("repetition", int, "", "1-based repetition number"),
    Column("mode", str, "", "loading mode (experiments/modes.py): lazy, prefork, prewarm, …"),
    Column("workers", int, "", "worker processes", "workers"),
    Column(
        "project",
        str,
        "",
        "label of the measured project: its name, or <profile>-m<models>-s<seed> and a hash of the other "
        "generator options set",
    ),
    Column(
        "models",
        int,
        "",
        "models in the project outside django.contrib (what gen-project --models counts)",
        "models in the project",
    ),
    Column("apps", int, "", "Django apps outside django.contrib that define a model (what --apps counts)"),
    Column("url_patterns", int, "", "URL patterns of the project"),
    # outcome
    Column("status", str, "", "ok, failed or timeout"),
    Column(
        "error",
        str,
        "",
        "why the run failed: the cause (the project's exception, or an error page's status and URL), then "
        "' | log: ' and the server log's lines about the failure",
    ),
    # timings
    Column("startup_s", float, "s", "launch until every worker is ready to accept", "start-up time"),
    Column(
        "first_query_ms",
        float,
        "ms",
        "latency of the run's first request once every worker is ready: one request, to whichever worker takes "
        "it (a worker's first-request phases are the mean over every worker's own first request)",
        "first request after ready",
    ),
    Column("first_request_ms_mean", float, "ms", "mean over workers of each worker's first request"),
    Column("first_request_ms_max", float, "ms", "slowest worker's first request"),
    Column("steady_ms_median", float, "ms", "median latency of warm traffic"),
    # memory, from /proc/<pid>/smaps_rollup of master and workers
    Column(
        "memory_mb",
        float,
        "MB",
        "total PSS of master and workers after warm traffic",
        "memory after traffic, PSS of master + workers",
    ),
    Column("memory_ready_mb", float, "MB", "total PSS at ready, before any request"),
    Column("uss_mb", float, "MB", "total USS (private pages) after warm traffic"),
    Column("rss_mb", float, "MB", "total RSS after warm traffic (counts shared pages once per process)"),
    Column("master_pss_mb", float, "MB", "PSS of the server's master after warm traffic"),
    Column("worker_uss_mb_mean", float, "MB", "mean USS per worker after warm traffic"),
    # appended by the runner
    Column("started_at", str, "", "UTC time the run started (ISO 8601)"),
    Column("duration_s", float, "s", "wall time of the whole run: launch, traffic, memory and stop"),
    Column("startup_cpu_s", float, "s", "CPU time (user+sys) of master and workers at ready"),
    # the server, and steady state: every worker after one full garbage collection
    Column("server", str, "", "pre-fork server: uwsgi or gunicorn"),
    Column("server_version", str, "", "version of the server program"),
    Column("threads", int, "", "threads per worker (gunicorn: gthread workers when > 1)"),
    Column("fork_span_ms", float, "ms", "first worker forked until the last one (gunicorn staggers forks)"),
    Column(
        "memory_steady_mb",
        float,
        "MB",
        "total PSS after every worker ran one full garbage collection",
        "memory at steady state, PSS of master + workers",
    ),
    Column("worker_uss_steady_mb_mean", float, "MB", "mean USS per worker after that full collection"),
    Column(
        "worker_gen2_collections_mean", float, "", "full (generation 2) collections per worker during traffic"
    ),
    Column("collect_ms_mean", float, "ms", "mean time of that forced full collection in a worker"),
    # where loading the app goes (mean over the processes that load it: the master, or each lazy worker)
    Column("phase_settings_s", float, "s", "importing the settings module"),
    Column("phase_apps_import_s", float, "s", "apps.populate: importing each app's module and AppConfig"),
    Column("phase_models_s", float, "s", "apps.populate: importing each app's models"),
    Column("phase_ready_s", float, "s", "apps.populate: every AppConfig.ready()"),
    Column("phase_middleware_s", float, "s", "building the middleware chain (WSGI handler)"),
    Column(
        "phase_other_s", float, "s", "the rest of importing the WSGI module: the project's own module code"
    ),
    Column("phase_warmup_s", float, "s", "the warm-up requests (in the master, or mean over workers)"),
    # where a worker's first request goes (mean over workers)
    Column("phase_urlconf_ms", float, "ms", "first request: importing the URLconf and what it imports"),
    Column("phase_db_connect_ms", float, "ms", "first request: opening the database connection"),
    Column("phase_templates_ms", float, "ms", "first request: finding and compiling templates"),
    Column("phase_view_ms", float, "ms", "first request: the rest (middleware, the view, rendering)"),
    # what each worker keeps private after traffic, by kind of mapping (adds up to worker_uss_mb_mean)
    Column("worker_private_heap_mb_mean", float, "MB", "private pages in the malloc heap ([heap])"),
    Column("worker_private_anon_mb_mean", float, "MB", "private anonymous pages (CPython's object arenas)"),
    Column(
        "worker_private_file_mb_mean", float, "MB", "private file-backed pages (libraries' relocated data)"
    ),
    Column("worker_private_other_mb_mean", float, "MB", "private pages of the stack and other mappings"),
    # the database a run used
    Column("database", str, "", "the default database's engine, as its settings name it: sqlite, postgresql"),
    Column("db_connections", int, "", "client connections to the run's PostgreSQL database after traffic"),
    # where the run ran: this machine, or the cluster node of its job
    Column("host", str, "", "host name of the machine (cluster node) that ran the server"),
    # probes.objects, preloading modes: the objects the master tracked just before fork, by the page that
    # holds each one's GC header; read after steady state (after traffic when steady_state is off)
    Column("inherited_objects_mb", float, "MB", "pages holding the Python objects the workers inherited"),
    Column(
        "worker_private_objects_mb_mean",
        float,
        "MB",
        "mean over workers of those pages now private to the worker (exclusively mapped)",
    ),
    # long traffic: the load, its latencies, memory over requests (traffic.sample_every), and recycling
    Column("recycling", str, "", "when the server replaces a worker: off, or e.g. max_requests 1000±50"),
    Column(
        "requests_per_worker", int, "", "warm requests per worker the run sent (traffic.requests_per_worker)"
    ),
    Column("clients", int, "", "concurrent connections of the warm traffic"),
    Column("requests_per_s", float, "1/s", "warm requests answered per second"),
    Column("latency_p50_ms", float, "ms", "median latency of the warm requests"),
    Column("latency_p99_ms", float, "ms", "99th percentile latency of the warm requests"),
    Column(
        "requests_failed",
        int,
        "",
        "warm requests not answered (connection dropped, timed out), by any worker",
    ),
    Column("memory_peak_mb", float, "MB", "highest total PSS of master and workers read during the traffic"),
    Column(
        "worker_growth_mb_per_1k",
        float,
        "MB",
        "growth of a worker's USS per 1,000 requests it serves, over the second half of its life (mean over workers; "
        "blank when no worker was read three times there, as with short recycled lives)",
    ),
    Column("recycles", int, "", "workers the server replaced during the traffic"),
    Column("recycle_requests_mean", float, "", "requests a recycled worker had served when it left"),
    Column(
        "recycle_unavailable_ms_mean",
        float,
        "ms",
        "a recycled worker's slot without a worker: left → replacement ready",
    ),
    Column(
        "recycle_first_request_ms_mean",
        float,
        "ms",
        "a replacement worker's first request (cold in lazy modes)",
    ),
    Column("recycle_worker_uss_mb_mean", float, "MB", "a replacement worker's USS as it became ready"),
    Column(
        "db_closed_before_fork",
        int,
        "",
        "DB connections the project opened while it loaded, closed before fork (preloading modes; "
        "server.strict_fork keeps them and fails the run)",
    ),
    # the interpreter the servers ran on (the sweep's python axis, a project's own, or the runner's)
    Column(
        "python",
        str,
        "",
        "version of the interpreter the servers ran on, with t for a free-threaded build: 3.12.1, 3.13.0t",
        "Python",
    ),
    Column(
        "python_build",
        str,
        "",
        "its implementation and version, free-threaded or not: cpython-3.12.1, cpython-3.13.0t",
    ),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)

# The timeline beside the CSV (``<output>.timeline.csv``, traffic.sample_every): one line per process per reading.
TIMELINE_COLUMNS: tuple[Column, ...] = (
    Column("run_id", str, "", "the run, as in the results CSV"),
    Column(
        "started_at", str, "", "the run's start, as in the results CSV (tells a retried run's attempts apart)"
    ),
    Column("requests", int, "", "warm requests answered by the server when the reading was taken"),
    Column("seconds", float, "s", "since the warm traffic began"),
    Column("process", str, "", "master or worker"),
    Column("pid", int, "", "process id (a recycled worker's replacement has a new one)"),
    Column("worker_requests", int, "", "warm requests this process had answered (0 for the master)"),
    Column(
        "pss_mb", float, "MB", "proportional set size: shared pages divided among the processes sharing them"
    ),
    Column("uss_mb", float, "MB", "unique set size: pages only this process maps"),
    Column("gen0", int, "", "collections of generation 0 since the worker became ready (its last response)"),
    Column("gen1", int, "", "collections of generation 1 since the worker became ready"),
    Column("gen2", int, "", "full collections since the worker became ready"),
    Column(
        "window_p50_ms", float, "ms", "median latency of the requests answered since the previous reading"
    ),
    Column("window_p99_ms", float, "ms", "99th percentile latency of those requests"),
)
TIMELINE_NAMES: tuple[str, ...] = tuple(c.name for c in TIMELINE_COLUMNS)

# What identifies a measured point: rows that differ in any of these are never pooled into one statistic
# (the analysis, experiments/analysis/stats.py, and the runner's summary). A frame or row without one of them
# ignores it: ``server``, ``python``, ``database``, ``threads`` and ``recycling`` exist only in CSVs written
# once the runner records them (the analysis fills them in older ones: analysis/loading.py).
IDENTITY: tuple[str, ...] = (
    "server",
    "python",
    "database",
    "project",
    "models",
    "mode",
    "workers",
    "threads",
    "recycling",
)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
METRICS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.type is float)


def label(name: str) -> str:
    """Axis label for people, with the unit: 'start-up time (s)' (the column's name without a heading)."""
    column = BY_NAME[name]
    text = column.heading or name
    return f"{text} ({column.unit})" if column.unit else text
