"""granian's target (``<run dir>/prefork_lab_granian.py:application``), copied into each run directory.

Standalone: standard library and the wrapper only. granian imports its target in each worker, never in the
main process, so the worker loads the app in line, as uWSGI's ``--lazy-apps`` entry does. Only then does the
worker open its own listening socket (SO_REUSEPORT; the main process binds the port but never listens): a
worker that reported ready at the end of this import could still refuse connections. So a thread of ours
waits until this process listens on the run's port, then warms up (lazy-warm) and reports ready; the runner
sends nothing before every worker is ready, so no request meets a worker that is not yet warm.
"""

import os
import threading
import time

import prefork_lab_wrapper as wrapper

LISTEN_TIMEOUT_S = 60.0
LISTEN_POLL_S = 0.001
TCP_LISTEN = "0A"

if wrapper.PRELOAD:
    raise SystemExit(f"granian has no preload: mode {wrapper.MODE} needs uwsgi or gunicorn")


def _socket_inodes():
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _listening(port):
    """True once this process holds a listening TCP socket on ``port``."""
    with open("/proc/self/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    ours = [row for row in rows if row[3] == TCP_LISTEN and int(row[1].rpartition(":")[2], 16) == port]
    return bool(ours) and not {row[9] for row in ours}.isdisjoint(_socket_inodes())


def _ready_when_listening(port):
    deadline = time.monotonic() + LISTEN_TIMEOUT_S
    while not _listening(port):
        if time.monotonic() > deadline:
            message = f"granian worker not listening on port {port} {LISTEN_TIMEOUT_S:g} s after loading"
            wrapper.notify("error", os.getpid(), time.monotonic_ns(), message)
            return
        time.sleep(LISTEN_POLL_S)
    wrapper.worker_ready()


wrapper.worker_forked()
# The runner starts granian's main process in a session of its own, so that process is the session leader.
# A worker that has another parent now was orphaned before its parent-death signal was set: nothing would
# kill it (granian's workers load our target a while after fork, a window uWSGI's and gunicorn's hooks do not
# leave open).
if os.getppid() != os.getsid(0):
    os._exit(1)
application = wrapper.create_app()
threading.Thread(
    target=_ready_when_listening,
    args=(int(wrapper.HOST.rpartition(":")[2]),),
    name="prefork-lab-ready",
    daemon=True,
).start()
