"""Options of ``gen-project``: validated once, then frozen. Everything downstream is a pure function of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from generator.errors import OptionError

PROFILES = ("minimal", "realistic", "startup-heavy", "request-heavy")

# Knobs that act after a pre-fork server has forked; 0 (their default in `realistic`) writes nothing for them.
POST_FORK_DEFAULTS = {
    "view_touch_share": 0.0,
    "worker_init_work": 0,
    "request_growth_kb": 0.0,
    "request_cache_kb": 0,
    "request_objects": 0,
    "library_objects": 0,
}

# How a view's first visit and the URLconf load: off in every profile (a view's first visit compiles its templates,
# the URLconf loads on the first request); `--like` turns them on where the real project does.
FIRST_VISIT_DEFAULTS = {"first_request_work": 0, "view_first_work": 0, "urlconf_at_load": False}

# Options added after the first sweeps, with the default at which they write the project as before: a run id
# counts them only away from it (experiments/sweep/spec.py).
ADDED_LATER_DEFAULTS = {**POST_FORK_DEFAULTS, **FIRST_VISIT_DEFAULTS}

# Per-profile defaults of the weight knobs. `realistic` is calibrated against real projects (results/calibration):
# its library weight lies between them. The presets are the `--like` twins of two of them (calibration/fit.py,
# results/calibration/fits/), so that with `realistic` they span the real projects by where the weight is loaded:
# `startup-heavy` is the django-oscar shop (82 % of its library imported at start-up and shared by fork, a light
# first request), `request-heavy` is pretix (the heaviest first request: 440,000 lines each lazy or prefork worker
# imports for itself). Their structure knobs are the twins' too: a preset at N models is that twin at N models (its apps
# one per 12 models, as in every profile).
PROFILE_DEFAULTS: dict[str, dict[str, float | int]] = {
    "minimal": {
        "fields_per_model": 3,
        "relations_per_model": 0.5,
        "loc_per_model": 0,
        "imports": 0,
        "library_loc": 0,
        "view_library_loc": 0,
        "library_work": 0.5,
        "view_library_work": 0.5,
        **POST_FORK_DEFAULTS,
        **FIRST_VISIT_DEFAULTS,
    },
    "realistic": {
        "fields_per_model": 14,
        "relations_per_model": 2.0,
        "loc_per_model": 150,
        "imports": 12,
        # The median of two real projects' start-up and first-request weight (oscar, pretix), which does not grow
        # with the model count; among the four of results/calibration/table.md it ranks 4 of 5, below pretix only.
        "library_loc": 370_000,
        "view_library_loc": 220_000,
        "library_work": 0.5,
        "view_library_work": 0.75,
        **POST_FORK_DEFAULTS,
        **FIRST_VISIT_DEFAULTS,
    },
    # The django-oscar 4.2 shop's twin (fitted at 81 models).
    "startup-heavy": {
        "fields_per_model": 5,
        "relations_per_model": 1.58,
        "loc_per_model": 0,
        "imports": 12,
        "library_loc": 61_316,
        "view_library_loc": 13_684,
        "library_work": 0.5,
        "view_library_work": 1.0,
        "view_touch_share": 0.612,
        "worker_init_work": 707,
        "request_growth_kb": 0.0,
        "request_cache_kb": 0,
        "request_objects": 0,
        "library_objects": 0,
        **FIRST_VISIT_DEFAULTS,
    },
    # pretix 2026.8's twin (fitted at 118 models).
    "request-heavy": {
        "fields_per_model": 8,
        "relations_per_model": 2.41,
        "loc_per_model": 0,
        "imports": 12,
        "library_loc": 647_895,
        "view_library_loc": 444_632,
        "library_work": 0.442,
        "view_library_work": 1.064,
        "view_touch_share": 0.0,
        "worker_init_work": 532,
        "request_growth_kb": 0.0,
        "request_cache_kb": 0,
        "request_objects": 0,
        "library_objects": 0,
        **FIRST_VISIT_DEFAULTS,
    },
}

MODELS_PER_APP = 12
# Upper bounds: beyond them a build exhausts memory or time rather than failing with a reason. 10,000 models
# take ~10 s without a database; SQLite's DDL cost grows with the square of the tables (3,000 models: ~60 s).
MAX_MODELS = 20_000
MAX_ROWS_PER_MODEL = 100_000
MAX_ROWS = 2_000_000  # rows in the whole database: the builder holds them all in memory before inserting
MAX_FIELDS_PER_MODEL = 200
MAX_LOC_PER_MODEL = 5000
MAX_LIBRARY_LOC = 2_000_000
MAX_WORKER_INIT_WORK = 1_000_000
MAX_LIBRARY_WORK = 4.0  # above 1, every component also validates references at import
MAX_REQUEST_GROWTH_KB = 100_000.0  # per 1,000 requests: 100 KB a request
MAX_REQUEST_CACHE_KB = 10_000_000  # 10 GB
MAX_REQUEST_OBJECTS = 1_000_000  # held at once by one request: about 100 MB
MAX_LIBRARY_OBJECTS = 5_000_000  # kept by the start-up library: about 500 MB
MAX_VIEW_FIRST_WORK = 100_000  # entries per view: about 8 s of a view's first visit


@dataclass(frozen=True)
class GenOptions:
    models: int
    apps: int
    profile: str
    seed: int
    rows_per_model: int
    fields_per_model: int
    relations_per_model: float
    loc_per_model: int
    imports: int
    # Lines of library code imported at start-up (by models) and on the first request (by views), whatever
    # the model count; and the share of each that does work at import (compiles a pattern): time per MB.
    library_loc: int
    view_library_loc: int
    library_work: float
    view_library_work: float
    # After a fork: the share of the start-up library each request uses (writing into what the master shared),
    # and the entries of per-process tables the first request in each process builds (no warm-up can move it).
    view_touch_share: float = 0.0
    worker_init_work: int = 0
    # Over long traffic: KB of objects each process keeps per 1,000 requests it serves, in a per-process cache
    # bounded at request_cache_kb (0: unbounded, a slow leak); past the bound, new entries evict the oldest.
    request_growth_kb: float = 0.0
    request_cache_kb: int = 0
    # Container objects each request holds until its response is returned (rows, forms, template contexts): what
    # sets how often a worker's collector runs, and so when it first reaches the objects its master shared.
    request_objects: int = 0
    # Containers the start-up library builds at import and keeps (spread over its modules): the long-lived
    # population a forked worker inherits, which sets how many objects must age before its next full collection.
    library_objects: int = 0
    # Entries the first request of a process lineage builds and keeps (tag libraries loaded, schemas built): a
    # prewarming master builds them before the fork, a lazy or prefork worker on its first request.
    first_request_work: int = 0
    # Entries each view builds on its first visit in a process and keeps (its templates compiled, its table and
    # filter classes built): a prewarming master builds them for the URLs it visits, and its workers inherit them.
    view_first_work: int = 0
    # Whether loading the app imports the root URLconf (views, forms, admin), as projects that resolve URLs in an
    # app's ready() do: the first request then no longer pays for it.
    urlconf_at_load: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def is_realistic(self) -> bool:
        """Whether the project has the full structure (admin, forms, services, templates): every profile but minimal."""
        return self.profile != "minimal"


OPTION_NAMES = tuple(f.name for f in fields(GenOptions))
# The weight knobs: every option but the size, the profile, the seed and the rows.
WEIGHT_NAMES = tuple(
    n for n in OPTION_NAMES if n not in ("models", "apps", "profile", "seed", "rows_per_model")
)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _whole(name: str, value, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise OptionError(_flag(name), f"expected a whole number, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise OptionError(_flag(name), f"expected a whole number, got {value!r}") from None
    if number < minimum:
        raise OptionError(_flag(name), f"must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise OptionError(_flag(name), f"must be at most {maximum}, got {number}")
    return number


def _fraction(name: str, value, *, minimum: float, maximum: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OptionError(_flag(name), f"expected a number, got {value!r}") from None
    if not minimum <= number <= maximum:
        raise OptionError(_flag(name), f"must be between {minimum} and {maximum}, got {number}")
    return number


def _switch(name: str, value) -> bool:
    """A yes/no option: a boolean, 0 or 1, or yes/no/true/false as text."""
    words = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
    if isinstance(value, bool):
        return value
    if isinstance(value, int | str) and str(value).strip().lower() in words:
        return words[str(value).strip().lower()]
    raise OptionError(_flag(name), f"expected yes or no, got {value!r}")


def _apps(apps, models: int) -> int:
    if apps is None:
        return max(1, round(models / MODELS_PER_APP))
    apps = _whole("apps", apps, minimum=1, maximum=MAX_MODELS)
    if apps > models:
        raise OptionError("--apps", f"cannot exceed --models ({apps} apps for {models} models)")
    return apps


def _rows(rows_per_model, models: int) -> int:
    rows_per_model = _whole("rows_per_model", rows_per_model, minimum=0, maximum=MAX_ROWS_PER_MODEL)
    if rows_per_model * models > MAX_ROWS:
        raise OptionError(
            "--rows-per-model",
            f"{rows_per_model} rows × {models} models = {rows_per_model * models} rows; at most {MAX_ROWS} in all",
        )
    return rows_per_model


def resolve_options(
    models,
    *,
    apps=None,
    profile: str = "realistic",
    seed=0,
    rows_per_model=20,
    **weights,
) -> GenOptions:
    """Validate raw option values (ints or strings) and fill profile defaults: ``weights`` are the weight knobs
    by name (``library_loc=…``), None or absent for the profile's default.

    Raises OptionError naming the offending option.
    """
    unknown = sorted(set(weights) - set(WEIGHT_NAMES))
    if unknown:
        raise TypeError(f"resolve_options() got unexpected options: {', '.join(unknown)}")
    models = _whole("models", models, minimum=1, maximum=MAX_MODELS)
    if profile not in PROFILES:
        raise OptionError("--profile", f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    apps = _apps(apps, models)
    rows_per_model = _rows(rows_per_model, models)
    defaults = PROFILE_DEFAULTS[profile]
    given = {name: weights.get(name) for name in WEIGHT_NAMES}
    filled = {name: defaults[name] if value is None else value for name, value in given.items()}
    return GenOptions(
        models=models,
        apps=apps,
        profile=profile,
        seed=_whole("seed", seed, minimum=0),
        rows_per_model=rows_per_model,
        **_checked_weights(filled),
    )


def _checked_weights(values: dict) -> dict:
    """The weight knobs (a profile's defaults filled in), each within its bounds, checked in this order."""
    from generator.imports import IMPORT_CATALOGUE

    checked = {
        "fields_per_model": _whole(
            "fields_per_model", values["fields_per_model"], minimum=1, maximum=MAX_FIELDS_PER_MODEL
        ),
        "relations_per_model": _fraction(
            "relations_per_model", values["relations_per_model"], minimum=0.0, maximum=20.0
        ),
        "loc_per_model": _whole(
            "loc_per_model", values["loc_per_model"], minimum=0, maximum=MAX_LOC_PER_MODEL
        ),
        "imports": _whole("imports", values["imports"], minimum=0, maximum=len(IMPORT_CATALOGUE)),
        "library_loc": _whole("library_loc", values["library_loc"], minimum=0, maximum=MAX_LIBRARY_LOC),
        "view_library_loc": _whole(
            "view_library_loc", values["view_library_loc"], minimum=0, maximum=MAX_LIBRARY_LOC
        ),
        "library_work": _fraction(
            "library_work", values["library_work"], minimum=0.0, maximum=MAX_LIBRARY_WORK
        ),
        "view_library_work": _fraction(
            "view_library_work", values["view_library_work"], minimum=0.0, maximum=MAX_LIBRARY_WORK
        ),
        "view_touch_share": _fraction(
            "view_touch_share", values["view_touch_share"], minimum=0.0, maximum=1.0
        ),
        "worker_init_work": _whole(
            "worker_init_work", values["worker_init_work"], minimum=0, maximum=MAX_WORKER_INIT_WORK
        ),
        "request_growth_kb": _fraction(
            "request_growth_kb", values["request_growth_kb"], minimum=0.0, maximum=MAX_REQUEST_GROWTH_KB
        ),
        "request_cache_kb": _whole(
            "request_cache_kb", values["request_cache_kb"], minimum=0, maximum=MAX_REQUEST_CACHE_KB
        ),
        "request_objects": _whole(
            "request_objects", values["request_objects"], minimum=0, maximum=MAX_REQUEST_OBJECTS
        ),
        "library_objects": _whole(
            "library_objects", values["library_objects"], minimum=0, maximum=MAX_LIBRARY_OBJECTS
        ),
        "first_request_work": _whole(
            "first_request_work", values["first_request_work"], minimum=0, maximum=MAX_WORKER_INIT_WORK
        ),
        "view_first_work": _whole(
            "view_first_work", values["view_first_work"], minimum=0, maximum=MAX_VIEW_FIRST_WORK
        ),
        "urlconf_at_load": _switch("urlconf_at_load", values["urlconf_at_load"]),
    }
    if checked["library_objects"] and not checked["library_loc"]:
        raise OptionError(
            "--library-objects", "needs --library-loc above 0: the start-up library's modules hold them"
        )
    return checked


def default_output(options: GenOptions, like: str | None = None) -> Path:
    if like:  # "like-oscarshop-m81-s0" for a directory or "like-pretix-m118-s0" for "pretix.settings"
        name = Path(like).name if "/" in like or Path(like).is_dir() else like.split(".")[0]
        return Path("generated") / f"like-{name}-m{options.models}-s{options.seed}"
    return Path("generated") / f"{options.profile}-m{options.models}-s{options.seed}"
