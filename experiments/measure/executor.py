"""The executor runs one RunSpec on a real pre-fork server and returns a Measurement.

One generic run for every server (experiments/servers/): a fresh run directory with the wrapper and the server's
adapter, an abstract datagram socket for the wrapper's messages, the server's master in its own session (process
group) with a parent-death signal, readiness from every worker, memory from smaps_rollup, HTTP traffic, one
full collection in every worker and memory again (steady state), then SIGKILL to the whole group. Whatever
happens, the group is killed and the run directory removed before ``run`` returns.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from experiments.measure.control import collect_everywhere
from experiments.measure.inbox import Inbox, Message
from experiments.measure.lifecycle import drain, note
from experiments.measure.memory import MAPPING_KINDS, cpu_seconds, private_by_mapping, read_tree
from experiments.measure.processes import alive, child_setup, free_port, kill_group
from experiments.measure.server_log import explain_failure
from experiments.measure.traffic import TrafficError, acceptable
from experiments.measure.traffic_phase import TrafficFailed, measure_traffic
from experiments.modes import get_mode, wrapper_environment
from experiments.plan import RunSpec
from experiments.projects import PreparedProject
from experiments.servers.base import WRAPPER_MODULE, Launch, Server
from experiments.servers.factory import get_server
from generator.process import signals_held

WRAPPER_SOURCE = Path(__file__).with_name("wrapper.py")
PHASES_SOURCE = Path(__file__).with_name("phases.py")
PHASES_MODULE = "prefork_lab_phases"
RUN_DIR_PREFIX = "prefork-lab-run-"

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


def make_run_dir() -> Path:
    """A fresh run directory named after this runner's pid, so that a later runner can tell it is stale."""
    return Path(tempfile.mkdtemp(prefix=f"{RUN_DIR_PREFIX}{os.getpid()}-"))


