"""The plan of a sweep: projects × servers × repetitions, stable run ids, seeded order, resume.

Pure functions of the sweep (and of the run ids already finished): nothing here touches the disk or a process.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass

from experiments.hashing import short_hash
from experiments.modes import get_mode, warms
from experiments.servers import DEFAULT_SERVER
from experiments.sweep import ProbeSpec, ProjectSpec, ServerSpec, Sweep, TrafficSpec


@dataclass(frozen=True)
class RunSpec:
    sweep: str
    run_id: str
    repetition: int  # 1-based
    project: ProjectSpec
    server: ServerSpec
    traffic: TrafficSpec
    probes: ProbeSpec = ProbeSpec()

    @property
    def mode(self) -> str:
        return self.server.mode

    @property
    def workers(self) -> int:
        return self.server.workers

    def describe(self) -> str:
        server = "" if self.server.backend == DEFAULT_SERVER else f"{self.server.backend} "
        threads = f" threads={self.server.threads}" if self.server.threads != 1 else ""
        recycling = self.server.recycling
        recycles = f" recycling: {recycling.label()}" if recycling.active else ""
        python = self.project.interpreter
        on = f" python={python.label}" if python is not None else ""
        return (
            f"{server}{self.mode} {self.project.label}{on} workers={self.workers}{threads}{recycles} "
            f"rep={self.repetition}"
        )


@dataclass(frozen=True)
class Plan:
    runs: tuple[RunSpec, ...]  # every run of the sweep, in execution order
    todo: tuple[RunSpec, ...]  # the runs still to do, same order
    projects: tuple[ProjectSpec, ...]  # projects the runs to do need, in first-use order

    @property
    def done_count(self) -> int:
        return len(self.runs) - len(self.todo)


def run_id(
    project: ProjectSpec,
    server: ServerSpec,
    traffic: TrafficSpec,
    repetition: int,
    probes: ProbeSpec | None = None,
) -> str:
    """Stable id of one run: a hash of what is measured (not of timeouts, which only bound it).

    Server and traffic settings added after the first sweeps enter the hash only when they differ from their
    default, so a sweep written before them keeps its run ids (and resumes). So does the objects probe: its snapshot
    allocates in the master before fork, so a run with it is not the same measurement as one without.
    """
    identity = {
        "project": project.identity(),
        "mode": server.mode,
        "workers": server.workers,
        "max_fd": server.max_fd,
        "requests_per_worker": traffic.requests_per_worker,
        "urls": list(traffic.urls),
        "max_urls": traffic.max_urls,
        "repetition": repetition,
    }
    if server.backend != DEFAULT_SERVER:
        identity["backend"] = server.backend
    if server.threads != 1:
        identity["threads"] = server.threads
    if server.strict_fork:
        identity["strict_fork"] = True
    if server.recycling.active:
        identity["recycling"] = server.recycling.identity()
    if traffic.clients:
        identity["clients"] = traffic.clients
    if traffic.sample_every:
        identity["sample_every"] = traffic.sample_every
    if probes is not None and probes.objects:
        identity["objects"] = True
    return short_hash(identity)


def make_plan(sweep: Sweep, done: frozenset[str] | set[str] = frozenset()) -> Plan:
    """Every run in a seeded shuffled order; runs whose id is in ``done`` are left out of ``todo``."""
    runs = [
        RunSpec(
            sweep=sweep.name,
            run_id=run_id(project, server, sweep.traffic, repetition, sweep.probes),
            repetition=repetition,
            project=project,
            server=server,
            traffic=sweep.traffic,
            probes=sweep.probes,
        )
        for repetition in range(1, sweep.repetitions + 1)
        for project in sweep.projects
        for server in sweep.servers
    ]
    random.Random(sweep.seed).shuffle(runs)
    todo = tuple(run for run in runs if run.run_id not in done)
    projects = tuple(dict.fromkeys(run.project for run in todo))
    return Plan(runs=tuple(runs), todo=todo, projects=projects)


# --------------------------------------------------------------------------- time estimates
# A coarse model of this machine's kind (2 cores, realistic generated projects, uWSGI): the fallback of the
# estimates, which come from measured history where there is some (experiments/history.py). Refitted on the
# committed sweeps (scaling, seed-300, databases, servers-workers: 463 runs): actual ÷ model 0.88 in the median,
# 0.65–1.27 for eight runs in ten. The progress bar rescales it by the actual / estimated time of the runs done.

BASE_START_S = 0.3  # uWSGI + Django core
MASTER_IMPORT_S_PER_MODEL = 0.001  # django.setup() with the models, in the master
LAZY_IMPORT_S_PER_MODEL = 0.003  # the same in each lazy worker, several at a time on few cores
WARMUP_S_PER_MODEL = 0.003  # prewarm: the warm-up requests (URLconf, views, templates) in the master
FIRST_REQUEST_S_PER_MODEL = 0.004  # a cold worker's first request, rounds included
REQUEST_S = 0.003  # one warm request …
REQUEST_S_PER_MODEL = 0.00008  # … growing with the project
FORK_S = 0.05  # a preloaded master forks a replacement worker
SAMPLE_S_PER_PROCESS = 0.005  # traffic.sample_every: reading one process's memory and collections
STOP_S = 0.1
BUILD_S_PER_MODEL = 0.03  # generate + migrate + fill the DB, per model
# Library weight (gen-project's --library-loc at start-up, --view-library-loc on the first request), per 1,000
# lines imported by one process: fitted on 590,000-line projects at 300 models under uWSGI, 8 workers.
IMPORT_S_PER_KLOC = 0.004
BUILD_S_PER_KLOC = 0.02  # writing the library, and importing the start-up part to build the DB
ASSUMED_MODELS = 50  # existing projects, before they are looked at


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def estimate_run_s(run: RunSpec, cores: int | None = None) -> float:
    """The model's seconds for one run: start-up, cold first requests, the warm traffic (linear in the requests
    sent, with every recycled worker's start and the memory readings), stop."""
    cores = cores or _cores()
    models = (run.project.models or ASSUMED_MODELS) * (
        0.3 if run.project.options_dict.get("profile") == "minimal" else 1.0
    )
    waves = math.ceil(run.workers / cores)
    mode = get_mode(run.mode)
    options = run.project.options_dict
    startup_import = IMPORT_S_PER_KLOC * options.get("library_loc", 0) / 1000
    view_import = IMPORT_S_PER_KLOC * options.get("view_library_loc", 0) / 1000
    first_request = FIRST_REQUEST_S_PER_MODEL * models + view_import
    lazy_load = LAZY_IMPORT_S_PER_MODEL * models + startup_import  # one worker loading the app itself
    if mode.preload:
        startup = BASE_START_S + MASTER_IMPORT_S_PER_MODEL * models + startup_import
    else:
        startup = BASE_START_S + lazy_load * waves
    if mode.warm_before_fork:
        startup += WARMUP_S_PER_MODEL * models + view_import
    if mode.warm_after_fork:
        startup += first_request * waves
    first = 0.0 if warms(run.mode) else first_request * waves
    return startup + first + _traffic_s(run, models, cores, lazy_load, first_request) + STOP_S


