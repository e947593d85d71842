"""What ``advise`` measures: the validated request, and the two sweeps it runs through the lab's runner.

1. The steady plan: every mode the server offers (or ``--modes``) × a few worker counts (1, 2, 4) × repetitions
   (≥ 3, for intervals), each run to steady state (a full collection in every worker): the shared floor, the
   private memory per extra worker, start-up, first query.
2. The lifecycle window: per mode, one run of long traffic (``--lifecycle-requests`` per worker, memory sampled
   twenty times) at the largest worker count: how fast a worker grows, hence ``max_requests``.

Both are ordinary sweeps (the YAML a user could write; kept beside the results) written to one CSV, so that a
second ``advise`` resumes where an interrupted one stopped and ``analyze-results`` reads it like any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from experiments.errors import ExperimentError
from experiments.modes import MODE_NAMES, get_mode
from experiments.sweep import Sweep, parse_sweep

STEADY = "advise"
LIFECYCLE = "advise-lifecycle"
CSV_NAME = "advise.csv"
SAMPLES = 20  # memory readings per worker over the lifecycle window
MIN_REPETITIONS = 3
_UNITS = {
    "": None,
    "k": 1 / 1024,
    "kib": 1 / 1024,
    "kb": 1e3 / 2**20,
    "m": 1.0,
    "mib": 1.0,
    "mb": 1e6 / 2**20,
    "g": 1024.0,
    "gib": 1024.0,
    "gb": 1e9 / 2**20,
    "t": 1024.0**2,
    "tib": 1024.0**2,
    "tb": 1e12 / 2**20,
}
MAX_MEMORY_MB = 64 * 1024.0**2  # 64 TiB


def parse_memory(text: str) -> float:
    """``4GiB``, ``512MiB``, ``4G`` (binary), ``4GB`` (decimal) → MiB, the lab's "MB" (kB of /proc ÷ 1024).

    ValueError naming what is wrong: a bare number is refused (MB or MiB? the unit must say).
    """
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text or "")
    if not found:
        raise ValueError(f"expected a size such as 4GiB or 512MiB, got {text!r}")
    unit = found.group(2).lower()
    if unit not in _UNITS:
        raise ValueError(f"unknown unit {found.group(2)!r}; use KiB, MiB, GiB or TiB (or kB, MB, GB, TB)")
    if _UNITS[unit] is None:
        raise ValueError(f"{text.strip()} has no unit; write e.g. {text.strip()}MiB or {text.strip()}GiB")
    megabytes = float(found.group(1)) * _UNITS[unit]
    if not 0 < megabytes <= MAX_MEMORY_MB:
        raise ValueError(f"must be more than 0 and at most 64 TiB, got {text.strip()}")
    return megabytes


@dataclass(frozen=True)
class Request:
    """``advise``'s options, checked (cli.py turns a bad one into ``Error: --option: …``)."""

    root: Path  # the project's directory: first on the path, the servers' working directory
    settings: str  # DJANGO_SETTINGS_MODULE
    name: str  # the project's label in the CSV, and the default output directory's name
    server: str
    memory_mb: float
    memory_text: str  # as given, for the answer
    cores: int
    urls: tuple[str, ...]
    output: Path
    allowed: tuple[tuple[str, tuple[int, ...]], ...] = ()  # URL -> statuses besides 2xx/3xx it may answer
    wsgi: str = ""  # "module:callable"; empty: the settings' WSGI_APPLICATION
    database_url: str = ""  # given to the project as DATABASE_URL
    python: str = ""  # the project's interpreter; empty: ours
    modes: tuple[str, ...] = MODE_NAMES
    workers: tuple[int, ...] = (1, 2, 4)  # the worker counts the fit is measured at
    repetitions: int = MIN_REPETITIONS
    requests: int = 20  # per worker in each steady run
    lifecycle_requests: int = 2000  # per worker in each lifecycle run; 0: no lifecycle window
    fresh: bool = False

    @property
    def csv(self) -> Path:
        return self.output / CSV_NAME

    def env(self) -> dict[str, str]:
        """The project's environment in the sweeps. DATABASE_URL stays out: it may hold a password, and the
        sweeps are written beside the results; the runs inherit it from advise's own environment."""
        return {"DJANGO_SETTINGS_MODULE": self.settings}


def _project_block(request: Request, wsgi: str) -> dict:
    block = {
        "path": str(request.root),
        "name": request.name,
        "env": request.env(),
        "urls": list(request.urls),
    }
    if wsgi:
        block["wsgi"] = wsgi
    if request.python:
        block["python"] = request.python
    return block


def _allowed(request: Request) -> dict:
    return (
        {"allowed_statuses": {url: list(codes) for url, codes in request.allowed}} if request.allowed else {}
    )


