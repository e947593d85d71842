"""Sweep files: load the YAML, validate every key (naming it and its line), expand lists into combinations.

A list anywhere under ``project`` or ``server`` is swept as a cross-product, except ``project.urls``
(one list of URLs). The result is a frozen :class:`Sweep` holding the expanded project and server
combinations; ``plan.py`` crosses them with repetitions.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from experiments.databases.base import KINDS, DatabaseSettings
from experiments.errors import ExperimentError, SweepError
from experiments.modes import MODE_NAMES as MODES
from experiments.modes import get_mode
from experiments.servers import DEFAULT_SERVER, SERVER_NAMES, supports_preload

TOP_KEYS = (
    "name",
    "repetitions",
    "seed",
    "warmup_runs",
    "project",
    "server",
    "traffic",
    "probes",
    "output",
    "launcher",
)
PROBE_KEYS = ("phases", "objects")
EXISTING_KEYS = ("path", "wsgi", "env", "urls", "name", "python")
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

    @property
    def options_dict(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def models(self) -> int | None:
        return self.options_dict.get("models")

    def identity(self) -> dict[str, Any]:
        """What makes two projects the same, for run ids. Database settings count only when they differ from
        the defaults, so runs measured before they existed keep their ids."""
        if self.kind == "generated":
            from generator.options import POST_FORK_DEFAULTS

            # Options added after the first sweeps enter only when they change the project (at their default
            # it is written as before), so a sweep written before them keeps its run ids.
            options = {
                name: value
                for name, value in self.options_dict.items()
                if name not in POST_FORK_DEFAULTS or value != POST_FORK_DEFAULTS[name]
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
        return _short_hash(self.identity())


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


def _short_hash(value: Any, length: int = 12) -> str:
    import json

    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


# --------------------------------------------------------------------------- YAML with line numbers


def _collect_lines(node: yaml.Node, prefix: str, lines: dict[str, int], used: set[int], line: int) -> None:
    """Record the line of every key; refuse aliases and deep nesting (both before anything is constructed).

    An alias is the anchored node itself, reused: a node met twice is one (a recursive anchor would make the
    walk endless, and anchors multiplied by aliases a huge document). ``line`` is where ``node`` is used.
    """
    if id(node) in used:
        raise SweepError(
            prefix or "sweep", "YAML aliases (*name) are not supported; write the value out", line
        )
    used.add(id(node))
    if prefix.count(".") + prefix.count("[") >= MAX_DEPTH:
        raise SweepError(prefix, f"nested more than {MAX_DEPTH} levels deep", line)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            name = str(key_node.value)
            key = f"{prefix}.{name}" if prefix else name
            if name in seen:
                raise SweepError(key, "duplicate key", key_node.start_mark.line + 1)
            seen.add(name)
            lines[key] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, lines, used, lines[key])
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            key = f"{prefix}[{index}]"
            # an alias's node carries its anchor's position: the sequence's own line is the honest one then
            lines[key] = line if id(item) in used else item.start_mark.line + 1
            _collect_lines(item, key, lines, used, lines[key])


def _load_yaml(text: str) -> tuple[Any, dict[str, int]]:
    loader = yaml.SafeLoader(text)
    lines: dict[str, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        _collect_lines(node, "", lines, set(), node.start_mark.line + 1)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise SweepError("yaml", problem, mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise SweepError("yaml", str(exc).splitlines()[0]) from None
    except RecursionError:  # the parser itself recurses: thousands of nested brackets
        raise SweepError("yaml", f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    return data, lines


# --------------------------------------------------------------------------- validation helpers


class _Checker:
    def __init__(self, lines: dict[str, int]):
        self.lines = lines

    def error(self, key: str, message: str) -> SweepError:
        """The error for ``key``, at its own line or else at the nearest enclosing key's line."""
        probe = key
        while probe:
            if probe in self.lines:
                return SweepError(key, message, self.lines[probe])
            if probe.endswith("]"):
                probe = probe[: probe.rindex("[")]
            elif "." in probe:
                probe = probe.rpartition(".")[0]
            else:
                break
        return SweepError(key, message)

    def mapping(self, key: str, value: Any) -> dict:
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {_kind(value)}")
        return value

    def known(self, key: str, value: dict, allowed: tuple[str, ...]) -> None:
        for name in value:
            if name not in allowed:
                full = f"{key}.{name}" if key else str(name)
                raise self.error(full, f"unknown key; expected one of {', '.join(allowed)}")

    def whole(self, key: str, value: Any, minimum: int, maximum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected a whole number, got {value!r}")
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        if value > maximum:
            raise self.error(key, f"must be at most {maximum}, got {value}")
        return value

    def positive(self, key: str, value: Any, maximum: float = MAX_TIMEOUT_S) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= maximum:
            raise self.error(key, f"expected a positive number of at most {maximum:g}, got {value!r}")
        return float(value)

    def flag(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def product(self, key: str, choices: dict[str, list]) -> list[dict]:
        """Every combination of ``choices``, refused before it is built when there are more than MAX_RUNS."""
        count = math.prod(len(values) for values in choices.values())
        if count > MAX_RUNS:
            raise self.error(key, f"its lists combine into {count} settings; at most {MAX_RUNS}")
        return _product(choices)

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        return value

    def url_list(self, key: str, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.error(key, "expected a non-empty list of URL paths")
        urls = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.startswith("/"):
                raise self.error(f"{key}[{index}]", f"expected a URL path starting with '/', got {item!r}")
            urls.append(item)
        return tuple(urls)

    def swept(self, key: str, value: Any, check) -> list:
        """A scalar, or a list swept as alternatives; each element checked."""
        if isinstance(value, list):
            if not value:
                raise self.error(key, "an empty list sweeps nothing")
            return [check(f"{key}[{i}]", item) for i, item in enumerate(value)]
        return [check(key, value)]


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _product(choices: dict[str, list]) -> list[dict]:
    names = list(choices)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(choices[n] for n in names))]


# --------------------------------------------------------------------------- sections


def _generated_projects(check: _Checker, raw: dict, key: str = "project") -> list[ProjectSpec]:
    try:
        from generator.errors import OptionError
        from generator.options import OPTION_NAMES, resolve_options
    except ImportError as exc:  # pragma: no cover - the generator ships with this package
        raise ExperimentError(f"the project generator is not available: {exc}") from None
    allowed = (*OPTION_NAMES, "urls", "name", *DATABASE_KEYS)
    check.known(key, raw, allowed)
    if "models" not in raw:
        raise check.error(key, "needs either 'path' (an existing project) or 'models' (a generated one)")
    urls = check.url_list(f"{key}.urls", raw["urls"]) if "urls" in raw else ()
    given_name = check.text(f"{key}.name", raw["name"]) if "name" in raw else None
    choices: dict[str, list] = {}
    for name, value in raw.items():
        if name in ("urls", "name"):
            continue
        if isinstance(value, dict):
            raise check.error(f"{key}.{name}", "expected a value or a list of values, got a mapping")
        choices[name] = check.swept(f"{key}.{name}", value, lambda _k, v: v)
    projects = []
    for combo in check.product(key, choices):
        database = _database_settings(
            check, key, {name: combo.pop(name) for name in DATABASE_KEYS if name in combo}
        )
        try:
            options = resolve_options(**combo)
        except OptionError as exc:
            name = exc.option.lstrip("-").replace("-", "_")
            message = str(exc).split(": ", 1)[-1]
            raise check.error(f"{key}.{name}", message) from None
        except ImportError as exc:  # pragma: no cover - generator half-installed
            raise ExperimentError(f"the project generator is not available: {exc}") from None
        items = tuple(sorted(options.as_dict().items()))
        label = given_name or f"{options.profile}-m{options.models}-s{options.seed}"
        default = resolve_options(options.models, profile=options.profile, seed=options.seed)
        if default != options and not given_name:
            label += "-" + _short_hash(dict(items), 6)
        if database.tag() and not given_name:
            label += "-" + database.tag()
        projects.append(
            ProjectSpec(kind="generated", label=label, options=items, urls=urls, database=database)
        )
    if given_name and len(projects) > 1:
        raise check.error(
            f"{key}.name",
            f"names one project, but the block sweeps {len(projects)}: drop the list or the name",
        )
    return projects


def _database_settings(check: _Checker, key: str, raw: dict) -> DatabaseSettings:
    """One combination of ``database``, ``conn_max_age`` and ``pool``, checked together."""
    kind = raw.get("database", "sqlite")
    if kind not in KINDS:
        raise check.error(f"{key}.database", f"unknown database {kind!r}; choose from {', '.join(KINDS)}")
    age = raw.get("conn_max_age", 0)
    if isinstance(age, str) and age.lower() == "none":
        age = None
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 0):
        raise check.error(f"{key}.conn_max_age", f"expected whole seconds (≥ 0) or none, got {age!r}")
    pool = raw.get("pool", False)
    if pool is not True and pool is not False and (not isinstance(pool, int) or pool < 1):
        raise check.error(f"{key}.pool", f"expected false, true or a pool size (≥ 1), got {pool!r}")
    if pool is not False and kind != "postgresql":
        raise check.error(f"{key}.pool", "Django's connection pool needs database: postgresql")
    if pool is not False and age != 0:
        raise check.error(f"{key}.pool", f"Django's pool cannot be combined with conn_max_age {age} (use 0)")
    return DatabaseSettings(kind=kind, conn_max_age=age, pool=pool)