def _traffic_s(run: RunSpec, models: float, cores: int, load: float, first_request: float) -> float:
    """The warm traffic: every request, the replacements of recycled workers, and the memory readings."""
    traffic = run.traffic
    requests = run.workers * (traffic.requests_per_worker + 2)
    seconds = (
        (REQUEST_S + REQUEST_S_PER_MODEL * models) * requests / min(cores, run.workers * run.server.threads)
    )
    recycling = run.server.recycling
    if recycling.max_requests:
        recycles = run.workers * traffic.requests_per_worker / recycling.max_requests
        mode = get_mode(run.mode)
        fresh = FORK_S if mode.preload else load
        seconds += recycles * (fresh + (0.0 if mode.warm_before_fork else first_request))
    if traffic.sample_every:
        readings = traffic.requests_per_worker / traffic.sample_every
        seconds += readings * (run.workers + 1) * SAMPLE_S_PER_PROCESS
    return seconds


def estimate_build_s(project: ProjectSpec) -> float:
    if project.kind != "generated":
        return 1.0
    options = project.options_dict
    rows = options.get("rows_per_model", 20)
    library_kloc = (options.get("library_loc", 0) + options.get("view_library_loc", 0)) / 1000
    return 1.0 + project.models * BUILD_S_PER_MODEL * (1 + rows / 200) + BUILD_S_PER_KLOC * library_kloc


def estimate_s(
    plan: Plan,
    built: set[str] | frozenset[str] = frozenset(),
    cores: int | None = None,
    warmup_runs: int = 1,
    *,
    run_s: Callable[[RunSpec], float] | None = None,
    build_s: Callable[[ProjectSpec], float] = estimate_build_s,
) -> float:
    """Seconds for the runs still to do, plus building the projects not in ``built`` (project keys).

    ``run_s`` and ``build_s`` estimate one run and one build (default: the model; experiments/history.py
    scales it by what this machine measured)."""
    if run_s is None:

        def run_s(run: RunSpec) -> float:
            return estimate_run_s(run, cores)

    unbuilt = {p.tree_key(): p for p in plan.projects if p.key() not in built}  # each tree once
    build = sum(build_s(p) for p in unbuilt.values())
    warmup = sum(run_s(next(r for r in plan.todo if r.project == p)) for p in plan.projects)
    return build + warmup * warmup_runs + sum(run_s(run) for run in plan.todo)
