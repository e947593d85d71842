"""``advise`` end to end: check what can be checked before anything runs (``prepare``), then run the plan through
the lab's runner, recommend, write the files, verify them, and write the report (``advise``). Messages go
through ``say`` and ``progress``; the answer comes back as lines.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from experiments.advice.directory import OutputDirectory
from experiments.advice.plan import Request
from experiments.errors import ExperimentError

DATABASE_ENV = "DATABASE_URL"
PROBE_TIMEOUT_S = 600


@dataclass
class Prepared:
    request: Request
    server: object  # experiments.servers Server, its program found and version read
    structure: object  # generator.probe.Structure: the project, counted, and its settings
    wsgi: str
    directory: OutputDirectory
    saved_env: dict[str, str | None] = field(default_factory=dict)

    def restore(self) -> None:
        """advise's own environment as it was (DATABASE_URL is set for the project's processes to inherit)."""
        restore_environment(self.saved_env)


def restore_environment(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _find_server(request: Request):
    from experiments.servers.factory import get_server

    try:
        server = get_server(request.server, python=request.python or None)
        server.version  # noqa: B018 - raises when the program does not answer or is too old
    except ExperimentError as exc:
        raise ExperimentError(f"--server: {exc}") from None
    return server


def check_project(request: Request):
    """Load the project as a prewarming master does and GET every URL through it: (its Structure, with the
    settings' database; the WSGI application, "module:callable"). ExperimentError naming PROJECT, --wsgi or
    --url."""
    from generator.probe import ProbeError, ProbeTarget, count_structure, probe

    env = tuple(request.env().items())
    try:
        # without --wsgi, the settings name the module a server would import (and its import-time code runs)
        wsgi = request.wsgi or count_structure(ProbeTarget(request.root, env, "", request.python)).wsgi
        if not wsgi:
            raise ExperimentError(f"--wsgi: not given, and {request.settings} names no WSGI_APPLICATION")
        target = ProbeTarget(request.root, env, wsgi, request.python)
        result = probe(
            target, urls=request.urls, modes=("prewarm",), children=0, database=True, timeout=PROBE_TIMEOUT_S
        )
    except ProbeError as exc:
        raise ExperimentError(f"PROJECT: {exc}") from None
    statuses = result.mode("prewarm").warmup_statuses
    allowed = dict(request.allowed)
    for url, status in zip(request.urls, statuses, strict=False):
        if not 200 <= status < 400 and status not in allowed.get(url, ()):
            hint = " (is 127.0.0.1 in ALLOWED_HOSTS?)" if status == 400 else ""
            raise ExperimentError(
                f"--url: GET {url} answered {status}{hint}; every URL must answer 2xx or 3xx (an error page "
                f"measures nothing), or the statuses given with it ({url}={status} if it is one by design)"
            )
    return result.structure, wsgi


def prepare(request: Request) -> Prepared:
    """Everything that can refuse the request, before any run: the server, the output, the project, its URLs."""
    from experiments.runner import check_output

    server = _find_server(request)
    directory = OutputDirectory(request.output, request.csv)
    directory.check()
    check_output(request.csv, request.fresh, "--output")
    saved = {DATABASE_ENV: os.environ.get(DATABASE_ENV)}
    if request.database_url:
        os.environ[DATABASE_ENV] = request.database_url
    try:
        structure, wsgi = check_project(request)
    except BaseException:
        restore_environment(saved)
        raise
    return Prepared(request, server, structure, wsgi, directory, saved)


def _sweep(prepared: Prepared, data: dict, say, progress, fresh: bool):
    """One of the plan's sweeps through the lab's runner; its rows."""
    from experiments.advice.plan import as_sweep
    from experiments.launchers.local import LocalLauncher
    from experiments.measure.executor import ServerExecutor
    from experiments.runner import run_sweep

    request, server = prepared.request, prepared.server
    prepared.directory.write(f"{data['name']}.yaml", yaml.safe_dump(data, sort_keys=False))
    key = f"{request.server}@{request.python}" if request.python else request.server
    outcome = run_sweep(
        as_sweep(data, request.output),
        launcher=LocalLauncher(ServerExecutor({key: server})),
        output=request.csv,
        fresh=fresh,
        server_versions={key: server.version},
        say=say,
        progress=progress,
    )
    return outcome.rows


def measure(prepared: Prepared, say, progress):
    """The plan's two sweeps: (steady rows, lifecycle rows, timeline readings)."""
    from experiments.advice.plan import lifecycle_sweep_data, steady_sweep_data
    from experiments.export_timeline import TimelineCsv

    request = prepared.request
    say(f"steady plan: {len(request.modes)} modes × workers {request.workers} × {request.repetitions}")
    steady = _sweep(prepared, steady_sweep_data(request, prepared.wsgi), say, progress, request.fresh)
    passed = tuple(m for m in request.modes if all(r["status"] == "ok" for r in steady if r["mode"] == m))
    cycle_data = lifecycle_sweep_data(request, passed, prepared.wsgi)
    cycle = []
    if cycle_data:
        say(f"lifecycle window: {request.lifecycle_requests:,} requests per worker, {len(passed)} modes")
        cycle = _sweep(prepared, cycle_data, say, progress, fresh=False)
    return steady, cycle, TimelineCsv(request.csv).read_rows()


def advise(prepared: Prepared, say: Callable[[str], None], progress):
    from experiments.advice.answer import answer
    from experiments.advice.figures import mode_figures

    prepared.directory.create()
    steady, cycle, timeline = measure(prepared, say, progress)
    figures = mode_figures(steady, cycle, timeline)
    return answer(prepared, figures, say)