def steady_sweep_data(request: Request, wsgi: str = "") -> dict:
    return {
        "name": STEADY,
        "repetitions": request.repetitions,
        "project": _project_block(request, wsgi),
        "server": {"backend": request.server, "modes": list(request.modes), "workers": list(request.workers)},
        "traffic": {"requests_per_worker": request.requests, "steady_state": True, **_allowed(request)},
        # nothing here reads the loading phases: the timers stay out of what is measured
        "probes": {"phases": False},
        "output": str(request.csv),
    }


def lifecycle_sweep_data(request: Request, modes: tuple[str, ...], wsgi: str = "") -> dict | None:
    """None when there is no window (``--lifecycle-requests 0``) or no mode to run it for."""
    if not request.lifecycle_requests or not modes:
        return None
    return {
        "name": LIFECYCLE,
        "repetitions": 1,
        "warmup_runs": 0,  # the steady plan has just warmed the file cache; a warm-up here would be a whole run
        "project": _project_block(request, wsgi),
        "server": {"backend": request.server, "modes": list(modes), "workers": max(request.workers)},
        "traffic": {
            "requests_per_worker": request.lifecycle_requests,
            "sample_every": max(1, request.lifecycle_requests // SAMPLES),
            "steady_state": True,
            **_allowed(request),
        },
        "probes": {"phases": False},
        "output": str(request.csv),
    }


def as_sweep(data: dict, directory: Path) -> Sweep:
    """The Sweep the lab's runner takes, validated as a sweep file would be; ExperimentError naming the key."""
    text = yaml.safe_dump(data, sort_keys=False)
    return parse_sweep(text, base_dir=directory, default_name=data["name"])


def write_sweep_file(data: dict, directory: Path) -> Path:
    """The sweep as a file beside the results: ``run-experiments`` can re-run it as it stands."""
    path = directory / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def check_modes(names: list[str], server: str) -> tuple[str, ...]:
    """Modes named by ``--modes``, in the lab's order; ExperimentError for an unknown one or a lazy-only
    server's preloading one."""
    from experiments.servers import supports_preload

    for name in names:
        if name not in MODE_NAMES:
            raise ExperimentError(f"--modes: unknown mode {name!r}; choose from {', '.join(MODE_NAMES)}")
        if get_mode(name).preload and not supports_preload(server):
            raise ExperimentError(f"--modes: {server} cannot run {name}")
    if len(set(names)) < len(names):
        raise ExperimentError("--modes: a mode is named twice")
    return tuple(mode for mode in MODE_NAMES if mode in names)


def plan_lines(request: Request, cores_here: int) -> list[str]:
    """What ``--dry-run`` prints: the runs, their traffic, the verification, the files, an estimate."""
    from experiments.plan import estimate_s, make_plan
    from experiments.progress import format_duration

    steady_plan = make_plan(as_sweep(steady_sweep_data(request, request.wsgi), request.output))
    cycle_data = lifecycle_sweep_data(request, request.modes, request.wsgi)
    seconds = estimate_s(steady_plan, cores=cores_here)
    wsgi = request.wsgi or f"the WSGI_APPLICATION of {request.settings} (read when it runs)"
    lines = [
        f"advise {request.name}: {wsgi} under {request.server}, budget {request.memory_text}, "
        f"{request.cores} core{'s' if request.cores != 1 else ''}",
        f"steady plan: {len(steady_plan.runs)} runs = {len(request.modes)} modes ({', '.join(request.modes)}) × "
        f"workers {', '.join(map(str, request.workers))} × {request.repetitions} repetitions; "
        f"{request.requests} requests per worker over {', '.join(request.urls)}, then one full collection "
        "in every worker (steady state)",
    ]
    if cycle_data:
        cycle_plan = make_plan(as_sweep(cycle_data, request.output))
        seconds += estimate_s(cycle_plan, cores=cores_here)
        lines.append(
            f"lifecycle window: {len(cycle_plan.runs)} runs, one per mode that passed, {max(request.workers)} "
            f"workers × {request.lifecycle_requests:,} requests each, memory read every "
            f"{cycle_data['traffic']['sample_every']} requests per worker (growth → max_requests)"
        )
    else:
        lines.append(
            "lifecycle window: none (--lifecycle-requests 0): no growth measured, recycling left off"
        )
    lines += [
        "then: the recommended mode's files, started under the real server (not the lab's wrapper) with the "
        "workers that fit, measured the same way: predicted against measured, a difference above 10 % fails",
        f"output: {request.output}/ ({CSV_NAME}, report.md, memory.png, the configuration files)",
        f"estimated time: {format_duration(seconds)} (the project's size is read when it runs)",
    ]
    return lines
