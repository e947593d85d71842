"""`gen-project --like`: choose options for a synthetic twin of an existing project.

The structure is copied from the inspection (models, apps, fields and relations per model, and whether loading
the app imports its URLconf). The weight is fitted
on what a pre-fork server's workers show: the real project is probed in every mode (generator/probe.py: lazy,
prefork, prewarm, workers that serve as many requests as the runner's do), then the twin is generated, compiled,
probed the same way and its knobs moved, one target each, until every target fits:

============================  =========================================================================
knob                          target it moves
============================  =========================================================================
``library_loc``               MB the start-up adds (the prefork master's load): weight shared by fork
``view_library_loc``          MB a cold first request adds (the prewarm master's warm-up): weight each
                              lazy or prefork worker loads for itself
``request_objects``           the collections of a prewarm worker's youngest generation per request: the
                              rhythm that decides when its first full collection comes
``library_objects``           the objects a prefork worker inherits in the oldest generation: how many
                              must age before its next full collection (once the start-up MB fit)
``view_touch_share``          a prewarm worker's private memory after serving: what it dirties of what
                              the master shared, beside what its own full collections make private
``library_work``              seconds of the start-up (the prefork master's load)
``view_first_work``           the first visit of each URL after the first, in the prewarm master's warm-up
                              (ms): what each view builds once, templates compiled, tables built
``view_library_work``         a prefork worker's first request (ms), once the views' first visits fit
``first_request_work``        the same where the views import no library of their own (a project that loads its
                              URLconf at start-up): what its first request builds once, movable by a warm-up
``worker_init_work``          a prewarm worker's first request (ms): what no warm-up in the master moves
``request_growth_kb``         the MB a lazy worker keeps per 1,000 requests once it has run a full
                              collection: how it grows over long traffic
============================  =========================================================================

Memory is deterministic, so it fits within ``FIT_TOLERANCE`` (or ``MB_ABSOLUTE``); seconds are noisy, so the real
ones are medians of ``REAL_INSPECTIONS`` probes, the twin's too once only seconds are left (and before a fit is
called done), and fit within ``TIME_TOLERANCE`` (or a few milliseconds). A knob moves only once the targets it
depends on fit (placement before what workers dirty, memory before time), along the slope measured between its
last two rounds (for memory, when no other knob moved; for seconds, when near the first guess), or the guess. Out
of rounds, the twin is the closest round probed. The other figures (lazy, prefork's private memory, memory after
a collection) follow from these and are recorded beside them.
"""

from __future__ import annotations

import compileall
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from generator.inspect_project import ModeFigures, ProjectProfile, Target, inspect_project
from generator.knobs import (
    FIT_TOLERANCE,
    KNOBS,
    MB_ABSOLUTE,
    TIME_TOLERANCE,
    Knob,
    close,
    median_modes,
    median_targets,
    targets,
)
from generator.options import MAX_FIELDS_PER_MODEL, WEIGHT_NAMES, GenOptions, resolve_options

# What gen-project, calibration/ and the tests import from here; the knobs and their targets are knobs.py.
__all__ = [
    "FIT_TOLERANCE",
    "GROWTH_REQUESTS",
    "KNOBS",
    "MB_ABSOLUTE",
    "PROBE_REQUESTS",
    "REAL_INSPECTIONS",
    "TIME_TOLERANCE",
    "Knob",
    "Twin",
    "fit_twin",
    "format_round",
    "format_targets",
    "inspect_generated",
    "scale_to",
    "targets",
]

FIT_ROUNDS = 10
REAL_INSPECTIONS = 3  # the real project's seconds are the median of this many probes
PROBE_REQUESTS = 21  # per worker, as the runner's: its first request and requests_per_worker (20) more
RUNNER_URLS = 8  # the URLs the runner serves a generated project over (experiments.sweep.DEFAULT_MAX_URLS)
GROWTH_REQUESTS = 2000  # per lazy worker, after its full collection: what it keeps of them is its growth
# The twin's own code beyond its models: business logic is part of what the library knobs fit, so none here.
TWIN_LOC_PER_MODEL = 0