def remove_stale_run_dirs() -> list[Path]:
    """Remove run directories left by runners that died (SIGKILL): their pid no longer exists."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"{RUN_DIR_PREFIX}*"):
        owner = path.name[len(RUN_DIR_PREFIX) :].split("-", 1)[0]
        if path.is_dir() and owner.isdigit() and int(owner) != os.getpid() and not alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@dataclass
class _Live:
    """The state of one attempt that ``finally`` needs: what to kill and where the log is."""

    server: Server
    run_dir: Path
    log_path: Path
    process: subprocess.Popen | None = None
    workers: list[int] = field(default_factory=list)  # the workers serving now
    seen: list[int] = field(default_factory=list)  # every worker that ever served, recycled ones too
    port: int = 0
    command: list[str] = field(default_factory=list)


class ServerExecutor:
    """Runs each RunSpec on the real server its ``server.backend`` names."""

    def __init__(
        self, servers: Mapping[str, Server] | None = None, keep_run_dirs: bool = False, port_attempts: int = 3
    ):
        """``servers``: found servers by name (or ``name@python`` for a project's own interpreter)."""
        self.servers = dict(servers or {})
        self.keep_run_dirs = keep_run_dirs
        self.port_attempts = port_attempts
        remove_stale_run_dirs()

    def server(self, name: str, python: str = "") -> Server:
        """The server ``name`` of the interpreter ``python`` (empty: ours), found once."""
        key = f"{name}@{python}" if python else name
        if key not in self.servers:
            self.servers[key] = get_server(name, python=python or None)
        return self.servers[key]

    def run(self, run: RunSpec, project: PreparedProject, after_traffic: AfterTraffic = None) -> Measurement:
        started = time.monotonic()
        server = self.server(run.server.backend, project.python)
        for attempt in range(self.port_attempts):
            measurement = self._attempt(run, project, server, after_traffic)
            bind_error = any(marker in measurement.error for marker in server.bind_errors)
            if not bind_error or attempt == self.port_attempts - 1:
                break
        measurement.server_version = server.version
        measurement.timings["total"] = time.monotonic() - started
        # seconds per phase of the run, kept with its details: the harness's overhead is what they leave
        measurement.details["timings"] = measurement.timings
        return measurement

    def _attempt(
        self, run: RunSpec, project: PreparedProject, server: Server, after_traffic: AfterTraffic
    ) -> Measurement:
        run_dir = make_run_dir()
        live = _Live(server, run_dir, run_dir / "server.log")
        measurement = Measurement(status="failed", details={"run_dir": str(run_dir)})
        try:
            with Inbox(f"prefork-lab-{os.getpid()}-{run_dir.name}") as inbox:
                try:
                    self._measure(run, project, live, inbox, measurement)
                    if after_traffic is not None:
                        measurement.breakdown.update(after_traffic())
                    measurement.status = "ok"
                finally:
                    t = time.monotonic()
                    if live.process is not None:
                        with signals_held():
                            kill_group(live.process, list(dict.fromkeys([*live.seen, *live.workers])))
                    measurement.timings["stop"] = time.monotonic() - t
        except RunFailed as exc:
            measurement.status = exc.status
            measurement.error = self._with_tail(str(exc), live)
        except TrafficError as exc:
            measurement.status = "timeout" if "timed out" in str(exc) else "failed"
            measurement.error = self._with_tail(str(exc), live)
        except TrafficFailed as exc:
            measurement.status = "failed"
            measurement.error = self._with_tail(str(exc), live)
        except OSError as exc:
            measurement.status = "failed"
            measurement.error = self._with_tail(f"{type(exc).__name__}: {exc}", live)
        finally:
            if not self.keep_run_dirs:
                shutil.rmtree(run_dir, ignore_errors=True)
        return measurement

    @staticmethod
    def _with_tail(message: str, live: _Live) -> str:
        return explain_failure(message, live.log_path, live.server)

    def _launch(self, run: RunSpec, project: PreparedProject, live: _Live, inbox: Inbox, token: str) -> int:
        """Write the run directory and start the server; the launch time (monotonic ns)."""
        shutil.copyfile(WRAPPER_SOURCE, live.run_dir / f"{WRAPPER_MODULE}.py")
        shutil.copyfile(PHASES_SOURCE, live.run_dir / f"{PHASES_MODULE}.py")
        for name, source in live.server.run_files().items():
            shutil.copyfile(source, live.run_dir / name)
        port = free_port()
        snapshot = snapshot_path(run, live)
        objects_probe = {"PREFORK_LAB_OBJECTS": str(snapshot)} if snapshot else {}
        env = live.server.environment(
            {
                **os.environ,
                **project.env,
                **wrapper_environment(run.mode),
                "PREFORK_LAB_APP": project.wsgi,
                "PREFORK_LAB_NOTIFY": inbox.address,
                "PREFORK_LAB_WARMUP": "\n".join(project.urls),
                "PREFORK_LAB_HOST": f"127.0.0.1:{port}",
                "PREFORK_LAB_CONTROL": token,
                "PREFORK_LAB_PHASES": "1" if run.probes.phases else "0",
                "PREFORK_LAB_STRICT_FORK": "1" if run.server.strict_fork else "0",
                **objects_probe,
            }
        )
        command = live.server.command(run, Launch(live.run_dir, project.root, port))
        live.command = command
        with open(live.log_path, "wb") as log, signals_held():
            launched = time.monotonic_ns()
            live.process = subprocess.Popen(
                command,
                cwd=project.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own session and process group; no terminal signals
                preexec_fn=child_setup,
            )
        live.port = port
        return launched

    def _measure(
        self, run: RunSpec, project: PreparedProject, live: _Live, inbox: Inbox, m: Measurement
    ) -> None:
        token = secrets.token_hex(16)
        launched = self._launch(run, project, live, inbox, token)
        m.details["master_pid"] = live.process.pid
        m.details["command"] = live.command
        ready = wait_ready(inbox, live, run, launched, m.details, project.urls)
        last_recv = max(message.received_ns for message in ready.values())
        m.startup_s = (last_recv - launched) / 1e9
        m.timings["startup"] = m.startup_s
        m.details["ready_latency_ms"] = max(msg.received_ns - msg.sent_ns for msg in ready.values()) / 1e6
        m.details["workers"] = sorted(ready)
        forks = m.details.get("forked_ns", {})
        if len(forks) == run.workers:
            m.fork_span_ms = (max(forks.values()) - min(forks.values())) / 1e6
        m.startup_cpu_s = sum(cpu_seconds(pid) for pid in [live.process.pid, *live.workers])
        m.memory_ready_mb = read_tree(live.process.pid, live.workers).total_mb("pss")
        if get_mode(run.mode).preload:
            m.breakdown["db_closed_before_fork"] = m.details.get("closed_before_fork", {}).get("count", 0)
        measure_traffic(run, project, live, inbox, m)
        drain(inbox, m.details)
        m.breakdown.update(private_memory(live.workers))
        m.breakdown.update(phase_metrics(m.details))
        if run.traffic.steady_state:
            measure_steady_state(run, live, inbox, token, m)
        snapshot = snapshot_path(run, live)
        if snapshot:
            measure_inherited_objects(snapshot, live, m)


def snapshot_path(run: RunSpec, live: _Live) -> Path | None:
    """Where the master writes its objects before fork: only with the probe on, in a mode that preloads
    (a lazy master holds no object of the app's for its workers to inherit)."""
    if not (run.probes.objects and get_mode(run.mode).preload):
        return None
    from experiments.measure.objects import SNAPSHOT_NAME

    return live.run_dir / SNAPSHOT_NAME


def measure_inherited_objects(path: Path, live: _Live, m: Measurement) -> None:
    """After every memory reading of the row: which inherited objects sit on pages each worker keeps private."""
    from experiments.measure.objects import measure_objects

    t = time.monotonic()
    try:
        columns, details = measure_objects(path, live.workers)
    except (OSError, ValueError) as exc:
        raise RunFailed(f"objects probe: {type(exc).__name__}: {exc}") from None
    m.breakdown.update(columns)
    m.details["inherited_objects"] = details
    m.timings["objects"] = time.monotonic() - t


def private_memory(workers: list[int]) -> dict[str, float]:
    """Mean over workers of what each keeps private, by kind of mapping (the kinds add up to its USS)."""
    per_worker = [private_by_mapping(pid) for pid in workers]
    return {
        f"worker_private_{kind}_mb_mean": sum(w[kind] for w in per_worker) / len(per_worker) / 1024
        for kind in MAPPING_KINDS
    }


STARTUP_PHASES = ("settings", "apps_import", "models", "ready", "middleware", "other")
REQUEST_PHASES = ("urlconf", "db_connect", "templates", "view")


def _mean(values) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def phase_metrics(details: dict) -> dict[str, float]:
    """phase_* columns: means over the processes that loaded the app (the master, or every lazy worker), the
    warm-ups, and the workers' first requests."""
    found: dict[str, float | None] = {}
    loads = list(details.get("startup_phases", {}).values())
    for name in STARTUP_PHASES:
        found[f"phase_{name}_s"] = _mean(load[name] for load in loads)
    found["phase_warmup_s"] = _mean(details.get("warmup_seconds", {}).values())
    firsts = list(details.get("first_request_phases", {}).values())
    for name in REQUEST_PHASES:
        found[f"phase_{name}_ms"] = _mean(first[name] for first in firsts)
    return {name: value for name, value in found.items() if value is not None}


def measure_steady_state(run: RunSpec, live: _Live, inbox: Inbox, token: str, m: Measurement) -> None:
    t = time.monotonic()
    collected = collect_everywhere(
        inbox, live.port, live.workers, token, run.traffic.timeout, hold=live.server.shared_listener
    )
    steady = read_tree(live.process.pid, live.workers)
    m.timings["steady_state"] = time.monotonic() - t
    m.memory_steady_mb = steady.total_mb("pss")
    m.worker_uss_steady_mb_mean = steady.worker_uss_mb_mean
    reports = list(collected.values())
    m.worker_gen2_collections_mean = sum(r.collections[-1] for r in reports) / len(reports)
    m.collect_ms_mean = sum(r.collect_ms for r in reports) / len(reports)
    m.details["collections_since_ready"] = {pid: list(r.collections) for pid, r in collected.items()}


def _check_warmup(message: Message, details: dict, allowed: Mapping[str, tuple[int, ...]], urls) -> None:
    seconds, _, statuses = message.rest.partition(" ")
    details["warmup_s"] = float(seconds)
    details["warmup_statuses"] = statuses
    for url, status in zip(urls, statuses.split(","), strict=False):
        if not status.isdigit() or not acceptable(int(status), allowed.get(url, ())):
            raise RunFailed(f"warm-up GET {url}: HTTP {status} (an error page is not a measurement)")


def wait_ready(
    inbox: Inbox, live: _Live, run: RunSpec, launched_ns: int, details: dict, urls: tuple[str, ...]
) -> dict[int, Message]:
    """Wait until every worker sent ``ready``; pid -> its message. Raises RunFailed or RunTimedOut."""
    deadline = launched_ns + int(run.server.timeout * 1e9)
    ready: dict[int, Message] = {}
    forked = details.setdefault("forked_ns", {})
    while len(ready) < run.workers:
        remaining = (deadline - time.monotonic_ns()) / 1e9
        if remaining <= 0:
            raise RunTimedOut(
                f"timeout: {len(ready)} of {run.workers} workers ready after {run.server.timeout:g} s"
            )
        # The datagram wakes us at once; the short timeout only bounds how late a dead master is noticed.
        message = inbox.receive(min(remaining, 0.05))
        if message is None:
            code = live.process.poll()
            if code is not None:
                raise RunFailed(f"{live.server.name} exited with status {code} before every worker was ready")
            continue
        if message.kind == "ready" and message.pid not in ready:
            ready[message.pid] = message
            live.workers.append(message.pid)
        elif message.kind == "forked":
            forked.setdefault(message.pid, message.sent_ns)
        elif message.kind == "closed":
            count, _, names = message.rest.partition(" ")
            details["closed_before_fork"] = {"count": int(count), "connections": names.split(",")}
        elif message.kind == "loaded":
            loads = details.setdefault("load_seconds", {})
            loads[message.pid] = float(message.rest.split(" ")[0])
            details["load_s"] = sum(loads.values()) / len(loads)
        elif message.kind in ("warmed", "phases"):
            note(message, details)
            if message.kind == "warmed":
                _check_warmup(message, details, run.traffic.allowed, urls)
        elif message.kind == "exited":
            raise RunFailed(
                f"worker {message.pid} exited (status {message.rest}) before every worker was ready"
            )
        elif message.kind == "error":
            lines = message.rest.strip().splitlines() or ["unknown error"]
            if lines[0].startswith("Traceback"):
                raise RunFailed(f"the app failed to load: {lines[-1]}")
            raise RunFailed(lines[-1])
    return ready