def _existing_projects(check: _Checker, raw: dict, base_dir: Path, key: str = "project") -> list[ProjectSpec]:
    check.known(key, raw, EXISTING_KEYS)

    def a_path(where: str, value: Any) -> str:
        path = Path(check.text(where, value)).expanduser()
        path = (base_dir / path).resolve() if not path.is_absolute() else path.resolve()
        if not path.is_dir():
            raise check.error(where, f"no such directory: {path}")
        return str(path)

    def a_wsgi(where: str, value: Any) -> str:
        value = check.text(where, value)
        module, _, attr = value.partition(":")
        if (
            not module
            or not all(part.isidentifier() for part in module.split("."))
            or (attr and not attr.isidentifier())
        ):
            raise check.error(where, f"expected 'package.module:callable', got {value!r}")
        return value

    paths = check.swept(f"{key}.path", raw["path"], a_path)
    # no wsgi: the project's settings name it (WSGI_APPLICATION), read when the project is prepared
    wsgis = check.swept(f"{key}.wsgi", raw["wsgi"], a_wsgi) if "wsgi" in raw else [""]
    envs: list[dict] = [{}]
    if "env" in raw:
        env = check.mapping(f"{key}.env", raw["env"])

        def a_value(where: str, value: Any) -> str:
            if isinstance(value, dict | list) or value is None:
                raise check.error(where, f"expected a string or number, got {_kind(value)}")
            return str(value).lower() if isinstance(value, bool) else str(value)

        envs = check.product(
            f"{key}.env", {str(k): check.swept(f"{key}.env.{k}", v, a_value) for k, v in env.items()}
        )
    urls = check.url_list(f"{key}.urls", raw["urls"]) if "urls" in raw else ()
    name = check.text(f"{key}.name", raw["name"]) if "name" in raw else None
    python = _interpreter(check, f"{key}.python", raw["python"], base_dir) if "python" in raw else ""
    projects = []
    for combo in check.product(key, {"path": paths, "wsgi": wsgis, "env": envs}):
        path, wsgi, env = combo["path"], combo["wsgi"], combo["env"]
        if not wsgi and "DJANGO_SETTINGS_MODULE" not in env:
            settings = settings_in_manage(Path(path))
            if not settings:
                raise check.error(
                    f"{key}.wsgi",
                    f"not given, and neither {key}.env nor {path}/manage.py names DJANGO_SETTINGS_MODULE "
                    "(whose WSGI_APPLICATION would name it)",
                )
            env = {**env, "DJANGO_SETTINGS_MODULE": settings}
        label = name or Path(path).name
        projects.append(
            ProjectSpec(
                kind="existing",
                label=label,
                path=path,
                wsgi=wsgi,
                env=tuple(sorted(env.items())),
                urls=urls,
                python=python,
            )
        )
    return projects


