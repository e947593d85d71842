"""What a probe returns (generator/probe.py): the phases it timed, the project's structure, and per mode what
each forked child showed; with the figures derived from them (means over the children)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Phase:
    seconds: float
    rss_mb: float  # resident MB of the process after the step
    modules: int  # modules the step imported
    django_lines: int
    other_lines: int  # neither standard library nor Django: the project and its libraries
    status: int = 0  # HTTP status, for a request
    rss_before_mb: float = 0.0  # resident MB before the step
    full_collections: int = 0  # run by the collector during the step (read for a child's first request)

    @property
    def mb_added(self) -> float:
        return self.rss_mb - self.rss_before_mb


@dataclass(frozen=True)
class Structure:
    models: int  # every model, django.contrib's included
    own_models: int  # outside django.contrib: what `gen-project --models` counts
    apps: int  # every app config
    own_apps: int  # outside django.contrib and defining at least one model: what `--apps` counts
    fields_per_model: float  # own models: concrete fields other than relations and the primary key
    relations_per_model: float  # own models: foreign keys, one-to-ones and many-to-manys
    url_patterns: int
    wsgi_application: str = ""  # settings.WSGI_APPLICATION, e.g. "mysite.wsgi.application"
    database_vendor: str = ""  # of the default database: "sqlite", "postgresql", …
    conn_max_age: float | None = 0  # the default database's CONN_MAX_AGE (None: connections kept for ever)
    pool_size: int = 0  # Django's connection pool per process: 0 none, -1 psycopg's default size
    max_connections: int | None = None  # PostgreSQL's, when asked for (``database=True``) and reachable
    # App label -> its models, outside django.contrib: where the models sit, app by app.
    app_models: dict[str, int] = field(default_factory=dict)

    @property
    def wsgi(self) -> str:
        """WSGI_APPLICATION as a server names it: "mysite.wsgi:application"; empty when the settings name none."""
        module, _, attr = self.wsgi_application.rpartition(".")
        return f"{module}:{attr}" if module else ""


@dataclass(frozen=True)
class ChildProbe:
    pid: int
    first_request: Phase
    statuses: tuple[int, ...]  # one per URL, in order
    uss_served_mb: float  # after the URLs
    pss_served_mb: float
    uss_collected_mb: float  # after a full gc.collect()
    pss_collected_mb: float
    load: Phase | None = None  # lazy: the child loaded the app
    full_collections: int = 0  # run by the child's own collector while it served (before ours)
    uss_grown_mb: float | None = None  # after growth_requests more requests, when asked for
    growth_requests: int = 0
    grown_full_collections: int | None = None  # run by its own collector over those growth_requests
    young_collections: int | None = None  # of the youngest generation, while it served
    served: int = 0  # requests it served before the stages
    others_ms: float | None = None  # first visit of each URL after the first, mean
    urlconf_at_load: bool | None = None  # lazy: its load imported the root URLconf


@dataclass(frozen=True)
class ModeProbe:
    mode: str
    urls: tuple[str, ...]
    baseline_rss_mb: float  # the master's bare interpreter
    load: Phase  # where the app was loaded: the master, or (lazy) the first child
    children: tuple[ChildProbe, ...]
    warmup: Phase | None = None  # prewarm: the master's first request
    warmup_statuses: tuple[int, ...] = ()
    master_pss_served_mb: float | None = None
    warnings: tuple[str, ...] = ()
    inherited_objects: int | None = None  # in the oldest generation of the master when it forked
    # prewarm: the master's first visit of each URL after the first, mean
    warmup_others_ms: float | None = None
    # the master's load imported the root URLconf (lazy: the first child's)
    urlconf_at_load: bool | None = None

    @property
    def startup_mb(self) -> float:
        """Resident MB of the process that loaded the app, once loaded."""
        return self.load.rss_mb

    @property
    def first_request_ms(self) -> float | None:
        """Mean over the children of their first request."""
        return rounded_mean([c.first_request.seconds * 1000 for c in self.children])

    @property
    def first_request_mb(self) -> float | None:
        """Mean resident MB a child's first request added."""
        return rounded_mean([c.first_request.mb_added for c in self.children])

    @property
    def child_uss_served_mb(self) -> float | None:
        return rounded_mean([c.uss_served_mb for c in self.children])

    @property
    def child_uss_collected_mb(self) -> float | None:
        return rounded_mean([c.uss_collected_mb for c in self.children])

    @property
    def child_full_collections(self) -> float | None:
        return rounded_mean([c.full_collections for c in self.children])

    @property
    def child_first_full_collections(self) -> float | None:
        """Full collections a child's collector ran during its first request, mean: a full collection there
        costs that request the time of walking everything the process holds."""
        return rounded_mean([c.first_request.full_collections for c in self.children])

    @property
    def other_url_ms(self) -> float | None:
        """The first visit of each URL after the first in a cold process, mean: the prewarming master's warm-up,
        else the children's (None: one URL, or not read)."""
        if self.warmup_others_ms is not None:
            return self.warmup_others_ms
        return rounded_mean([c.others_ms for c in self.children if c.others_ms is not None])

    @property
    def child_young_per_request(self) -> float | None:
        """Collections of the youngest generation a child ran per request it served (None: not read)."""
        return rounded_mean(
            [
                c.young_collections / c.served
                for c in self.children
                if c.young_collections is not None and c.served
            ]
        )

    @property
    def child_growth_mb_per_1k(self) -> float | None:
        """MB of USS a child kept per 1,000 requests served after its full collection (None: not asked for)."""
        return rounded_mean(
            [
                (c.uss_grown_mb - c.uss_collected_mb) * 1000 / c.growth_requests
                for c in self.children
                if c.uss_grown_mb is not None and c.growth_requests
            ]
        )

    @property
    def child_gen2_per_1k(self) -> float | None:
        """Full collections a child's own collector ran per 1,000 requests served after ours (None: not asked
        for)."""
        return rounded_mean(
            [
                c.grown_full_collections * 1000 / c.growth_requests
                for c in self.children
                if c.grown_full_collections is not None and c.growth_requests
            ]
        )


@dataclass(frozen=True)
class ProbeResult:
    target: str
    structure: Structure
    modes: tuple[ModeProbe, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w for m in self.modes for w in m.warnings))

    @property
    def warned(self) -> bool:
        return bool(self.warnings)

    def mode(self, name: str) -> ModeProbe:
        return next(m for m in self.modes if m.mode == name)

    def as_dict(self) -> dict:
        return asdict(self)


def rounded_mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None