@dataclass(frozen=True)
class FitRound:
    knobs: dict[str, float]
    figures: dict[str, float]  # the targets, as the twin measured them
    modes: tuple[ModeFigures, ...]


@dataclass(frozen=True)
class Twin:
    real: dict[str, float]  # the targets
    real_modes: tuple[ModeFigures, ...]
    options: GenOptions  # at the real project's size
    rounds: tuple[FitRound, ...]
    fitted_knobs: tuple[str, ...] = tuple(k.name for k in KNOBS)
    chosen: int = -1  # the round whose knobs the twin has: the closest one

    def misses(self) -> list[str]:
        """The targets of the fitted knobs that the chosen round did not fit."""
        last = self.rounds[self.chosen].figures
        return [
            k.target
            for k in KNOBS
            if k.name in self.fitted_knobs and not close(last[k.target], self.real[k.target], k)
        ]

    @property
    def fitted(self) -> bool:
        return not self.misses()

    def record(self) -> dict:
        """What the twin's manifest keeps of the fit."""
        return {
            "targets": self.real,
            "real_modes": [asdict(m) for m in self.real_modes],
            "fitted_options": self.options.as_dict(),
            "misses": self.misses(),
            "chosen_round": self.chosen % len(self.rounds),
            "rounds": [asdict(r) for r in self.rounds],
        }


def structure_options(real: ProjectProfile, *, seed: int = 0, rows_per_model: int = 20) -> GenOptions:
    """The twin before fitting: the real project's structure, no library weight, nothing after fork."""
    models = max(1, real.own_models)
    return resolve_options(
        models,
        apps=min(models, max(1, real.own_apps)),
        profile="realistic",
        seed=seed,
        rows_per_model=rows_per_model,
        fields_per_model=min(MAX_FIELDS_PER_MODEL, max(1, round(real.fields_per_model))),
        relations_per_model=round(min(20.0, real.relations_per_model), 2),
        loc_per_model=TWIN_LOC_PER_MODEL,
        library_loc=0,
        view_library_loc=0,
        library_work=0.5,
        view_library_work=0.5,
        view_touch_share=0.0,
        worker_init_work=0,
        request_growth_kb=0.0,
        request_cache_kb=0,
        request_objects=0,
        library_objects=0,
        first_request_work=0,
        view_first_work=0,
        # Copied, not fitted: where the project imports its URLconf decides what its first request pays for.
        urlconf_at_load=bool(real.mode("prefork").urlconf_at_load) if real.modes else False,
    )


class _KnobFit:
    """Moves one knob along the slope of its target, measured between its last two rounds when no other knob
    moved in between (the knobs act on each other's targets a little: tables take memory, touching takes time)."""

    def __init__(self, knob: Knob, target: float):
        self.knob, self.target = knob, target
        self.last: tuple[float, float, tuple] | None = None  # (value, measured, the other knobs)

    def fits(self, measured: float) -> bool:
        return close(measured, self.target, self.knob)

    def step(self, value: float, measured: float, options: GenOptions) -> float:
        knob = self.knob
        guess = knob.guess * (getattr(options, knob.needs) / 1000 if knob.needs else 1)
        slope = guess
        others = tuple(getattr(options, k.name) for k in KNOBS if k.name != knob.name)
        secant = 0.0
        if self.last is not None and abs(value - self.last[0]) > 1e-9:
            secant = (measured - self.last[1]) / (value - self.last[0])
        # Seconds are noisy, whatever else moved: a secant far from the guess is more likely noise than a slope.
        usable = guess / 4 <= secant <= guess * 4 if knob.timed else secant > 0 and self.last[2] == others
        if usable:
            slope = secant
        self.last = (value, measured, others)
        following = min(knob.maximum, max(0.0, value + (self.target - measured) / slope))
        return int(round(following)) if knob.whole else round(following, 3)


