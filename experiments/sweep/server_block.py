"""A sweep's ``server:`` block: server, modes, workers, threads and the rest, each list swept; recycling, refused
on a server that lacks a policy; preloading modes, refused on a lazy-only server."""

from __future__ import annotations

from typing import Any

from experiments.modes import MODE_NAMES as MODES
from experiments.modes import get_mode
from experiments.servers import DEFAULT_SERVER, RECYCLING_SERVERS, SERVER_NAMES, supports_preload
from experiments.sweep.checker import Checker
from experiments.sweep.keys import (
    DEFAULT_JITTER_SHARE,
    DEFAULT_MAX_FD,
    DEFAULT_TIMEOUT_S,
    DEFAULT_WORKERS,
    MAX_FD,
    MAX_RECYCLE_REQUESTS,
    MAX_RSS_MB,
    MAX_THREADS,
    MAX_TIMEOUT_S,
    MAX_WORKERS,
    SERVER_KEYS,
)
from experiments.sweep.spec import Recycling, ServerSpec


def server_settings(check: Checker, raw: Any) -> list[ServerSpec]:
    raw = {} if raw is None else check.mapping("server", raw)
    check.known("server", raw, SERVER_KEYS)

    def a_mode(key: str, value: Any) -> str:
        if value not in MODES:
            raise check.error(key, f"unknown mode {value!r}; choose from {', '.join(MODES)}")
        return value

    def a_backend(key: str, value: Any) -> str:
        if value not in SERVER_NAMES:
            raise check.error(key, f"unknown server {value!r}; choose from {', '.join(SERVER_NAMES)}")
        return value

    choices = {
        "backend": check.swept("server.backend", raw.get("backend", DEFAULT_SERVER), a_backend),
        "mode": check.swept("server.modes", raw.get("modes", list(MODES)), a_mode),
        "workers": check.swept(
            "server.workers",
            raw.get("workers", DEFAULT_WORKERS),
            lambda k, v: check.whole(k, v, 1, MAX_WORKERS),
        ),
        "timeout": check.swept("server.timeout", raw.get("timeout", DEFAULT_TIMEOUT_S), check.positive),
        "max_fd": check.swept(
            "server.max_fd", raw.get("max_fd", DEFAULT_MAX_FD), lambda k, v: check.whole(k, v, 64, MAX_FD)
        ),
        "threads": check.swept(
            "server.threads", raw.get("threads", 1), lambda k, v: check.whole(k, v, 1, MAX_THREADS)
        ),
    }
    _check_preload(check, choices["backend"], choices["mode"])
    choices["recycling"] = _recycling(check, raw, choices["backend"])
    choices["strict_fork"] = [check.flag("server.strict_fork", raw.get("strict_fork", False))]
    return [ServerSpec(**combo) for combo in check.product("server", choices)]


def _recycling(check: Checker, raw: dict, backends: list[str]) -> list[Recycling]:
    """Every recycling setting swept (a list of max_requests, say); refused on a server that lacks it."""

    def count(maximum: int):
        return lambda k, v: check.whole(k, v, 0, maximum)

    choices = {
        "max_requests": check.swept(
            "server.max_requests", raw.get("max_requests", 0), count(MAX_RECYCLE_REQUESTS)
        ),
        "reload_on_rss": check.swept("server.reload_on_rss", raw.get("reload_on_rss", 0), count(MAX_RSS_MB)),
        "max_worker_lifetime": check.swept(
            "server.max_worker_lifetime", raw.get("max_worker_lifetime", 0), count(int(MAX_TIMEOUT_S))
        ),
    }
    if "min_worker_lifetime" in raw:
        choices["min_worker_lifetime"] = check.swept(
            "server.min_worker_lifetime", raw["min_worker_lifetime"], count(int(MAX_TIMEOUT_S))
        )
    for name, values in choices.items():
        for backend in dict.fromkeys(backends):
            given = name in raw and raw[name] is not None
            if (
                any(values) or (name == "min_worker_lifetime" and given)
            ) and backend not in RECYCLING_SERVERS[name]:
                offered = " or ".join(RECYCLING_SERVERS[name])
                raise check.error(f"server.{name}", f"{backend} has no {name}; it needs {offered}")
    jitter_key = "server.max_requests_jitter"
    jitters = (
        check.swept(jitter_key, raw["max_requests_jitter"], count(MAX_RECYCLE_REQUESTS))
        if "max_requests_jitter" in raw
        else [None]
    )
    found = []
    for combo in check.product("server", {**choices, "max_requests_jitter": jitters}):
        jitter = combo["max_requests_jitter"]
        if jitter is None:
            jitter = int(combo["max_requests"] * DEFAULT_JITTER_SHARE)
        elif jitter and not combo["max_requests"]:
            raise check.error(jitter_key, "needs server.max_requests")
        found.append(Recycling(**{**combo, "max_requests_jitter": jitter}))
    return list(dict.fromkeys(found))


def _check_preload(check: Checker, backends: list[str], modes: list[str]) -> None:
    """A lazy-only server with a mode that loads the app before fork: refused, not skipped, so that a sweep
    never measures less than it says."""
    preloading = [mode for mode in dict.fromkeys(modes) if get_mode(mode).preload]
    for backend in dict.fromkeys(backends):
        if preloading and not supports_preload(backend):
            others = " or ".join(name for name in SERVER_NAMES if supports_preload(name))
            lazy = ", ".join(mode for mode in MODES if not get_mode(mode).preload)
            raise check.error(
                "server.modes",
                f"{backend} has no preload: {', '.join(preloading)} need {others} ({backend} runs {lazy})",
            )
