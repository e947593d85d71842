"""granian (WSGI interface): lazy only. Its main process never imports the app; each worker imports our target.

granian starts its workers with Python's multiprocessing in the interpreter's default start method: fork on
Linux up to Python 3.13, so a worker shares the main process's interpreter and granian's own modules but no
part of the app; spawn from Python 3.14 on (granian 2.6+), so it shares nothing. Either way "lazy" means what
it means under uWSGI's ``--lazy-apps`` and gunicorn without ``--preload``, and only lazy against lazy compares.

Each worker listens on a socket of its own (SO_REUSEPORT; the main process binds the port and never listens):
the kernel hands each connection to one worker, busy or not. Hence readiness once the worker listens (see the
adapter) and steady-state control requests that hold no worker (``shared_listener``). The target is the adapter
file in the run directory, so granian puts that directory first on the python path; ``--working-dir`` puts the
project root after it. Failed workers are not respawned (the run fails), nothing reloads, ``GRANIAN_*``
variables are removed (and a Rust backtrace, which would bury an error in frames).
"""

from __future__ import annotations

from pathlib import Path

from experiments.plan import RunSpec
from experiments.servers.base import Launch, Server

ENTRY_FILE = "prefork_lab_granian.py"
ENTRY_SOURCE = Path(__file__).with_name("granian_entry.py")
RUST_BACKTRACE_VARIABLES = ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE")


class Granian(Server):
    name = "granian"
    program = "granian"
    install_hint = "pip install 'granian>=2.4'"
    minimum_version = (2, 4)  # --working-dir
    shared_listener = False

    def run_files(self) -> dict[str, Path]:
        return {ENTRY_FILE: ENTRY_SOURCE}

    def command(self, run: RunSpec, launch: Launch) -> list[str]:
        threads = str(run.server.threads)
        return [
            self.executable,
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(launch.port),
            "--http",
            "1",
            "--no-ws",
            "--workers",
            str(run.workers),
            "--blocking-threads",
            threads,
            # At most one connection per thread at a time, as a uWSGI or gunicorn worker takes: the rest wait
            # in the kernel's queue, not in granian's.
            "--backpressure",
            threads,
            "--no-respawn-failed-workers",
            "--no-reload",
            "--working-dir",
            str(launch.project_root),
            f"{launch.run_dir / ENTRY_FILE}:application",
        ]

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        # granian reads GRANIAN_<OPTION> variables as options: a user's shell must not change what we measure.
        # With a Rust backtrace an error (a port in use) ends its log in frames, past the tail we keep.
        return {
            key: value
            for key, value in base.items()
            if not key.startswith("GRANIAN_") and key not in RUST_BACKTRACE_VARIABLES
        }
