"""The executor runs one RunSpec on a real pre-fork server and returns a Measurement.

One generic run for every server (experiments/servers/): a fresh run directory with the wrapper and the server's
adapter, an abstract datagram socket for the wrapper's messages, the server's master in its own session (process
group) with a parent-death signal, readiness from every worker, memory from smaps_rollup, HTTP traffic, one
full collection in every worker and memory again (steady state), then SIGKILL to the whole group. Whatever
happens, the group is killed and the run directory removed before ``run`` returns.

What a run measures is measurement.py; waiting for the workers, readiness.py; the readings after traffic,
readings.py.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from experiments.measure.inbox import Inbox
from experiments.measure.lifecycle import drain
from experiments.measure.measurement import (
    METRIC_FIELDS,
    AfterTraffic,
    Executor,
    Live,
    Measurement,
    RunFailed,
    RunTimedOut,
)
from experiments.measure.memory import cpu_seconds, read_tree
from experiments.measure.processes import alive, child_setup, free_port, kill_group
from experiments.measure.readiness import wait_ready
from experiments.measure.readings import (
    measure_inherited_objects,
    measure_steady_state,
    phase_metrics,
    private_memory,
    snapshot_path,
)
from experiments.measure.server_log import explain_failure
from experiments.measure.traffic import TrafficError
from experiments.measure.traffic_phase import TrafficFailed, measure_traffic
from experiments.modes import get_mode, wrapper_environment
from experiments.plan import RunSpec
from experiments.projects import PreparedProject
from experiments.servers.base import WRAPPER_MODULE, Launch, Server
from experiments.servers.factory import get_server
from generator.process import signals_held

# What the launchers, the runner and the tests import from here; measurement.py, readiness.py and readings.py
# hold the rest of a run.
__all__ = [
    "METRIC_FIELDS",
    "RUN_DIR_PREFIX",
    "AfterTraffic",
    "Executor",
    "Measurement",
    "RunFailed",
    "RunTimedOut",
    "ServerExecutor",
    "remove_stale_run_dirs",
]

WRAPPER_SOURCE = Path(__file__).with_name("wrapper.py")
PHASES_SOURCE = Path(__file__).with_name("phases.py")
PHASES_MODULE = "prefork_lab_phases"
SNAPSHOT_SOURCE = Path(__file__).with_name("snapshot.py")
SNAPSHOT_MODULE = "prefork_lab_snapshot"
RUN_DIR_PREFIX = "prefork-lab-run-"


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
        live = Live(server, run_dir, run_dir / "server.log")
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
    def _with_tail(message: str, live: Live) -> str:
        return explain_failure(message, live.log_path, live.server)

    def _launch(self, run: RunSpec, project: PreparedProject, live: Live, inbox: Inbox, token: str) -> int:
        """Write the run directory and start the server; the launch time (monotonic ns)."""
        shutil.copyfile(WRAPPER_SOURCE, live.run_dir / f"{WRAPPER_MODULE}.py")
        shutil.copyfile(PHASES_SOURCE, live.run_dir / f"{PHASES_MODULE}.py")
        for name, source in live.server.run_files().items():
            shutil.copyfile(source, live.run_dir / name)
        port = free_port()
        snapshot = snapshot_path(run, live)
        objects_probe = {"PREFORK_LAB_OBJECTS": str(snapshot)} if snapshot else {}
        if snapshot:
            shutil.copyfile(SNAPSHOT_SOURCE, live.run_dir / f"{SNAPSHOT_MODULE}.py")
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
        self, run: RunSpec, project: PreparedProject, live: Live, inbox: Inbox, m: Measurement
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