def settings_in_manage(root: Path) -> str:
    """The settings module a project's manage.py names (``os.environ.setdefault("DJANGO_SETTINGS_MODULE", …)``);
    empty when there is no manage.py or it names none."""
    from generator.inspect_project import settings_in_manage as read

    return read(root / "manage.py")


def _interpreter(check: _Checker, key: str, value: Any, base_dir: Path) -> str:
    """An executable Python of a project's own virtualenv, e.g. ``../venvs/wiki/bin/python``; kept as given
    (absolute), not resolved: a virtualenv's python is a symlink and resolving it would leave the venv."""
    path = Path(check.text(key, value)).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file() or not os.access(path, os.X_OK):
        raise check.error(key, f"no executable interpreter at {path}")
    return os.path.normpath(path)


def _servers(check: _Checker, raw: Any) -> list[ServerSpec]:
    raw = {} if raw is None else check.mapping("server", raw)
    check.known("server", raw, SERVER_KEYS)

    def a_mode(key: str, value: Any) -> str:
        if value not in MODES:
            raise check.error(key, f"unknown mode {value!r}; choose from {', '.join(MODES)}")
        return value

    def a_backend(key: str, value: Any) -> str:
        if value not in SERVER_NAMES:
            raise check.error(key, f"unknown server {value!r}; choose from {', '.join(SERVER_NAMES)}")
        return value

    choices = {
        "backend": check.swept("server.backend", raw.get("backend", DEFAULT_SERVER), a_backend),
        "mode": check.swept("server.modes", raw.get("modes", list(MODES)), a_mode),
        "workers": check.swept(
            "server.workers",
            raw.get("workers", DEFAULT_WORKERS),
            lambda k, v: check.whole(k, v, 1, MAX_WORKERS),
        ),
        "timeout": check.swept("server.timeout", raw.get("timeout", DEFAULT_TIMEOUT_S), check.positive),
        "max_fd": check.swept(
            "server.max_fd", raw.get("max_fd", DEFAULT_MAX_FD), lambda k, v: check.whole(k, v, 64, MAX_FD)
        ),
        "threads": check.swept(
            "server.threads", raw.get("threads", 1), lambda k, v: check.whole(k, v, 1, MAX_THREADS)
        ),
    }
    _check_preload(check, choices["backend"], choices["mode"])
    choices["recycling"] = _recycling(check, raw, choices["backend"])
    choices["strict_fork"] = [check.flag("server.strict_fork", raw.get("strict_fork", False))]
    return [ServerSpec(**combo) for combo in check.product("server", choices)]


