"""Processes and signals, for the generator and the runner alike: children that die with us, signals held back
while something must not be cut in half, and whether a process still exists.

A child killed with its parent stops writing at once: a database nobody will use, bytecode, an inspection.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Callable

# Ctrl-C, SIGTERM, SIGHUP, and SIGUSR2: a cluster job's warning that its time limit is near.
HELD_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR2})

PR_SET_PDEATHSIG = 1

try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess``: the child gets SIGKILL when this process dies, even by SIGKILL;
    one orphaned before it could ask dies at once. The child stays in our process group (Ctrl-C reaches it)."""
    parent = os.getpid()

    def setup() -> None:
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return setup


@contextlib.contextmanager
def signals_held():
    """Hold Ctrl-C, SIGTERM and their kin back (a process being started, a tree being put in place): no
    interruption can land between two steps that must happen together. They are delivered on exit."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def release_held_signals() -> None:
    """In a child before exec: a signal mask survives exec, so undo what ``signals_held`` blocked."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD_SIGNALS)


def exists(pid: int) -> bool:
    """True while a process ``pid`` exists (a zombie included): its files are still its own."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
