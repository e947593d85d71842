"""A sweep's ``traffic:`` and ``probes:`` blocks: what the runner sends each server, and what it measures beyond
the figures themselves."""

from __future__ import annotations

from typing import Any

from experiments.sweep.checker import Checker
from experiments.sweep.keys import (
    DEFAULT_MAX_URLS,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_REQUESTS_PER_WORKER,
    MAX_CLIENTS,
    MAX_REQUESTS_PER_WORKER,
    MAX_URLS,
    PROBE_KEYS,
    TRAFFIC_KEYS,
)
from experiments.sweep.spec import ProbeSpec, TrafficSpec


def traffic_settings(check: Checker, raw: Any) -> TrafficSpec:
    raw = {} if raw is None else check.mapping("traffic", raw)
    check.known("traffic", raw, TRAFFIC_KEYS)
    return TrafficSpec(
        requests_per_worker=check.whole(
            "traffic.requests_per_worker",
            raw.get("requests_per_worker", DEFAULT_REQUESTS_PER_WORKER),
            0,
            MAX_REQUESTS_PER_WORKER,
        ),
        urls=check.url_list("traffic.urls", raw["urls"]) if "urls" in raw else (),
        max_urls=check.whole("traffic.max_urls", raw.get("max_urls", DEFAULT_MAX_URLS), 1, MAX_URLS),
        timeout=check.positive("traffic.timeout", raw.get("timeout", DEFAULT_REQUEST_TIMEOUT_S)),
        steady_state=check.flag("traffic.steady_state", raw.get("steady_state", True)),
        allowed_statuses=_allowed_statuses(check, raw.get("allowed_statuses", {})),
        clients=check.whole("traffic.clients", raw.get("clients", 0), 0, MAX_CLIENTS),
        sample_every=check.whole(
            "traffic.sample_every", raw.get("sample_every", 0), 0, MAX_REQUESTS_PER_WORKER
        ),
    )


def probe_settings(check: Checker, raw: Any) -> ProbeSpec:
    raw = {} if raw is None else check.mapping("probes", raw)
    check.known("probes", raw, PROBE_KEYS)
    return ProbeSpec(
        phases=check.flag("probes.phases", raw.get("phases", True)),
        objects=check.flag("probes.objects", raw.get("objects", False)),
    )


def _allowed_statuses(check: Checker, raw: Any) -> tuple[tuple[str, tuple[int, ...]], ...]:
    key = "traffic.allowed_statuses"
    raw = check.mapping(key, raw)
    allowed = []
    for url, statuses in raw.items():
        check.url_list(f"{key}.{url}", [url])
        statuses = statuses if isinstance(statuses, list) else [statuses]
        codes = []
        for index, status in enumerate(statuses):
            where = f"{key}.{url}[{index}]"
            if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
                raise check.error(where, f"expected an HTTP status (100-599), got {status!r}")
            codes.append(status)
        allowed.append((url, tuple(sorted(set(codes)))))
    return tuple(sorted(allowed))
