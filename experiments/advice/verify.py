"""Start the project with exactly the files written, under the real server and without the lab's wrapper, and
measure it as the lab measures: the first query, warm traffic, then steady state, total PSS from /proc.

Nothing of the lab runs inside the server, so what the wrapper reports (readiness, each worker's full
collection) is found from outside:

- ready: the master has its workers and none of them has used CPU for a few polls (a worker still importing
  the app, or warming itself up, burns CPU);
- steady state: one full collection in every worker, asked for by SIGURG. A ``sitecustomize`` module of ours,
  put on PYTHONPATH for this start only, installs the handler at interpreter start-up (so every worker inherits
  it); it collects and appends the worker's pid to a file. gunicorn's sync workers run it at once; uWSGI's
  run Python only while serving, so requests follow until every worker has reported. SIGURG's default is to
  be ignored: a process without the handler is not harmed.

The server runs in its own process group with a parent-death signal, and is killed (the group, then every
worker known) whatever happens.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from experiments.advice.figures import Estimate
from experiments.measure.memory import cpu_seconds, read_tree
from experiments.measure.processes import child_setup, free_port, kill_group
from generator.process import signals_held

TOLERANCE = 0.10  # a prediction further off than this is a failure of the advice
# a first query of a few ms moves by a few ms with the scheduler: what no user notices is no failure either
FIRST_QUERY_SLACK_MS = 10.0
COLLECT_SIGNAL = signal.SIGURG
POLL_S = 0.1
QUIET_POLLS = 4  # polls without CPU used by master and workers: ready
COLLECT_ROUNDS = 60
SITECUSTOMIZE = '''"""django-prefork-lab advise: one full collection in this process on SIGURG (verification only)."""
import gc
import os
import signal


def _collect(_signum, _frame):
    gc.collect()
    handle = os.open(os.environ["PREFORK_ADVISE_COLLECTED"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(handle, f"{os.getpid()}\\n".encode())
    finally:
        os.close(handle)


signal.signal(signal.SIGURG, _collect)
'''


@dataclass(frozen=True)
class Verification:
    workers: int
    command: tuple[str, ...]
    predicted_mb: Estimate | None
    predicted_first_ms: Estimate | None
    first_range: tuple[float, float] | None  # lowest and highest first query of the plan
    measured_mb: float | None = None  # total PSS at steady state
    after_traffic_mb: float | None = None
    measured_first_ms: float | None = None
    error: str = ""

    @property
    def memory_difference(self) -> float | None:
        if self.measured_mb is None or not self.predicted_mb:
            return None
        return self.measured_mb / self.predicted_mb.value - 1

    @property
    def memory_ok(self) -> bool:
        difference = self.memory_difference
        return difference is not None and abs(difference) <= TOLERANCE

    @property
    def first_ok(self) -> bool:
        """Within the plan's own range of first queries, widened by the tolerance (or by what nobody notices)."""
        if self.measured_first_ms is None or self.first_range is None:
            return False
        low, high = self.first_range
        below = min(low / (1 + TOLERANCE), low - FIRST_QUERY_SLACK_MS)
        above = max(high * (1 + TOLERANCE), high + FIRST_QUERY_SLACK_MS)
        return below <= self.measured_first_ms <= above

    @property
    def ok(self) -> bool:
        return not self.error and self.memory_ok and self.first_ok


class VerifyFailed(Exception):
    pass


@dataclass(frozen=True)
class Traffic:
    """What the verification sends, as the plan's runs sent it."""

    urls: tuple[str, ...]
    requests: int  # per worker
    allowed: tuple[tuple[str, tuple[int, ...]], ...] = ()  # URL -> statuses besides 2xx/3xx


def server_command(server, config: Path, port: int) -> list[str]:
    """The server started on ``config`` as written; only the socket (and gunicorn's control socket, which
    would sit in $HOME) is the verification's."""
    if server.name == "gunicorn":
        from experiments.servers.base import version_tuple
        from experiments.servers.gunicorn import CONTROL_SOCKET_SINCE

        command = [server.executable, "--config", str(config), "--bind", f"127.0.0.1:{port}"]
        if version_tuple(server.version) >= CONTROL_SOCKET_SINCE:
            command.append("--no-control-socket")
        return command
    return [server.executable, "--ini", str(config), "--http-socket", f"127.0.0.1:{port}"]


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != b"Z":
            found.append(int(entry))
    return sorted(found)


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            return -1.0  # gone: not settled
    return total