def inspect_generated(
    options: GenOptions,
    path: Path,
    *,
    database: Path | None = None,
    requests: int = PROBE_REQUESTS,
    probes: int = 1,
    growth_requests: int = 0,
    database_env: dict[str, str] | None = None,
) -> list[ProjectProfile]:
    """Generate ``options`` into ``path``, compile it and probe it ``probes`` times in every mode over the URLs the
    runner would choose. ``database`` is a db.sqlite3 built earlier for the same models (the library knobs leave
    them alone); without it the database is built. ``database_env`` (DATABASE_URL, DATABASE_CONN_MAX_AGE) runs
    the twin on another database, PostgreSQL as its project does: built when ``database`` is None, else reused."""
    from generator.api import choose_urls, generate_project

    url = (database_env or {}).get("DATABASE_URL")
    manifest = generate_project(options, path, build_db=database is None, force=True, database_url=url)
    if database is not None and url is None:
        shutil.copyfile(database, path / "db.sqlite3")
    compileall.compile_dir(str(path), quiet=2, workers=1)  # real projects are measured with their bytecode
    urls = choose_urls(list(manifest["urls"]), RUNNER_URLS)
    target = Target(path, "config.settings")
    return [
        inspect_project(
            target, env=database_env, urls=urls, requests=requests, growth_requests=growth_requests
        )
        for _ in range(probes)
    ]


def fit_twin(
    real: list[ProjectProfile],
    *,
    seed: int = 0,
    rows_per_model: int = 20,
    knobs: tuple[Knob, ...] = KNOBS,
    rounds: int = FIT_ROUNDS,
    progress: Callable[[FitRound], None] | None = None,
    start: dict[str, float] | None = None,
    database_env: dict[str, str] | None = None,
) -> Twin:
    """Generate, probe and adjust ``knobs`` until the twin shows what the ``real`` probes show (≤ ``rounds``
    rounds); the other knobs keep the structure's values. Growth is fitted only where the real probes read it.
    ``start``: the knobs' values to begin from (an earlier fit of the same project), instead of none.
    ``database_env``: the twin runs on that database (DATABASE_URL …), as its project runs on its own: a first
    connection to PostgreSQL costs a first request what one to SQLite does not."""
    if any(m.mode == "lazy" and m.growth_mb_per_1k is None for m in real[0].modes):
        knobs = tuple(k for k in knobs if k.name != "request_growth_kb")
    options = structure_options(real[0], seed=seed, rows_per_model=rows_per_model)
    options = replace(options, **{k.name: start[k.name] for k in knobs if k.name in (start or {})})
    wanted = median_targets(real)
    fits = {knob.name: _KnobFit(knob, wanted[knob.target]) for knob in knobs}
    done: list[FitRound] = []
    with tempfile.TemporaryDirectory(prefix="prefork-lab-twin-") as workdir:
        database, probes = None, 1
        for number in range(rounds):
            growth = GROWTH_REQUESTS if any(k.name == "request_growth_kb" for k in knobs) else 0
            profiles, database = _probe_round(
                options, Path(workdir), number, database, probes, growth, database_env
            )
            measured = median_targets(profiles)
            fit = FitRound(
                {k.name: getattr(options, k.name) for k in KNOBS}, measured, median_modes(profiles)
            )
            done.append(fit)
            if progress is not None:
                progress(fit)
            following = _next_options(options, fits, measured)
            if following == options:  # fitted, or pinned at a bound where no round can do better
                if probes == 1 and any(k.timed for k in knobs):
                    probes = (
                        REAL_INSPECTIONS  # one probe's seconds said so: confirm on medians, as the real ones
                    )
                    continue
                break
            # Once only seconds are left to fit, the twin's are medians too.
            moved = [k for k in knobs if getattr(following, k.name) != getattr(options, k.name)]
            probes = REAL_INSPECTIONS if all(k.timed for k in moved) else 1
            options = following
    # Out of rounds, noisy seconds may leave the last round worse than an earlier one: the twin is the closest probed.
    best = min(done, key=lambda fit: _distance(fit.figures, wanted, knobs))
    options = replace(options, **{name: best.knobs[name] for name in best.knobs})
    return Twin(
        wanted, median_modes(real), options, tuple(done), tuple(k.name for k in knobs), done.index(best)
    )


