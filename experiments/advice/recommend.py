"""Figures + a budget → the advice: the mode, the workers that fit, max_requests, database connections, and what
the project must change. Pure functions of their arguments; the rules are stated where they are applied.

Sizing a mode. Total memory at steady state is ``shared + N × private`` (the mode's fit, upper end of its 95 %
interval, so that the budget holds at that confidence), and each worker is allowed to grow by a recycling
headroom before the server replaces it: a quarter of its private memory, or more when it grows so fast that a
quarter would recycle it every few hundred requests. ``max_requests`` is then the requests after which a
worker growing at the upper end of its measured rate (jitter included) reaches that headroom, extrapolated no
further than ten times the lifecycle window that measured it. Workers are at most gunicorn's rule of thumb,
2 × cores + 1: more sync workers than that only queue for the CPU.

Choosing. A mode that failed a run is never chosen (its first reason is kept). Among the others: most workers
within the budget; then the lowest steady memory at that count; then the slowest growth under long traffic (a
worker that grows faster is recycled more often, and sits further above its steady state until it is); then the
fastest first query; then the fastest start-up. At each step a mode stays in when its interval overlaps the
best's (the measurement does not show a difference) or when it is within what nobody would notice (5 % of
memory; 5 % or 0.1 MB per 1,000 requests of growth; 5 % or 10 ms of a first query; 5 % or a quarter of a second
of a start-up); the first of the lab's modes left wins (lazy before prefork before prewarm …: fewer moving
parts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from experiments.advice.figures import Estimate, ModeFigures
from experiments.modes import get_mode, mode_rank, warms

HEADROOM_SHARE = 0.25  # of a worker's private memory at steady state
MIN_RECYCLE_REQUESTS = 200  # a faster-growing worker gets more headroom instead of being recycled sooner
EXTRAPOLATION = 10  # max_requests ≤ this × the lifecycle window's requests per worker
JITTER_SHARE = 0.05  # max_requests_jitter, as the lab's sweeps default it
UNNOTICED_SHARE = 0.05  # a difference this small decides nothing
UNNOTICED_GROWTH_MB_PER_1K = 0.1
UNNOTICED_FIRST_MS = 10.0
UNNOTICED_STARTUP_S = 0.25
CONNECTIONS_WARN_SHARE = 0.8  # of PostgreSQL's max_connections
COVERAGE_WARN = 0.9  # a warm-up that leaves more than 10 % of a cold first request
MIN_COLD_MS = 5.0  # a cold first request less slower than this than a warm one leaves nothing worth warming


@dataclass(frozen=True)
class Budget:
    memory_mb: float
    cores: int
    threads: int = 1  # per worker

    @property
    def cpu_workers(self) -> int:
        return 2 * self.cores + 1


@dataclass(frozen=True)
class Recycling:
    headroom_mb: float  # per worker, above its steady state
    max_requests: int  # 0: off
    jitter: int
    why: str  # what set max_requests


@dataclass(frozen=True)
class Sizing:
    """One mode under the budget."""

    mode: str
    recycling: Recycling
    memory_workers: int  # that fit the budget with their headroom (0: not even one)
    workers: int  # what to run: memory_workers, at most the cores' rule
    bound: str  # "memory" or "cores"
    total_mb: Estimate | None  # predicted steady total at ``workers`` (headroom aside)
    budgeted_mb: float  # upper end of that, plus every worker's headroom


def significant_digits(value: float, digits: int = 2) -> int:
    """``value`` rounded down to ``digits`` significant digits: 2,734 → 2,700."""
    if value < 1:
        return 0
    scale = 10 ** max(0, int(math.log10(value)) + 1 - digits)
    return int(value // scale * scale)


def recycling(worker_mb: float, growth: Estimate | None, window: int) -> Recycling:
    """The headroom of one worker and the ``max_requests`` that keeps it within it (see the module's rules)."""
    headroom = HEADROOM_SHARE * max(worker_mb, 0.0)
    if growth is None or window <= 0:
        return Recycling(headroom, 0, 0, "no lifecycle window measured its growth: recycling left off")
    ceiling = EXTRAPOLATION * window
    per_request = growth.high / 1000
    if per_request <= 0:
        why = (
            f"no growth measured over {window:,} requests per worker: recycled after {ceiling:,} as insurance"
        )
        return Recycling(headroom, ceiling, int(ceiling * JITTER_SHARE), why)
    headroom = max(headroom, per_request * MIN_RECYCLE_REQUESTS * (1 + JITTER_SHARE))
    reach = headroom / per_request / (1 + JITTER_SHARE)
    requests = min(ceiling, max(MIN_RECYCLE_REQUESTS, significant_digits(min(reach, 10 * ceiling))))
    lasts = f"{reach:,.0f} requests" if reach <= ceiling else f"over {ceiling:,} requests"
    why = (
        f"a worker grows {growth.value:.2f} MB per 1,000 requests (up to {growth.high:.2f}): "
        f"{headroom:.1f} MB of headroom lasts {lasts}"
        + (f"; capped at 10 × the {window:,} measured" if requests == ceiling else "")
    )
    return Recycling(headroom, requests, int(requests * JITTER_SHARE), why)


def workers_that_fit(figures: ModeFigures, budget_mb: float, headroom_mb: float, limit: int = 4096) -> int:
    """The most workers whose predicted total (upper end) plus their headroom stays within ``budget_mb``."""
    fit = figures.fit
    if fit is None:
        return 0
    fitting = 0
    for workers in range(1, limit + 1):
        if fit.predict(workers).high + workers * headroom_mb > budget_mb:
            break
        fitting = workers
    return fitting


def size(figures: ModeFigures, budget: Budget) -> Sizing:
    worker = figures.worker_mb.value if figures.worker_mb else 0.0
    plan = recycling(worker, figures.growth_mb_per_1k, figures.lifecycle_requests)
    memory = workers_that_fit(figures, budget.memory_mb, plan.headroom_mb)
    workers = min(memory, budget.cpu_workers)
    total = figures.fit.predict(workers) if figures.fit and workers else None
    budgeted = (total.high if total else 0.0) + workers * plan.headroom_mb
    bound = "cores" if budget.cpu_workers < memory else "memory"
    return Sizing(figures.mode, plan, memory, workers, bound, total, budgeted)


@dataclass(frozen=True)
class Recommendation:
    mode: str | None
    sizing: Sizing | None
    # what left one mode: "workers", "memory", "growth", "first query", "start-up"; "order" (nothing told the last ones
    # apart); "only" (no other mode ran without failure within the budget)
    decided_by: str
    tied: tuple[str, ...]  # modes the measurement could not tell from the chosen one on every criterion
    sizings: dict[str, Sizing]  # every mode that ran without failure
    rejected: tuple[tuple[str, str], ...]  # (mode, why it is not a candidate)


def _closest(
    pool: list[str], measure: Callable[[str], Estimate | None], lowest: bool = True, unnoticed: float = 0.0
) -> list[str]:
    """The modes of ``pool`` whose interval overlaps the best one's, or whose figure is within ``unnoticed``
    (or 5 %) of it; all of them when none was measured."""
    measured = {mode: e for mode in pool if (e := measure(mode)) is not None}
    if not measured:
        return pool
    best = (min if lowest else max)(measured.values(), key=lambda e: e.value)
    slack = max(unnoticed, UNNOTICED_SHARE * abs(best.value)) if lowest else 0.0
    return [
        mode
        for mode in pool
        if mode in measured
        and (measured[mode].overlaps(best) or abs(measured[mode].value - best.value) <= slack)
    ]


def _rejections(figures: Sequence[ModeFigures]) -> list[tuple[str, str]]:
    rejected = []
    for f in figures:
        if f.failed:
            rejected.append((f.mode, f"failed {f.failed} of {f.runs} runs: {f.errors[0]}"))
        elif f.lifecycle_failed:
            rejected.append((f.mode, f"failed under long traffic: {f.lifecycle_failed[0]}"))
        elif f.fit is None:
            rejected.append((f.mode, "too few worker counts measured to fit its memory"))
    return rejected


def recommend(figures: Sequence[ModeFigures], budget: Budget) -> Recommendation:
    rejected = _rejections(figures)
    out = {mode for mode, _ in rejected}
    by_mode = {f.mode: f for f in figures}
    sizings = {f.mode: size(f, budget) for f in figures if f.mode not in out}
    for mode, sizing in sizings.items():
        if sizing.workers == 0:
            need = by_mode[mode].fit.predict(1).high + sizing.recycling.headroom_mb
            rejected.append((mode, f"one worker needs {need:,.0f} MB, over the budget"))
    pool = sorted((m for m, s in sizings.items() if s.workers), key=mode_rank)
    if not pool:
        return Recommendation(None, None, "", (), sizings, tuple(rejected))
    if len(pool) == 1:
        return Recommendation(pool[0], sizings[pool[0]], "only", (), sizings, tuple(rejected))
    most = max(sizings[m].workers for m in pool)
    steps: list[tuple[str, Callable[[str], Estimate | None], float]] = [
        ("workers", lambda m: Estimate(sizings[m].workers, sizings[m].workers, sizings[m].workers, 1), 0.0),
        ("memory", lambda m: by_mode[m].fit.predict(most), 0.0),
        ("growth", lambda m: by_mode[m].growth_mb_per_1k, UNNOTICED_GROWTH_MB_PER_1K),
        ("first query", lambda m: by_mode[m].first_query_ms, UNNOTICED_FIRST_MS),
        ("start-up", lambda m: by_mode[m].startup_s, UNNOTICED_STARTUP_S),
    ]
    decided = "order"
    for name, measure, unnoticed in steps:
        pool = _closest(pool, measure, name != "workers", unnoticed)
        if len(pool) == 1:
            decided = name
            break
    chosen = pool[0]
    return Recommendation(chosen, sizings[chosen], decided, tuple(pool[1:]), sizings, tuple(rejected))


@dataclass(frozen=True)
class Connections:
    vendor: str
    per_worker: int | None  # None: a pool of psycopg's default size
    total: int | None
    max_connections: int | None  # PostgreSQL's, when read
    persistent: bool  # CONN_MAX_AGE > 0 or None: held between requests
    too_many: bool


def connections(
    workers: int, threads: int, vendor: str, pool_size: int, conn_max_age, max_connections: int | None
) -> Connections:
    """How many connections ``workers`` open at most against the server's limit. A pool is per process."""
    per_worker = threads if pool_size == 0 else (pool_size if pool_size > 0 else None)
    total = None if per_worker is None else workers * per_worker
    persistent = conn_max_age is None or (conn_max_age or 0) > 0 or pool_size != 0
    too_many = bool(max_connections and total and total > CONNECTIONS_WARN_SHARE * max_connections)
    return Connections(vendor, per_worker, total, max_connections, persistent, too_many)


def warm_up_coverage(chosen: ModeFigures, lazy: ModeFigures | None) -> float | None:
    """Share of a cold worker's extra first-request time (lazy's first query above its warm latency) that the
    chosen mode's warm-up removed; None without the figures, or when a cold first request costs little more
    than a warm one (under ``MIN_COLD_MS`` or the warm latency itself)."""
    if lazy is None or not (chosen.first_query_ms and lazy.first_query_ms and lazy.warm_ms):
        return None
    cold = lazy.first_query_ms.value - lazy.warm_ms.value
    if cold < max(MIN_COLD_MS, lazy.warm_ms.value):
        return None
    left = max(0.0, chosen.first_query_ms.value - lazy.warm_ms.value)
    return max(0.0, min(1.0, 1 - left / cold))


def project_changes(
    figures: Sequence[ModeFigures], chosen: str | None, urls: Sequence[str], recycle: Recycling | None
) -> list[str]:
    """What the project itself must change or keep, in sentences."""
    by_mode = {f.mode: f for f in figures}
    opened = max((f.db_closed_before_fork for f in figures), default=0)
    failed = [f for f in figures if get_mode(f.mode).preload and not f.ok]
    changes = []
    if opened and failed:
        changes.append(
            f"It opens {opened} database connection(s) while it loads, and preloading closes them before fork "
            f"({', '.join(f.mode for f in failed)} then failed: {failed[0].errors[0] if failed[0].errors else '?'}): "
            "something keeps using that connection after fork. Open it in each worker, on first use, and "
            "preloading becomes possible."
        )
    elif opened:
        changes.append(
            f"It opens {opened} database connection(s) while it loads: a preloading server must close them "
            "before fork, or every worker shares one (the files do it: close_connections()). Better: query on "
            "first use, not at import."
        )
    elif failed and any("inherited across fork" in e for f in failed for e in f.errors):
        changes.append("A database connection is inherited across fork: close it before the workers fork.")
    if chosen and warms(chosen):
        coverage = warm_up_coverage(by_mode[chosen], by_mode.get("lazy"))
        if coverage is not None:
            warm = by_mode[chosen].first_query_ms.value
            line = (
                f"The warm-up (GET {', '.join(urls)}) covers {coverage:.0%} of a cold first request "
                f"({warm:.0f} ms left of lazy's {by_mode['lazy'].first_query_ms.value:.0f} ms)."
            )
            if coverage < COVERAGE_WARN:
                line += (
                    " To cover more, add --url for pages that use other views, templates and forms; what stays "
                    "is per-process work after fork (clients, caches), which only a warm-up after fork moves."
                )
            changes.append(line)
    elif chosen:
        first = by_mode[chosen].first_query_ms
        if first:
            changes.append(f"No warm-up: each new worker's first request takes about {first.value:.0f} ms.")
    if recycle and recycle.max_requests and recycle.max_requests <= MIN_RECYCLE_REQUESTS:
        changes.append(
            f"Workers grow fast ({recycle.why}): recycling every {recycle.max_requests} requests hides a leak; "
            "find it (tracemalloc in one worker)."
        )
    return changes


def ratio(value: Estimate | None, reference: Estimate | None) -> float | None:
    """``value`` as a multiple of ``reference`` (its point figures); None when either is missing or zero."""
    if value is None or reference is None or reference.value == 0:
        return None
    return value.value / reference.value
