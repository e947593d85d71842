"""gunicorn's configuration file of ours (``-c prefork_lab_gunicorn.py``), copied into each run directory.

Passing our own file keeps a project's ``gunicorn.conf.py`` out of the measurement. Settings are on the command
line; this file holds the server hooks that tell the wrapper when a worker was forked and when it is about to
accept, and tell the runner when a worker exits. Standalone: standard library and the wrapper only; the wrapper
has no import side effect, so importing it here (in the master) loads nothing of the project.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import prefork_lab_wrapper as wrapper  # noqa: E402


def post_fork(server, worker):
    wrapper.worker_forked()


def post_worker_init(worker):
    wrapper.worker_ready()


def worker_exit(server, worker):
    wrapper.worker_retiring()


def child_exit(server, worker):
    wrapper.notify("exited", worker.pid, time.monotonic_ns(), getattr(worker, "exitcode", ""))