def wait_ready(process: subprocess.Popen, workers: int, timeout: float) -> list[int]:
    """The worker pids once all are there and quiet; VerifyFailed if the server exits or never settles."""
    deadline = time.monotonic() + timeout
    quiet, last = 0, None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise VerifyFailed(f"the server exited with status {process.returncode} before it was ready")
        pids = children(process.pid)
        cpu = _cpu([process.pid, *pids]) if len(pids) == workers else None
        quiet = quiet + 1 if cpu is not None and cpu >= 0 and (pids, cpu) == last else 0
        if quiet >= QUIET_POLLS:
            return pids
        last = (pids, cpu)
        time.sleep(POLL_S)
    raise VerifyFailed(f"{len(children(process.pid))} of {workers} workers settled within {timeout:.0f} s")


def collect_everywhere(
    port: int, workers: list[int], done: Path, urls: list[str], timeout: float, allowed: dict
) -> None:
    """One full collection in every worker (see the module's docstring); VerifyFailed if one never reports."""
    from experiments.measure.traffic import TrafficError, concurrent

    for pid in workers:
        os.kill(pid, COLLECT_SIGNAL)

    def reported() -> set[int]:
        try:
            return {int(line) for line in done.read_text().split()}
        except FileNotFoundError:
            return set()

    for _ in range(5):  # gunicorn's idle workers collect at once
        if set(workers) <= reported():
            return
        time.sleep(POLL_S)
    for _ in range(COLLECT_ROUNDS):
        if set(workers) <= reported():
            return
        try:
            concurrent(port, [urls[0]] * len(workers), len(workers), timeout, allowed)
        except TrafficError as exc:
            raise VerifyFailed(f"while collecting: {exc}") from None
    if not set(workers) <= reported():
        raise VerifyFailed(f"{len(set(workers) & reported())} of {len(workers)} workers ran the collection")


def _measure(process, workers: int, port: int, traffic: Traffic, done: Path, ready_s: float):
    """(first query ms, PSS after traffic, PSS at steady state) of the running server."""
    urls, allowed = list(traffic.urls), dict(traffic.allowed)
    from experiments.measure.load import LoadGenerator
    from experiments.measure.traffic import TrafficError, get

    pids = wait_ready(process, workers, ready_s)
    try:
        first = get(port, urls[0], 30.0, allowed.get(urls[0], ())).ms
    except TrafficError as exc:
        raise VerifyFailed(f"first query: {exc}") from None
    load = LoadGenerator(port, urls, 30.0, allowed).run(traffic.requests * workers, workers)
    if load.failed:
        causes = ", ".join(f"{cause} ({n}×)" for cause, n in load.failures.items())
        raise VerifyFailed(f"{load.failed} warm requests failed: {causes}")
    after = read_tree(process.pid, pids).total_mb("pss")
    collect_everywhere(port, pids, done, urls, 30.0, allowed)
    if children(process.pid) != pids:
        raise VerifyFailed("a worker was replaced while it was measured")
    return first, after, read_tree(process.pid, pids).total_mb("pss")


def _environment(server, base: dict[str, str], probe_dir: Path, done: Path) -> dict[str, str]:
    env = server.environment({**os.environ, **base})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(probe_dir), env.get("PYTHONPATH", "")]))
    env["PREFORK_ADVISE_COLLECTED"] = str(done)
    return env


def _tail(log: Path, lines: int = 8) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())


def verify(
    server,
    config: Path,
    root: Path,
    env: dict[str, str],
    expect: Verification,
    traffic: Traffic,
    ready_s: float,
    log: Path,
) -> Verification:
    """Start ``config`` under ``server`` (a found experiments.servers Server), measure, stop; ``expect`` holds
    the workers and the predictions, the result adds what was measured (or the error)."""
    from dataclasses import replace

    port = free_port()
    command = server_command(server, config, port)
    process, workers, scratch = None, [], None
    try:
        scratch = Path(tempfile.mkdtemp(prefix="prefork-lab-advise-"))
        done = scratch / "collected"
        (scratch / "sitecustomize.py").write_text(SITECUSTOMIZE)
        with open(log, "wb") as output, signals_held():
            process = subprocess.Popen(
                command,
                cwd=root,
                env=_environment(server, env, scratch, done),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=child_setup,
            )
        workers = children(process.pid)
        first, after, steady = _measure(process, expect.workers, port, traffic, done, ready_s)
        return replace(
            expect,
            command=tuple(command),
            measured_first_ms=first,
            after_traffic_mb=after,
            measured_mb=steady,
        )
    except (VerifyFailed, OSError) as exc:
        tail = _tail(log)
        return replace(expect, command=tuple(command), error=f"{exc}" + (f" | log: {tail}" if tail else ""))
    finally:
        with signals_held():  # a SIGTERM now must not cut the clean-up short: it is raised once it is done
            if process is not None:
                workers = list(dict.fromkeys([*workers, *children(process.pid)]))
                kill_group(process, workers)
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
