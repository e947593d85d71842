"""Executors run one RunSpec and return a Measurement: ``UwsgiExecutor`` for real, ``FakeExecutor`` for tests.

A real run: a fresh directory with the wrapper and a unix datagram socket, a uWSGI master in its own session
(process group) with a parent-death signal, readiness events from every worker, memory from smaps_rollup,
HTTP traffic, then SIGKILL to the whole group. Whatever happens, the group is killed before ``run`` returns.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from experiments.errors import ExperimentError
from experiments.measure.memory import cpu_seconds, read_tree
from experiments.measure.traffic import TrafficError, drive
from experiments.plan import RunSpec
from experiments.projects import PreparedProject

WRAPPER_SOURCE = Path(__file__).with_name("wrapper.py")
WRAPPER_MODULE = "prefork_lab_wrapper"
RUN_DIR_PREFIX = "prefork-lab-run-"
LOG_TAIL_LINES = 15
LOG_TAIL_CHARS = 2000
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

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
)


@dataclass
class Measurement:
    status: str  # ok, failed or timeout
    error: str = ""
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
    timings: dict[str, float] = field(
        default_factory=dict
    )  # seconds per phase: launch, startup, traffic, ...
    details: dict = field(default_factory=dict)  # pids, readiness latencies, wrapper headers

    def metrics(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in METRIC_FIELDS}


class Executor(Protocol):
    def run(self, run: RunSpec, project: PreparedProject) -> Measurement: ...


class RunFailed(Exception):
    status = "failed"


class RunTimedOut(RunFailed):
    status = "timeout"


# --------------------------------------------------------------------------- helpers


def find_uwsgi() -> str:
    candidate = Path(sys.executable).parent / "uwsgi"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("uwsgi")
    if not found:
        raise ExperimentError("uwsgi not found next to the Python interpreter nor on PATH; pip install uWSGI")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


_DEFERRED = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextlib.contextmanager
def deferred_signals():
    """Hold Ctrl-C and SIGTERM back while a server is started or killed: no interruption can land between
    ``Popen`` and the bookkeeping that lets ``finally`` kill it. They are delivered on exit."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def become_subreaper() -> bool:
    """Adopt orphaned descendants (the workers of a killed master) so that we reap them, not init."""
    return _prctl is not None and _prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _child_setup() -> None:
    """In the forked child before exec: die with the runner (SIGKILL), even if it is SIGKILLed; and unblock
    the signals the runner held back (a signal mask survives exec)."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _DEFERRED)


def log_tail(path: Path) -> str:
    try:
        data = path.read_bytes()[-20000:].decode("utf-8", "replace")
    except OSError:
        return ""
    noise = ("*** WARNING: you are running uWSGI as root", "uWSGI running as root")
    lines = [line.rstrip() for line in data.splitlines() if line.strip() and not line.startswith(noise)]
    return " | ".join(lines[-LOG_TAIL_LINES:])[-LOG_TAIL_CHARS:]


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] != b"Z"


def kill_group(process: subprocess.Popen, pids: list[int], wait_s: float = 5.0) -> None:
    """SIGKILL the run's process group, reap the master, and wait until every known pid is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for pid in pids:  # a worker that left the group somehow
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(wait_s)
    deadline = time.monotonic() + wait_s
    # When the runner is a child subreaper the orphaned workers (even those that never reported) are ours:
    # reap every child left in the run's process group.
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-process.pid, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.001)
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.002)


def uwsgi_command(uwsgi: str, run: RunSpec, project: PreparedProject, run_dir: Path, port: int) -> list[str]:
    command = [
        uwsgi,
        "--strict",
        "--master",
        "--processes",
        str(run.workers),
        "--http-socket",
        f"127.0.0.1:{port}",
        "--module",
        WRAPPER_MODULE,
        "--pythonpath",
        str(run_dir),
        "--pythonpath",
        str(project.root),
        "--chdir",
        str(project.root),
        "--home",
        sys.prefix,
        "--max-fd",
        str(run.server.max_fd),
        "--single-interpreter",
        "--die-on-term",
        "--need-app",
        "--no-orphans",
        "--disable-logging",
        "--buffer-size",
        "32768",
    ]
    if run.mode == "lazy":
        command.append("--lazy-apps")
    return command