# Which server offers which recycling policy; every one of them replaces the worker by a fresh fork.
RECYCLING_SERVERS = {
    "max_requests": ("uwsgi", "gunicorn"),
    "reload_on_rss": ("uwsgi",),
    "max_worker_lifetime": ("uwsgi",),
    "min_worker_lifetime": ("uwsgi",),
}
DEFAULT_JITTER_SHARE = 0.05  # max_requests_jitter when not given: 5 % of max_requests


def _recycling(check: _Checker, raw: dict, backends: list[str]) -> list[Recycling]:
    """Every recycling setting swept (a list of max_requests, say); refused on a server that lacks it."""

    def count(maximum: int):
        return lambda k, v: check.whole(k, v, 0, maximum)

    choices = {
        "max_requests": check.swept(
            "server.max_requests", raw.get("max_requests", 0), count(MAX_RECYCLE_REQUESTS)
        ),
        "reload_on_rss": check.swept("server.reload_on_rss", raw.get("reload_on_rss", 0), count(MAX_RSS_MB)),
        "max_worker_lifetime": check.swept(
            "server.max_worker_lifetime", raw.get("max_worker_lifetime", 0), count(int(MAX_TIMEOUT_S))
        ),
    }
    if "min_worker_lifetime" in raw:
        choices["min_worker_lifetime"] = check.swept(
            "server.min_worker_lifetime", raw["min_worker_lifetime"], count(int(MAX_TIMEOUT_S))
        )
    for name, values in choices.items():
        for backend in dict.fromkeys(backends):
            given = name in raw and raw[name] is not None
            if (
                any(values) or (name == "min_worker_lifetime" and given)
            ) and backend not in RECYCLING_SERVERS[name]:
                offered = " or ".join(RECYCLING_SERVERS[name])
                raise check.error(f"server.{name}", f"{backend} has no {name}; it needs {offered}")
    jitter_key = "server.max_requests_jitter"
    jitters = (
        check.swept(jitter_key, raw["max_requests_jitter"], count(MAX_RECYCLE_REQUESTS))
        if "max_requests_jitter" in raw
        else [None]
    )
    found = []
    for combo in check.product("server", {**choices, "max_requests_jitter": jitters}):
        jitter = combo["max_requests_jitter"]
        if jitter is None:
            jitter = int(combo["max_requests"] * DEFAULT_JITTER_SHARE)
        elif jitter and not combo["max_requests"]:
            raise check.error(jitter_key, "needs server.max_requests")
        found.append(Recycling(**{**combo, "max_requests_jitter": jitter}))
    return list(dict.fromkeys(found))


