"""Measure an existing Django project's shape and weight: what `gen-project --like` copies and fits.

The project is loaded by the probe (generator/probe.py) in child interpreters with its own directory first on the
path (never in this one: its settings would take over ours), once per mode, as a pre-fork server runs it. From the
prewarming master come the two phases: import the WSGI application (start-up), then serve the first URLs
in-process (the first request of a cold process); each costs seconds, resident MB, modules, and source lines of
non-standard-library code, split into Django and everything else. From every mode come what forked workers show
(``ModeFigures``): the load, a worker's first request, its private memory after serving and after a full
collection. The structure the generator can copy comes with it: models, apps, fields and relations per model, URL
patterns.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from generator.errors import GeneratorError
from generator.probe import (
    DEFAULT_CHILDREN,
    MODES,
    PROBE_TIMEOUT_S,
    ModeProbe,
    Phase,
    ProbeError,
    ProbeTarget,
    probe,
)

INSPECT_TIMEOUT_S = PROBE_TIMEOUT_S
_SETTINGS_IN_MANAGE = re.compile(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']""")


@dataclass(frozen=True)
class Target:
    """Where and how to load a project: its directory (first on the path) and its settings module."""

    root: Path
    settings_module: str


@dataclass(frozen=True)
class ModeFigures:
    """What one loading mode shows, as a pre-fork server's workers would: the targets of a twin's fit."""

    mode: str
    load_s: float  # loading the app: in the master, or (lazy) in a worker
    load_mb: float  # resident MB the load added to that process
    first_ms: float  # a worker's first request, mean over the workers
    first_mb: float  # resident MB it added
    uss_mb: float  # a worker's private memory after serving, mean
    uss_collected_mb: float  # after one full collection in it
    full_collections: float  # run by a worker's own collector while serving, mean
    growth_mb_per_1k: float | None = None  # USS a worker keeps per 1,000 more requests (when probed)
    # Full collections its own collector runs over those requests, per 1,000 (when probed).
    gen2_per_1k: float | None = None
    # Collections of the youngest generation per request a worker serves: how fast its objects age.
    young_per_request: float | None = None
    # In the oldest generation a worker inherits (lazy: a bare master's).
    inherited_objects: int | None = None
    # Full collections during a worker's first request, mean.
    first_full_collections: float | None = None
    # The first visit of each URL after the first in a cold process, mean ms (prewarm: the master's warm-up).
    other_url_ms: float | None = None
    # Whether loading the app imported the root URLconf: then a first request no longer pays for it.
    urlconf_at_load: bool | None = None

    @classmethod
    def of(cls, mode: ModeProbe) -> ModeFigures:
        return cls(
            mode=mode.mode,
            load_s=mode.load.seconds,
            load_mb=round(mode.load.mb_added, 2),
            first_ms=mode.first_request_ms,
            first_mb=mode.first_request_mb,
            uss_mb=mode.child_uss_served_mb,
            uss_collected_mb=mode.child_uss_collected_mb,
            full_collections=mode.child_full_collections,
            growth_mb_per_1k=mode.child_growth_mb_per_1k,
            gen2_per_1k=mode.child_gen2_per_1k,
            young_per_request=mode.child_young_per_request,
            inherited_objects=mode.inherited_objects,
            first_full_collections=mode.child_first_full_collections,
            other_url_ms=mode.other_url_ms,
            urlconf_at_load=mode.urlconf_at_load,
        )


