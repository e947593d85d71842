"""What a sweep file says, validated: frozen values the plan crosses into runs (``plan.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.databases.base import DatabaseSettings
from experiments.hashing import short_hash
from experiments.interpreters import Interpreter
from experiments.servers import DEFAULT_SERVER
from experiments.sweep.keys import (
    DEFAULT_MAX_FD,
    DEFAULT_MAX_URLS,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_REQUESTS_PER_WORKER,
    DEFAULT_RUNS_PER_JOB,
    DEFAULT_TIME_LIMIT_MIN,
    DEFAULT_TIMEOUT_S,
)


@dataclass(frozen=True)
class ProjectSpec:
    """One project to measure: generated from options, or an existing one used unchanged."""

    kind: str  # "generated" or "existing"
    label: str
    options: tuple[tuple[str, Any], ...] = ()  # generated: the resolved generator options
    path: str = ""  # existing: absolute directory put on the python path
    wsgi: str = ""  # existing: "module:callable"
    env: tuple[tuple[str, str], ...] = ()
    urls: tuple[str, ...] = ()  # warm-up and traffic URLs; empty: taken from the manifest (or "/")
    python: str = ""  # existing: the interpreter (virtualenv) whose servers run it; empty: ours
    database: DatabaseSettings = DatabaseSettings()
    # the sweep's python axis: the interpreter whose runtime environment runs it (None: the runner's own)
    interpreter: Interpreter | None = None
    requirements: str = ""  # existing, with the python axis: a requirements file installed in each runtime
    requirements_sha: str = ""

    @property
    def options_dict(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def models(self) -> int | None:
        return self.options_dict.get("models")

    def identity(self) -> dict[str, Any]:
        """What makes two projects the same, for run ids. Database settings and the python axis count only
        when they differ from the defaults, so runs measured before they existed keep their ids."""
        identity = self._source()
        if self.interpreter is not None:
            identity["interpreter"] = self.interpreter.build_label
        if self.requirements_sha:
            identity["requirements"] = self.requirements_sha
        return identity

    def _source(self) -> dict[str, Any]:
        if self.kind == "generated":
            from generator.options import ADDED_LATER_DEFAULTS

            # Options added after the first sweeps enter only when they change the project (at their default
            # it is written as before), so a sweep written before them keeps its run ids.
            options = {
                name: value
                for name, value in self.options_dict.items()
                if name not in ADDED_LATER_DEFAULTS or value != ADDED_LATER_DEFAULTS[name]
            }
            identity = {"kind": "generated", "options": options, "urls": list(self.urls)}
            if self.database.changed():
                identity["database"] = self.database.changed()
            return identity
        identity = {
            "kind": "existing",
            "path": self.path,
            "wsgi": self.wsgi,
            "env": dict(self.env),
            "urls": list(self.urls),
        }
        if self.python:  # only when set, so that ids measured before the key existed stay the same
            identity["python"] = self.python
        return identity

    def key(self) -> str:
        return short_hash(self.identity())

    def tree_key(self) -> str:
        """What is built for it, whichever interpreter runs it: one project of the python axis is built once."""
        return short_hash(self._source())


@dataclass(frozen=True)
class Recycling:
    """When the server replaces a worker by a fresh one (0: never, for each policy)."""

    max_requests: int = 0  # after this many requests (both servers)
    max_requests_jitter: int = 0  # up to this many more, so that workers do not recycle together
    reload_on_rss: int = 0  # MB of RSS after a request (uWSGI)
    max_worker_lifetime: int = 0  # seconds (uWSGI)
    # seconds before uWSGI lets a worker go for max_requests or RSS (None: uWSGI's own default, 10 s)
    min_worker_lifetime: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.max_requests or self.reload_on_rss or self.max_worker_lifetime)

    def label(self) -> str:
        """What the CSV's ``recycling`` column says: "off", or each policy, e.g. "max_requests 1000±50"."""
        parts = []
        if self.max_requests:
            jitter = f"±{self.max_requests_jitter}" if self.max_requests_jitter else ""
            parts.append(f"max_requests {self.max_requests}{jitter}")
        if self.reload_on_rss:
            parts.append(f"reload_on_rss {self.reload_on_rss} MB")
        if self.max_worker_lifetime:
            parts.append(f"max_worker_lifetime {self.max_worker_lifetime} s")
        if parts and self.min_worker_lifetime is not None:
            parts.append(f"min_worker_lifetime {self.min_worker_lifetime} s")
        return ", ".join(parts) or "off"

    def identity(self) -> dict[str, int]:
        """The policies that are set: a run id changes only when recycling is on."""
        return {
            name: value
            for name, value in vars(self).items()
            if value or (value == 0 and name == "min_worker_lifetime")
        }