def _check_preload(check: _Checker, backends: list[str], modes: list[str]) -> None:
    """A lazy-only server with a mode that loads the app before fork: refused, not skipped, so that a sweep
    never measures less than it says."""
    preloading = [mode for mode in dict.fromkeys(modes) if get_mode(mode).preload]
    for backend in dict.fromkeys(backends):
        if preloading and not supports_preload(backend):
            others = " or ".join(name for name in SERVER_NAMES if supports_preload(name))
            lazy = ", ".join(mode for mode in MODES if not get_mode(mode).preload)
            raise check.error(
                "server.modes",
                f"{backend} has no preload: {', '.join(preloading)} need {others} ({backend} runs {lazy})",
            )


def _traffic(check: _Checker, raw: Any) -> TrafficSpec:
    raw = {} if raw is None else check.mapping("traffic", raw)
    check.known("traffic", raw, TRAFFIC_KEYS)
    return TrafficSpec(
        requests_per_worker=check.whole(
            "traffic.requests_per_worker",
            raw.get("requests_per_worker", DEFAULT_REQUESTS_PER_WORKER),
            0,
            MAX_REQUESTS_PER_WORKER,
        ),
        urls=check.url_list("traffic.urls", raw["urls"]) if "urls" in raw else (),
        max_urls=check.whole("traffic.max_urls", raw.get("max_urls", DEFAULT_MAX_URLS), 1, MAX_URLS),
        timeout=check.positive("traffic.timeout", raw.get("timeout", DEFAULT_REQUEST_TIMEOUT_S)),
        steady_state=check.flag("traffic.steady_state", raw.get("steady_state", True)),
        allowed_statuses=_allowed_statuses(check, raw.get("allowed_statuses", {})),
        clients=check.whole("traffic.clients", raw.get("clients", 0), 0, MAX_CLIENTS),
        sample_every=check.whole(
            "traffic.sample_every", raw.get("sample_every", 0), 0, MAX_REQUESTS_PER_WORKER
        ),
    )


def _probes(check: _Checker, raw: Any) -> ProbeSpec:
    raw = {} if raw is None else check.mapping("probes", raw)
    check.known("probes", raw, PROBE_KEYS)
    return ProbeSpec(
        phases=check.flag("probes.phases", raw.get("phases", True)),
        objects=check.flag("probes.objects", raw.get("objects", False)),
    )


def _allowed_statuses(check: _Checker, raw: Any) -> tuple[tuple[str, tuple[int, ...]], ...]:
    key = "traffic.allowed_statuses"
    raw = check.mapping(key, raw)
    allowed = []
    for url, statuses in raw.items():
        check.url_list(f"{key}.{url}", [url])
        statuses = statuses if isinstance(statuses, list) else [statuses]
        codes = []
        for index, status in enumerate(statuses):
            where = f"{key}.{url}[{index}]"
            if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
                raise check.error(where, f"expected an HTTP status (100-599), got {status!r}")
            codes.append(status)
        allowed.append((url, tuple(sorted(set(codes)))))
    return tuple(sorted(allowed))


def _check_distinct(check: _Checker, key: str, earlier: list[ProjectSpec], found: list[ProjectSpec]) -> None:
    """Two labels for one project would give their runs the same ids: a name is a label, not a difference."""
    labels = {project.key(): project.label for project in earlier}
    for project in found:
        other = labels.get(project.key(), project.label)
        if other != project.label:
            raise check.error(
                key, f"measures the same project as {other!r}: give it other options or drop it"
            )


def _check_plan_size(projects: int, servers: int, repetitions: int) -> None:
    """The plan's size, refused before a single run of it is built."""
    runs = projects * servers * repetitions
    if runs > MAX_RUNS:
        raise SweepError(
            "sweep",
            f"{runs} runs = {projects} projects (project) × {servers} server settings (server) × "
            f"{repetitions} repetitions; at most {MAX_RUNS} per sweep",
        )


