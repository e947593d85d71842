"""`gen-project --like`: choose options for a synthetic twin of an existing project.

The structure is copied from the inspection (models, apps, fields and relations per model). The weight is fitted:
the twin is generated (no database), compiled and inspected the same way as the real project, and the two library
knobs of each phase are moved: the lines (``--library-loc`` at start-up, ``--view-library-loc`` on the first
request) until the memory the phase adds is within ``FIT_TOLERANCE`` of the real project's, then the share of those
lines that work at import (``--library-work``, ``--view-library-work``) until the phase's seconds are within
``TIME_TOLERANCE``. Memory first because it is deterministic; seconds are noisy, so the real ones are a median.
"""

from __future__ import annotations

import compileall
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from generator.inspect_project import ProjectProfile, Target, inspect_project
from generator.options import MAX_FIELDS_PER_MODEL, MAX_LIBRARY_LOC, GenOptions, resolve_options

FIT_ROUNDS = 8
FIT_TOLERANCE = 0.05  # on memory, which is deterministic
TIME_TOLERANCE = 0.15  # on seconds, which are not
REAL_INSPECTIONS = 3  # the real project's seconds are the median of this many loads
# First guesses (measured on this generator); each round re-measures the slopes.
MB_PER_KLOC = 0.19
SECONDS_PER_WORKING_KLOC = 0.003  # what switching 1,000 library lines from idle to working adds
# The twin's own code beyond its models: business logic is part of what the library knobs fit, so none here.
TWIN_LOC_PER_MODEL = 0


@dataclass(frozen=True)
class Weight:
    """What one phase (start-up, or the first request) costs: memory added and seconds."""

    mb: float
    seconds: float


@dataclass(frozen=True)
class FitRound:
    library_loc: int
    view_library_loc: int
    library_work: float
    view_library_work: float
    setup: Weight
    first_request: Weight


@dataclass(frozen=True)
class Twin:
    real_setup: Weight
    real_first_request: Weight
    options: GenOptions  # at the real project's size
    rounds: tuple[FitRound, ...]

    @property
    def fitted(self) -> bool:
        last = self.rounds[-1]
        return _fits(last.setup, self.real_setup) and _fits(last.first_request, self.real_first_request)


def phase_weights(profile: ProjectProfile) -> tuple[Weight, Weight]:
    """(start-up, first request) of an inspected project."""
    return (
        Weight(profile.setup.rss_mb - profile.baseline_rss_mb, profile.setup.seconds),
        Weight(profile.first_request.rss_mb - profile.setup.rss_mb, profile.first_request.seconds),
    )


def median_weights(profiles: list[ProjectProfile]) -> tuple[Weight, Weight]:
    """Per phase: memory of the first load (it does not vary), median seconds over all loads."""
    weights = [phase_weights(p) for p in profiles]
    return tuple(
        Weight(weights[0][phase].mb, statistics.median(w[phase].seconds for w in weights)) for phase in (0, 1)
    )


def _close(value: float, target: float, tolerance: float, floor: float) -> bool:
    return abs(value - target) <= tolerance * max(target, floor)


def _fits(twin: Weight, real: Weight) -> bool:
    return _close(twin.mb, real.mb, FIT_TOLERANCE, 1.0) and _close(
        twin.seconds, real.seconds, TIME_TOLERANCE, 0.05
    )


def structure_options(real: ProjectProfile, *, seed: int = 0, rows_per_model: int = 20) -> GenOptions:
    """The twin before fitting: the real project's structure, no library weight."""
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
    )


def _secant(previous: tuple[float, float] | None, x: float, y: float, guess: float) -> float:
    """dy/dx between the last two rounds, or ``guess`` when they cannot tell."""
    if previous is not None and abs(x - previous[0]) > 1e-9:
        slope = (y - previous[1]) / (x - previous[0])
        if slope > 0:
            return slope
    return guess


class _PhaseFit:
    """Moves one phase's two knobs: lines until the memory fits, then the working share until the time fits."""

    def __init__(self, target: Weight):
        self.target = target
        self.last_loc: tuple[float, float] | None = None
        self.last_work: tuple[float, float] | None = None

    def step(self, loc: int, work: float, measured: Weight) -> tuple[int, float]:
        if not _close(measured.mb, self.target.mb, FIT_TOLERANCE, 1.0):
            slope = _secant(self.last_loc, loc, measured.mb, MB_PER_KLOC / 1000)
            self.last_loc, self.last_work = (loc, measured.mb), None
            new_loc = loc + (self.target.mb - measured.mb) / slope
            return int(min(MAX_LIBRARY_LOC, max(0, round(new_loc)))), work
        if loc and not _close(measured.seconds, self.target.seconds, TIME_TOLERANCE, 0.05):
            slope = _secant(self.last_work, work, measured.seconds, SECONDS_PER_WORKING_KLOC * loc / 1000)
            self.last_work = (work, measured.seconds)
            new_work = work + (self.target.seconds - measured.seconds) / slope
            return loc, round(min(1.0, max(0.0, new_work)), 3)
        return loc, work


def inspect_generated(options: GenOptions, path: Path) -> ProjectProfile:
    """Generate ``options`` into ``path`` (no database), compile it and inspect it with its home page as first request."""
    from generator.api import generate_project

    generate_project(options, path, build_db=False, force=True)
    compileall.compile_dir(str(path), quiet=2, workers=1)  # real projects are measured with their bytecode
    return inspect_project(Target(path, "config.settings"), url="/")


def fit_twin(
    real: list[ProjectProfile],
    *,
    seed: int = 0,
    rows_per_model: int = 20,
    progress: Callable[[FitRound], None] | None = None,
) -> Twin:
    """Generate, inspect and adjust until the twin weighs what the ``real`` loads weigh (≤ FIT_ROUNDS rounds)."""
    options = structure_options(real[0], seed=seed, rows_per_model=rows_per_model)
    real_setup, real_first = median_weights(real)
    setup_fit, first_fit = _PhaseFit(real_setup), _PhaseFit(real_first)
    rounds: list[FitRound] = []
    with tempfile.TemporaryDirectory(prefix="prefork-lab-twin-") as workdir:
        for _ in range(FIT_ROUNDS):
            setup, first = phase_weights(inspect_generated(options, Path(workdir) / "twin"))
            fit = FitRound(
                options.library_loc,
                options.view_library_loc,
                options.library_work,
                options.view_library_work,
                setup,
                first,
            )
            rounds.append(fit)
            if progress is not None:
                progress(fit)
            library_loc, library_work = setup_fit.step(options.library_loc, options.library_work, setup)
            view_loc, view_work = first_fit.step(options.view_library_loc, options.view_library_work, first)
            following = replace(
                options,
                library_loc=library_loc,
                library_work=library_work,
                view_library_loc=view_loc,
                view_library_work=view_work,
            )
            if following == options:  # fitted, or pinned at a bound where no round can do better
                break
            options = following
    return Twin(real_setup, real_first, options, tuple(rounds))


def scale_to(options: GenOptions, models: int) -> GenOptions:
    """The same kind of project with ``models`` models: apps in proportion; per-project weight unchanged."""
    apps = min(models, max(1, round(options.apps * models / options.models)))
    return resolve_options(
        models,
        apps=apps,
        profile=options.profile,
        seed=options.seed,
        rows_per_model=options.rows_per_model,
        fields_per_model=options.fields_per_model,
        relations_per_model=options.relations_per_model,
        loc_per_model=options.loc_per_model,
        imports=options.imports,
        library_loc=options.library_loc,
        view_library_loc=options.view_library_loc,
        library_work=options.library_work,
        view_library_work=options.view_library_work,
    )