@dataclass(frozen=True)
class ServerSpec:
    mode: str
    workers: int
    timeout: float = DEFAULT_TIMEOUT_S  # seconds until every worker must be ready
    max_fd: int = DEFAULT_MAX_FD
    backend: str = DEFAULT_SERVER
    threads: int = 1  # per worker; gunicorn then runs gthread workers
    recycling: Recycling = Recycling()
    # a DB connection the project opens while loading: left open for the workers to inherit (the run fails)
    # instead of closed before fork
    strict_fork: bool = False


@dataclass(frozen=True)
class TrafficSpec:
    requests_per_worker: int = DEFAULT_REQUESTS_PER_WORKER
    urls: tuple[str, ...] = ()  # override of the project's URLs
    max_urls: int = DEFAULT_MAX_URLS
    timeout: float = DEFAULT_REQUEST_TIMEOUT_S  # per request
    steady_state: bool = True  # after traffic, one full collection in every worker, then memory again
    # URL -> statuses besides 2xx/3xx that still measure the page (a URL that legitimately answers 404)
    allowed_statuses: tuple[tuple[str, tuple[int, ...]], ...] = ()
    clients: int = 0  # concurrent connections of the warm traffic; 0: one per worker thread
    sample_every: int = 0  # read every process's memory each time this many requests per worker were served

    @property
    def allowed(self) -> dict[str, tuple[int, ...]]:
        return dict(self.allowed_statuses)


@dataclass(frozen=True)
class ProbeSpec:
    """What the runner measures beyond the figures themselves, to explain them."""

    phases: bool = True  # time loading and first requests step by step (prefork_lab_phases.py)
    # preloading modes: snapshot the master's objects before fork, then find which of their pages each worker
    # made private (experiments/measure/objects.py); it allocates in the master, so it is off by default
    objects: bool = False


@dataclass(frozen=True)
class LauncherSpec:
    """How ``--launcher slurm`` submits the runs; ignored by the local launcher."""

    partition: str = ""  # empty: the cluster's default partition
    time_limit_min: float = DEFAULT_TIME_LIMIT_MIN  # per job
    runs_per_job: int = DEFAULT_RUNS_PER_JOB
    exclusive: bool = True  # one job per node: runs must not disturb each other
    array_parallelism: int = 0  # jobs of the array running at once; 0: as many as the cluster allows
    folder: Path | None = None  # shared by the nodes; None: beside the output CSV
    setup: tuple[str, ...] = ()  # shell lines run on the node before the job (module load …)
    sbatch: tuple[tuple[str, str], ...] = ()  # any other sbatch option, e.g. account or qos


@dataclass(frozen=True)
class Sweep:
    name: str
    repetitions: int
    seed: int
    projects: tuple[ProjectSpec, ...]
    servers: tuple[ServerSpec, ...]
    traffic: TrafficSpec
    output: Path
    warmup_runs: int = 1  # unrecorded runs per project before the measured ones (warm file cache)
    probes: ProbeSpec = ProbeSpec()
    launcher: LauncherSpec = LauncherSpec()
    source: Path | None = None
    sha256: str = ""
    raw: dict = field(default_factory=dict, compare=False, repr=False)