def _launcher(check: _Checker, raw: Any, base_dir: Path) -> LauncherSpec:
    raw = {} if raw is None else check.mapping("launcher", raw)
    check.known("launcher", raw, LAUNCHER_KEYS)
    key = "launcher."
    folder = None
    if "folder" in raw:
        folder = Path(check.text(key + "folder", raw["folder"])).expanduser()
        folder = folder if folder.is_absolute() else base_dir / folder
    setup = raw.get("setup", [])
    setup = [setup] if isinstance(setup, str) else setup
    if not isinstance(setup, list):
        raise check.error(key + "setup", f"expected a shell line or a list of them, got {_kind(setup)}")
    sbatch = check.mapping(key + "sbatch", raw.get("sbatch", {}))
    options = []
    for name, value in sbatch.items():
        where = f"{key}sbatch.{name}"
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            raise check.error(where, "expected an sbatch option name, e.g. account or qos")
        if isinstance(value, dict | list) or value is None or isinstance(value, bool):
            raise check.error(where, f"expected a string or number, got {_kind(value)}")
        options.append((name.replace("_", "-"), str(value)))
    return LauncherSpec(
        partition=check.text(key + "partition", raw["partition"]) if "partition" in raw else "",
        time_limit_min=check.whole(
            key + "time_limit_min", raw.get("time_limit_min", DEFAULT_TIME_LIMIT_MIN), 1, MAX_TIME_LIMIT_MIN
        ),
        runs_per_job=check.whole(
            key + "runs_per_job", raw.get("runs_per_job", DEFAULT_RUNS_PER_JOB), 1, MAX_RUNS
        ),
        exclusive=check.flag(key + "exclusive", raw.get("exclusive", True)),
        array_parallelism=check.whole(
            key + "array_parallelism", raw.get("array_parallelism", 0), 0, MAX_RUNS
        ),
        folder=folder.resolve() if folder else None,
        setup=tuple(check.text(f"{key}setup[{i}]", line) for i, line in enumerate(setup)),
        sbatch=tuple(sorted(options)),
    )


# --------------------------------------------------------------------------- entry points


def parse_sweep(
    text: str, *, base_dir: Path, default_name: str = "sweep", source: Path | None = None
) -> Sweep:
    """Validate a sweep given as YAML text; relative paths are relative to ``base_dir``."""
    data, lines = _load_yaml(text)
    check = _Checker(lines)
    if data is None:
        raise SweepError("sweep", "the file is empty")
    check.mapping("sweep", data)
    check.known("", data, TOP_KEYS)
    name = check.text("name", data["name"]) if "name" in data else default_name
    if "/" in name or name.startswith("."):
        raise check.error("name", f"must not contain '/' or start with '.', got {name!r}")
    repetitions = check.whole("repetitions", data.get("repetitions", 1), 1, MAX_REPETITIONS)
    seed = check.whole("seed", data.get("seed", 0), 0, 2**63 - 1)
    warmup_runs = check.whole("warmup_runs", data.get("warmup_runs", 1), 0, MAX_WARMUP_RUNS)
    if "project" not in data:
        raise check.error(
            "project", "required: generator options (models: …) or an existing project (path: …)"
        )
    # A list of project blocks shares one plan: their runs interleave, so they see the same machine.
    blocks = data["project"] if isinstance(data["project"], list) else [data["project"]]
    if not blocks:
        raise check.error("project", "an empty list measures nothing")
    projects: list[ProjectSpec] = []
    named: set[str] = set()
    for index, block in enumerate(blocks):
        key = f"project[{index}]" if isinstance(data["project"], list) else "project"
        block = check.mapping(key, block)
        found = (
            _existing_projects(check, block, base_dir, key)
            if "path" in block
            else _generated_projects(check, block, key)
        )
        if "name" in block:
            if block["name"] in named:
                raise check.error(f"{key}.name", f"{block['name']!r} already names another project block")
            named.add(block["name"])
        _check_distinct(check, key, projects, found)
        projects += found
    projects = list(dict.fromkeys(projects))
    servers = list(dict.fromkeys(_servers(check, data.get("server"))))
    _check_plan_size(len(projects), len(servers), repetitions)
    traffic = _traffic(check, data.get("traffic"))
    probes = _probes(check, data.get("probes"))
    launcher = _launcher(check, data.get("launcher"), base_dir)
    output = (
        Path(check.text("output", data["output"])) if "output" in data else Path("results") / f"{name}.csv"
    )
    output = output.expanduser()
    if not output.is_absolute():
        output = base_dir / output
    return Sweep(
        name=name,
        repetitions=repetitions,
        seed=seed,
        projects=tuple(projects),
        servers=tuple(servers),
        traffic=traffic,
        probes=probes,
        launcher=launcher,
        output=output.resolve(),
        warmup_runs=warmup_runs,
        source=source,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        raw=data,
    )


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file. Raises SweepError (bad content) or ExperimentError (unreadable)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExperimentError(f"{path}: no such sweep file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError(f"{path}: cannot read the sweep file ({exc})") from None
    return parse_sweep(text, base_dir=path.resolve().parent, default_name=path.stem, source=path.resolve())
