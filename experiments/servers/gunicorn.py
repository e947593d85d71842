"""gunicorn: the app is loaded in each worker unless ``--preload``; readiness from its server hooks.

Everything is on the command line except the hooks, which live in a config file of ours (``-c``): a project's
own ``gunicorn.conf.py`` and ``GUNICORN_CMD_ARGS`` stay out. Sync workers (gthread when ``threads`` > 1),
``--max-requests`` as the sweep says (0: never recycle) with its jitter, no control socket. gunicorn sleeps up to 0.1 s between forks (random): the executor
records the span from the first fork to the last as ``fork_span_ms``.
"""

from __future__ import annotations

import math
from pathlib import Path

from experiments.modes import get_mode
from experiments.plan import RunSpec
from experiments.servers.base import WRAPPER_MODULE, Launch, Server, version_tuple

CONFIG_FILE = "prefork_lab_gunicorn.py"
CONFIG_SOURCE = Path(__file__).with_name("gunicorn_config.py")
CONTROL_SOCKET_SINCE = (25, 1)  # gunicorn 25.1 opened a control socket by default
WORKER_TIMEOUT_MARGIN_S = 30


class Gunicorn(Server):
    name = "gunicorn"
    program = "gunicorn"
    install_hint = "pip install 'gunicorn>=22'"
    minimum_version = (22, 0)
    bind_errors = ("Address already in use", "Connection in use")

    def run_files(self) -> dict[str, Path]:
        return {CONFIG_FILE: CONFIG_SOURCE}

    def command(self, run: RunSpec, launch: Launch) -> list[str]:
        # A sync worker that takes longer than --timeout to boot or to answer is killed by the master: allow
        # for the slowest load and request the run itself allows.
        timeout = math.ceil(max(run.server.timeout, run.traffic.timeout)) + WORKER_TIMEOUT_MARGIN_S
        command = [
            self.executable,
            "--config",
            str(launch.run_dir / CONFIG_FILE),
            "--bind",
            f"127.0.0.1:{launch.port}",
            "--workers",
            str(run.workers),
            "--worker-class",
            "gthread" if run.server.threads > 1 else "sync",
            "--threads",
            str(run.server.threads),
            "--max-requests",
            str(run.server.recycling.max_requests),
            "--max-requests-jitter",
            str(run.server.recycling.max_requests_jitter),
            "--timeout",
            str(timeout),
            "--graceful-timeout",
            "1",
            "--chdir",
            str(launch.project_root),
            "--pythonpath",
            f"{launch.run_dir},{launch.project_root}",
            "--worker-tmp-dir",
            str(launch.run_dir),
            "--error-logfile",
            "-",
            "--log-level",
            "warning",
        ]
        if version_tuple(self.version) >= CONTROL_SOCKET_SINCE:
            command.append("--no-control-socket")
        if get_mode(run.mode).preload:
            command.append("--preload")
        command.append(f"{WRAPPER_MODULE}:create_app()")
        return command

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        return {key: value for key, value in base.items() if key != "GUNICORN_CMD_ARGS"}
