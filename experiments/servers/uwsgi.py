"""uWSGI: the app is loaded in the master unless ``--lazy-apps``; readiness from uwsgidecorators' post-fork hook."""

from __future__ import annotations

from pathlib import Path

from experiments.modes import get_mode
from experiments.plan import RunSpec
from experiments.servers.base import Launch, Server

ENTRY_MODULE = "prefork_lab_uwsgi"
ENTRY_SOURCE = Path(__file__).with_name("uwsgi_entry.py")


class Uwsgi(Server):
    name = "uwsgi"
    program = "uwsgi"
    install_hint = "pip install uWSGI"
    minimum_version = (2, 0, 20)
    log_noise = ("*** WARNING: you are running uWSGI as root", "uWSGI running as root")

    def run_files(self) -> dict[str, Path]:
        return {f"{ENTRY_MODULE}.py": ENTRY_SOURCE}

    def command(self, run: RunSpec, launch: Launch) -> list[str]:
        command = [
            self.executable,
            "--strict",
            "--master",
            "--processes",
            str(run.workers),
            "--http-socket",
            f"127.0.0.1:{launch.port}",
            "--module",
            ENTRY_MODULE,
            "--pythonpath",
            str(launch.run_dir),
            "--pythonpath",
            str(launch.project_root),
            "--chdir",
            str(launch.project_root),
            "--home",
            self.prefix,
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
        if run.server.threads > 1:
            command += ["--threads", str(run.server.threads)]
        command += recycling_options(run)
        if not get_mode(run.mode).preload:
            command.append("--lazy-apps")
        return command

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        # uWSGI reads any UWSGI_<OPTION> variable as an option: a user's shell must not change what we measure.
        return {key: value for key, value in base.items() if not key.startswith("UWSGI_")}


def recycling_options(run: RunSpec) -> list[str]:
    """uWSGI's recycling options. Its jitter is deterministic: worker i recycles after max-requests + (i - 1) ×
    delta, so the delta spreads ``max_requests_jitter`` over the workers. uWSGI's own min-worker-lifetime (10 s
    by default) is kept unless the sweep sets it: a worker that reaches max-requests sooner serves on until then,
    as it would in production (where a day's traffic is not compressed into minutes)."""
    recycling = run.server.recycling
    options = []
    if recycling.max_requests:
        options += ["--max-requests", str(recycling.max_requests)]
        if recycling.max_requests_jitter and run.workers > 1:
            delta = recycling.max_requests_jitter // (run.workers - 1)
            options += ["--max-requests-delta", str(delta)]
    if recycling.reload_on_rss:
        options += ["--reload-on-rss", str(recycling.reload_on_rss)]
    if recycling.max_worker_lifetime:
        options += ["--max-worker-lifetime", str(recycling.max_worker_lifetime)]
    if recycling.min_worker_lifetime is not None:
        options += ["--min-worker-lifetime", str(recycling.min_worker_lifetime)]
    return options
