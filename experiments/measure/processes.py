"""Processes we start and must stop: parent-death signals, deferred signals, the run's process group, reaping."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time

from generator.process import release_held_signals

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def become_subreaper() -> bool:
    """Adopt orphaned descendants (the workers of a killed master) so that we reap them, not init."""
    return _prctl is not None and _prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def child_setup() -> None:
    """In the forked child before exec: die with the runner (SIGKILL), even if it is SIGKILLed; and unblock
    the signals the runner held back (a signal mask survives exec)."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    release_held_signals()


def alive(pid: int) -> bool:
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
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.002)