# --------------------------------------------------------------------------- the real executor


class UwsgiExecutor:
    """Runs each RunSpec on a real uWSGI server."""

    def __init__(self, uwsgi: str | None = None, keep_run_dirs: bool = False, port_attempts: int = 3):
        self.uwsgi = uwsgi or find_uwsgi()
        self.keep_run_dirs = keep_run_dirs
        self.port_attempts = port_attempts

    def run(self, run: RunSpec, project: PreparedProject) -> Measurement:
        started = time.monotonic()
        for attempt in range(self.port_attempts):
            measurement = self._attempt(run, project)
            if "Address already in use" not in measurement.error or attempt == self.port_attempts - 1:
                break
        measurement.timings["total"] = time.monotonic() - started
        return measurement

    def _attempt(self, run: RunSpec, project: PreparedProject) -> Measurement:
        t0 = time.monotonic()
        run_dir = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))
        timings: dict[str, float] = {}
        details: dict = {"run_dir": str(run_dir)}
        measurement = Measurement(status="failed", timings=timings, details=details)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        log_path = run_dir / "uwsgi.log"
        process = None
        worker_pids: list[int] = []
        try:
            shutil.copyfile(WRAPPER_SOURCE, run_dir / f"{WRAPPER_MODULE}.py")
            # Linux abstract socket ("@name"): no path-length limit, nothing to clean up on disk.
            notify_name = f"prefork-lab-{os.getpid()}-{run_dir.name}"
            notify.bind("\0" + notify_name)
            notify.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            port = free_port()
            env = {
                **os.environ,
                **project.env,
                "PREFORK_LAB_MODE": run.mode,
                "PREFORK_LAB_APP": project.wsgi,
                "PREFORK_LAB_NOTIFY": "@" + notify_name,
                "PREFORK_LAB_WARMUP": "\n".join(project.urls),
                "PREFORK_LAB_HOST": f"127.0.0.1:{port}",
                "PREFORK_LAB_RUN": run_dir.name,
            }
            command = uwsgi_command(self.uwsgi, run, project, run_dir, port)
            details["command"] = command
            with open(log_path, "wb") as log, deferred_signals():
                timings["prepare"] = time.monotonic() - t0
                launched = time.monotonic_ns()
                process = subprocess.Popen(
                    command,
                    cwd=project.root,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own session and process group; no terminal signals
                    preexec_fn=_child_setup,
                )
            details["master_pid"] = process.pid
            ready = self._wait_ready(notify, process, run, launched, details)
            worker_pids.extend(ready)
            last_recv = max(recv for _sent, recv in ready.values())
            measurement.startup_s = (last_recv - launched) / 1e9
            timings["startup"] = measurement.startup_s
            details["ready_latency_ms"] = max(recv - sent for sent, recv in ready.values()) / 1e6
            details["workers"] = sorted(ready)

            t = time.monotonic()
            measurement.startup_cpu_s = sum(cpu_seconds(pid) for pid in [process.pid, *worker_pids])
            at_ready = read_tree(process.pid, worker_pids)
            measurement.memory_ready_mb = at_ready.total_mb("pss")
            timings["memory_ready"] = time.monotonic() - t

            t = time.monotonic()
            traffic = drive(
                port,
                worker_pids,
                list(project.urls),
                run.traffic.requests_per_worker,
                run.traffic.timeout,
            )
            timings["traffic"] = time.monotonic() - t
            measurement.first_query_ms = traffic.first_query_ms
            measurement.first_request_ms_mean = traffic.first_request_ms_mean
            measurement.first_request_ms_max = traffic.first_request_ms_max
            measurement.steady_ms_median = traffic.steady_ms_median
            headers = traffic.first_query.headers
            details["loaded_in"] = headers.get("x-prefork-lab-loaded-in")
            details["warmed"] = int(headers.get("x-prefork-lab-warmed", "0"))
            details["frozen"] = int(headers.get("x-prefork-lab-frozen", "0"))
            details["first_workers"] = sorted(traffic.first_requests)
            details["statuses"] = sorted({r.status for r in traffic.steady} | {traffic.first_query.status})

            t = time.monotonic()
            after = read_tree(process.pid, worker_pids)
            timings["memory"] = time.monotonic() - t
            measurement.memory_mb = after.total_mb("pss")
            measurement.uss_mb = after.total_mb("uss")
            measurement.rss_mb = after.total_mb("rss")
            measurement.master_pss_mb = after.master.pss_kb / 1024
            measurement.worker_uss_mb_mean = after.worker_uss_mb_mean
            measurement.status = "ok"
            if traffic.missing_workers:
                measurement.error = (
                    f"{len(traffic.missing_workers)} of {run.workers} workers served no first request "
                    f"(pids {traffic.missing_workers})"
                )
        except RunFailed as exc:
            measurement.status = exc.status
            measurement.error = _with_tail(str(exc), log_path)
        except TrafficError as exc:
            measurement.status = "timeout" if "timed out" in str(exc) else "failed"
            measurement.error = _with_tail(str(exc), log_path)
        except OSError as exc:
            measurement.status = "failed"
            measurement.error = _with_tail(f"{type(exc).__name__}: {exc}", log_path)
        finally:
            t = time.monotonic()
            if process is not None:
                with deferred_signals():
                    kill_group(process, worker_pids)
            timings["stop"] = time.monotonic() - t
            notify.close()
            if not self.keep_run_dirs:
                shutil.rmtree(run_dir, ignore_errors=True)
        return measurement

    def _wait_ready(
        self,
        notify: socket.socket,
        process: subprocess.Popen,
        run: RunSpec,
        launched_ns: int,
        details: dict,
    ) -> dict[int, tuple[int, int]]:
        """Wait until every worker sent ``ready``; pid -> (sent_ns, received_ns). Raises RunFailed."""
        deadline = launched_ns + int(run.server.timeout * 1e9)
        ready: dict[int, tuple[int, int]] = {}
        while len(ready) < run.workers:
            remaining = (deadline - time.monotonic_ns()) / 1e9
            if remaining <= 0:
                raise RunTimedOut(
                    f"timeout: {len(ready)} of {run.workers} workers ready after {run.server.timeout:g} s"
                )
            # The datagram wakes us at once; the short timeout only bounds how late a dead master is noticed.
            notify.settimeout(min(remaining, 0.05))
            try:
                data = notify.recv(65536)
            except TimeoutError:
                code = process.poll()
                if code is not None:
                    raise RunFailed(
                        f"uWSGI exited with status {code} before every worker was ready"
                    ) from None
                continue
            received = time.monotonic_ns()
            kind, _, rest = data.decode("utf-8", "replace").partition(" ")
            parts = rest.split(" ", 2)
            if kind == "ready":
                ready.setdefault(int(parts[0]), (int(parts[1]), received))
            elif kind == "loaded":
                details.setdefault("load_s", float(parts[2]))
            elif kind == "warmed":
                seconds, _, statuses = parts[2].partition(" ")
                details["warmup_s"] = float(seconds)
                details["warmup_statuses"] = statuses
            elif kind == "error":
                trace = parts[2].strip().splitlines() if len(parts) > 2 else []
                raise RunFailed(f"the app failed to load: {trace[-1] if trace else 'unknown error'}")
        return ready


def _with_tail(message: str, log_path: Path) -> str:
    tail = log_tail(log_path)
    return f"{message} | log: {tail}" if tail else message
