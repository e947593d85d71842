"""Child processes that die with us: a parent-death signal, asked for in the child before exec.

A child killed with its parent stops writing at once: a database nobody will use, bytecode, an inspection.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

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