@dataclass(frozen=True)
class ProjectProfile:
    settings_module: str
    models: int  # every model, django.contrib's included
    own_models: int  # outside django.contrib: what `--models` counts in a generated project
    apps: int  # every app config
    own_apps: int  # apps outside django.contrib that define at least one model: what `--apps` counts
    fields_per_model: float  # concrete fields other than relations and the primary key (own models)
    relations_per_model: float  # foreign keys, one-to-ones and many-to-manys (own models)
    url_patterns: int
    baseline_rss_mb: float  # the bare interpreter, before the project
    setup: Phase  # importing the WSGI application (django.setup(), app registry, admin autodiscovery)
    first_request: Phase  # then the first request: the URLconf (views, forms…), one view, its templates
    warnings: tuple[str, ...] = ()  # the first request loaded almost nothing, or a URL did not answer 2xx
    modes: tuple[ModeFigures, ...] = ()  # per mode probed with workers
    # App label -> its models, outside django.contrib: where the models sit, app by app.
    app_models: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def mode(self, name: str) -> ModeFigures:
        return next(m for m in self.modes if m.mode == name)

    @classmethod
    def from_dict(cls, data: dict) -> ProjectProfile:
        phases = {name: Phase(**data[name]) for name in ("setup", "first_request")}
        modes = tuple(ModeFigures(**m) for m in data.get("modes", ()))
        return cls(**{**data, **phases, "warnings": tuple(data.get("warnings", ())), "modes": modes})


def settings_in_manage(manage: Path) -> str:
    """The settings module ``manage.py`` names; empty when it is unreadable or names none."""
    try:
        found = _SETTINGS_IN_MANAGE.search(manage.read_text(errors="replace"))
    except OSError:
        return ""
    return found.group(1) if found else ""


def resolve_target(module_or_path: str, option: str = "--like") -> Target:
    """A project directory (its manage.py names the settings), or a settings module importable from here.

    Raises GeneratorError naming ``option`` when neither works.
    """
    path = Path(module_or_path).expanduser()
    if path.is_dir():
        manage = path / "manage.py"
        if not manage.is_file():
            raise GeneratorError(f"{option}: {path} has no manage.py; give the settings module instead")
        found = settings_in_manage(manage)
        if not found:
            raise GeneratorError(f"{option}: {manage} does not name DJANGO_SETTINGS_MODULE")
        return Target(root=path.resolve(), settings_module=found)
    if re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module_or_path):
        return Target(root=Path.cwd().resolve(), settings_module=module_or_path)
    raise GeneratorError(f"{option}: {module_or_path!r} is neither a project directory nor a settings module")


def inspect_project(
    target: Target,
    url: str = "/",
    env: dict[str, str] | None = None,
    urls: tuple[str, ...] = (),
    *,
    wsgi: str = "",
    python: str = "",
    children: int = DEFAULT_CHILDREN,
    requests: int = 0,
    growth_requests: int = 0,
) -> ProjectProfile:
    """Probe ``target`` in every mode with ``children`` workers each serving ``requests`` (at least the URLs once)
    and profile it: the first of ``urls`` (default ``url``) is the first request, the others are served after it.
    With no children only the prewarming master is probed (no ``modes``). GeneratorError (naming --like) when it
    does not load. ``growth_requests``: lazy workers then serve that many more after a full collection, and
    their growth is read (``ModeFigures.growth_mb_per_1k``) with the full collections their own collector ran
    meanwhile (``ModeFigures.gen2_per_1k``)."""
    environment = {**(env or {}), "DJANGO_SETTINGS_MODULE": target.settings_module}
    try:
        result = probe(
            ProbeTarget(target.root, tuple(environment.items()), wsgi, python),
            urls=tuple(urls) or (url,),
            modes=MODES if children else ("prewarm",),
            children=children,
            requests=requests,
            growth_requests=growth_requests,
            timeout=INSPECT_TIMEOUT_S,
        )
    except ProbeError as exc:
        raise GeneratorError(f"--like: {exc}") from None
    master, structure = result.mode("prewarm"), result.structure
    return ProjectProfile(
        settings_module=target.settings_module,
        models=structure.models,
        own_models=structure.own_models,
        apps=structure.apps,
        own_apps=structure.own_apps,
        fields_per_model=structure.fields_per_model,
        relations_per_model=structure.relations_per_model,
        url_patterns=structure.url_patterns,
        baseline_rss_mb=master.baseline_rss_mb,
        setup=master.load,
        first_request=master.warmup,
        warnings=result.warnings,
        modes=tuple(ModeFigures.of(mode) for mode in result.modes if mode.children),
        app_models=dict(structure.app_models),
    )