def _probe_round(
    options: GenOptions,
    workdir: Path,
    number: int,
    database: Path | None,
    probes: int,
    growth: int,
    database_env: dict[str, str] | None,
) -> tuple[list[ProjectProfile], Path]:
    """One round's twin generated and probed in ``workdir``, then removed; with the database every later round
    reuses (a copy of the first round's db.sqlite3, or the server database ``database_env`` names: built once)."""
    path = workdir / f"round-{number}"
    profiles = inspect_generated(
        options, path, database=database, probes=probes, growth_requests=growth, database_env=database_env
    )
    if database is None:
        kept = workdir / "db.sqlite3"
        on_server = "DATABASE_URL" in (database_env or {})
        database = kept if on_server else shutil.copyfile(path / "db.sqlite3", kept)
    shutil.rmtree(path)
    return profiles, database


def _distance(
    measured: dict[str, float], wanted: dict[str, float], knobs: tuple[Knob, ...]
) -> tuple[int, float]:
    """(targets missed, then the sum of relative differences beyond each target's absolute margin)."""
    misses = sum(not close(measured[k.target], wanted[k.target], k) for k in knobs)
    spread = sum(
        max(0.0, abs(measured[k.target] - wanted[k.target]) - k.absolute)
        / max(abs(wanted[k.target]), k.absolute)
        for k in knobs
    )
    return misses, spread


def _next_options(options: GenOptions, fits: dict[str, _KnobFit], measured: dict[str, float]) -> GenOptions:
    fitting = {fit.knob.target for fit in fits.values() if fit.fits(measured[fit.knob.target])}
    changes = {}
    for name, fit in fits.items():
        knob = fit.knob
        if knob.target in fitting or not all(t in fitting for t in knob.after):
            continue
        if knob.gate and not getattr(options, knob.gate):
            continue
        if knob.unless and getattr(options, knob.unless):
            continue
        changes[name] = fit.step(getattr(options, name), measured[knob.target], options)
    following = replace(options, **changes)
    # What an option holds goes with it (objects kept by the start-up library, when the library fits at 0 lines).
    unheld = {k.name: 0 for k in KNOBS if k.held_by and not getattr(following, k.held_by)}
    return replace(following, **unheld)


def scale_to(options: GenOptions, models: int) -> GenOptions:
    """The same kind of project with ``models`` models: apps in proportion; per-project weight unchanged."""
    apps = min(models, max(1, round(options.apps * models / options.models)))
    return resolve_options(
        models,
        apps=apps,
        profile=options.profile,
        seed=options.seed,
        rows_per_model=options.rows_per_model,
        **{name: getattr(options, name) for name in WEIGHT_NAMES},
    )


_UNITS = {
    "_mb_per_1k": "MB/1k",
    "_per_request": "/request",
    "_objects": "objects",
    "_mb": "MB",
    "_ms": "ms",
    "_s": "s",
}


def _shown(name: str, value: float) -> str:
    suffix, unit = next((s, u) for s, u in _UNITS.items() if name.endswith(s))
    label = name.removesuffix(suffix)
    if unit == "objects":
        return f"{label} {value:,.0f}"
    return f"{label} {value:.2f} {unit}" if unit in ("s", "MB/1k") else f"{label} {value:.1f} {unit}"


def _targets_once() -> list[str]:
    """Every knob's target, each once (two knobs may move one target)."""
    return list(dict.fromkeys(k.target for k in KNOBS))


def format_targets(real: dict[str, float]) -> list[str]:
    """The real project's targets, one line."""
    return ["  real: " + ", ".join(_shown(target, real[target]) for target in _targets_once())]


def format_round(fit: FitRound) -> list[str]:
    """One fitting round: the knobs, then what the twin showed."""
    knobs = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in fit.knobs.items())
    shown = ", ".join(_shown(target, fit.figures[target]) for target in _targets_once())
    return [f"  twin: {knobs}", f"     → {shown}"]
