"""The sweep file's keys, their defaults and their bounds: the one list of them (docs/sweep.md documents each)."""

TOP_KEYS = (
    "name",
    "repetitions",
    "seed",
    "warmup_runs",
    "project",
    "python",
    "server",
    "traffic",
    "probes",
    "output",
    "launcher",
)
PROBE_KEYS = ("phases", "objects")
EXISTING_KEYS = ("path", "wsgi", "env", "urls", "name", "python", "requirements")
DATABASE_KEYS = ("database", "conn_max_age", "pool")  # generated projects: what they run on, not their source
SERVER_KEYS = (
    "backend",
    "modes",
    "workers",
    "threads",
    "timeout",
    "max_fd",
    "max_requests",
    "max_requests_jitter",
    "reload_on_rss",
    "max_worker_lifetime",
    "min_worker_lifetime",
    "strict_fork",
)
TRAFFIC_KEYS = (
    "requests_per_worker",
    "urls",
    "max_urls",
    "timeout",
    "steady_state",
    "allowed_statuses",
    "clients",
    "sample_every",
)
LAUNCHER_KEYS = (
    "partition",
    "time_limit_min",
    "runs_per_job",
    "exclusive",
    "array_parallelism",
    "folder",
    "setup",
    "sbatch",
)

DEFAULT_WORKERS = 2
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MAX_FD = 1024
DEFAULT_REQUESTS_PER_WORKER = 20
DEFAULT_MAX_URLS = 8
DEFAULT_REQUEST_TIMEOUT_S = 30.0
DEFAULT_TIME_LIMIT_MIN = 60
DEFAULT_RUNS_PER_JOB = 8
DEFAULT_JITTER_SHARE = 0.05  # max_requests_jitter when not given: 5 % of max_requests

# Upper bounds, so that a typo (an extra digit, a stray anchor) is an error, not a fork bomb or a plan that
# never finishes being built. The plan's size is bounded before it is built.
MAX_REPETITIONS = 1000
MAX_WORKERS = 256
MAX_THREADS = 256
MAX_FD = 65536
MAX_REQUESTS_PER_WORKER = 100_000
MAX_WARMUP_RUNS = 100
MAX_URLS = 1000
MAX_TIMEOUT_S = 86_400.0
MAX_TIME_LIMIT_MIN = 60 * 24 * 30  # a Slurm job: a month
MAX_RUNS = 100_000  # projects × server settings × repetitions: days of measurement already
MAX_DEPTH = 20  # nesting of the YAML; a sweep file needs 4
MAX_CLIENTS = 256  # concurrent loopback connections of the load generator
MAX_RECYCLE_REQUESTS = 10_000_000
MAX_RSS_MB = 1_048_576
