"""The measured traffic of one run: the first requests, then warm traffic (long, concurrent, sampled), while
a thread follows workers that the server recycles; then memory after traffic.

What it adds to the row: first query and first requests, latency percentiles over the warm traffic, failed
requests, the peak and growth of memory (with ``sample_every``), and what recycling cost. The timeline and
each recycle go to the run's details.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

from experiments.measure.lifecycle import Lifecycle
from experiments.measure.load import LoadGenerator, LoadResult
from experiments.measure.memory import read_tree
from experiments.measure.timeline import Sampler, growth_mb_per_1k, peak_pss_mb
from experiments.measure.traffic import first_requests

if TYPE_CHECKING:
    from experiments.measure.inbox import Inbox
    from experiments.measure.measurement import Live, Measurement
    from experiments.plan import RunSpec
    from experiments.projects import PreparedProject

SETTLE_POLL_S = 0.05
# with recycling, a server may drop a connection now and then; past this share of the traffic the run stops
MAX_FAILED_SHARE = 0.05


class TrafficFailed(Exception):
    """The traffic showed the run cannot be measured: an error page, a worker that died, requests dropped."""


def measure_traffic(run: RunSpec, project: PreparedProject, live: Live, inbox: Inbox, m: Measurement) -> None:
    t = time.monotonic()
    lifecycle = Lifecycle(inbox, live.workers, m.details)
    lifecycle.start()
    try:
        _first_requests(run, project, live, m)
        load, sampler = _warm_traffic(run, project, live, lifecycle)
        _settle(run, lifecycle)
    finally:
        lifecycle.stop()
        live.seen = list(dict.fromkeys([*live.seen, *lifecycle.seen]))
    m.timings["traffic"] = time.monotonic() - t
    _judge(run, load, lifecycle)
    after = read_tree(live.process.pid, live.workers)
    m.memory_mb = after.total_mb("pss")
    m.uss_mb = after.total_mb("uss")
    m.rss_mb = after.total_mb("rss")
    m.master_pss_mb = after.master.pss_kb / 1024
    m.worker_uss_mb_mean = after.worker_uss_mb_mean
    m.steady_ms_median = load.median
    m.breakdown.update(_load_columns(load))
    m.breakdown.update(_recycle_columns(run, lifecycle, load))
    m.details["statuses"] = sorted(set(m.details.get("statuses", [])) | set(load.statuses))
    if load.failed:
        m.details["failed_requests"] = {"causes": dict(load.failures), "examples": load.examples}
    if sampler.readings:
        m.details["timeline"] = [reading.record() for reading in sampler.readings]
        m.breakdown.update(
            {
                "memory_peak_mb": max(peak_pss_mb(sampler.readings), m.memory_mb),
                "worker_growth_mb_per_1k": growth_mb_per_1k(sampler.readings),
            }
        )


def _first_requests(run: RunSpec, project: PreparedProject, live: Live, m: Measurement) -> None:
    firsts = first_requests(
        live.port, list(live.workers), list(project.urls), run.traffic.timeout, run.traffic.allowed
    )
    m.first_query_ms = firsts.first_query_ms
    m.first_request_ms_mean = firsts.first_request_ms_mean
    m.first_request_ms_max = firsts.first_request_ms_max
    headers = firsts.first_query.headers
    m.details["loaded_in"] = headers.get("x-prefork-lab-loaded-in")
    m.details["warmed"] = int(headers.get("x-prefork-lab-warmed", "0"))
    m.details["frozen"] = int(headers.get("x-prefork-lab-frozen", "0"))
    m.details["first_workers"] = sorted(firsts.first_requests)
    m.details["statuses"] = [firsts.first_query.status]
    if firsts.missing_workers:
        m.error = (
            f"{len(firsts.missing_workers)} of {run.workers} workers served no first request "
            f"(pids {firsts.missing_workers})"
        )


def _warm_traffic(
    run: RunSpec, project: PreparedProject, live: Live, lifecycle: Lifecycle
) -> tuple[LoadResult, Sampler]:
    """``requests_per_worker`` × workers requests cycling through the URLs, ``clients`` at a time (default: as
    many as the workers can serve at once); memory read every ``sample_every`` requests per worker."""
    traffic = run.traffic
    total = traffic.requests_per_worker * run.workers
    clients = traffic.clients or run.workers * run.server.threads
    generator = LoadGenerator(live.port, list(project.urls), traffic.timeout, traffic.allowed)
    sampler = Sampler(
        live.process.pid, lifecycle.current, generator.result, traffic.sample_every * run.workers
    )
    allowed_failures = int(total * MAX_FAILED_SHARE) if run.server.recycling.active else 0

    def tick(answered: int) -> None:
        sampler.tick(answered)
        if lifecycle.problems or generator.result.error_pages or generator.result.failed > allowed_failures:
            generator.stop()

    if traffic.sample_every:
        sampler.sample()
    generator.run(total, clients, tick)
    if traffic.sample_every:
        sampler.sample()
    return generator.result, sampler


def _settle(run: RunSpec, lifecycle: Lifecycle) -> None:
    """Wait until every recycled worker has its replacement ready (a lazy one loads the app first)."""
    deadline = time.monotonic() + run.server.timeout
    while not lifecycle.settled(run.workers) and not lifecycle.problems:
        if time.monotonic() > deadline:
            raise TrafficFailed(
                f"{len(lifecycle.current())} of {run.workers} workers serving {run.server.timeout:g} s after "
                "the traffic: a recycled worker was not replaced"
            )
        time.sleep(SETTLE_POLL_S)


def _judge(run: RunSpec, load: LoadResult, lifecycle: Lifecycle) -> None:
    """An error page, a worker lost, or a request dropped where nothing recycles: the run is not a
    measurement. With recycling, dropped requests are counted (``requests_failed``), up to a share."""
    if lifecycle.problems:
        raise TrafficFailed(lifecycle.problems[0])
    if load.error_pages:
        pages = ", ".join(f"{cause} ({n}×)" for cause, n in load.failures.items() if cause.startswith("GET "))
        raise TrafficFailed(f"warm traffic: {pages} (an error page is not a measurement)")
    if load.failed and not run.server.recycling.active:
        causes = ", ".join(f"{cause} ({n}×)" for cause, n in load.failures.items())
        raise TrafficFailed(f"{load.failed} warm requests failed: {causes}")
    if load.failed > (load.failed + load.answered) * MAX_FAILED_SHARE:
        raise TrafficFailed(
            f"{load.failed} of {load.failed + load.answered} warm requests failed while recycling"
        )


def _load_columns(load: LoadResult) -> dict[str, float | None]:
    return {
        "latency_p50_ms": load.percentile(0.5),
        "latency_p99_ms": load.percentile(0.99),
        "requests_failed": float(load.failed),
        "requests_per_s": load.answered / load.seconds if load.seconds else None,
    }


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _recycle_columns(run: RunSpec, lifecycle: Lifecycle, load: LoadResult) -> dict[str, float | None]:
    recycles = lifecycle.recycles
    for recycle in recycles:
        if recycle.new_pid is not None:
            recycle.first_request_ms = load.first_of.get(recycle.new_pid)
    lifecycle.details["recycles"] = [recycle.record() for recycle in recycles]
    if not run.server.recycling.active:
        return {}
    return {
        "recycles": float(len(recycles)),
        "recycle_requests_mean": _mean([r.requests for r in recycles]),
        "recycle_unavailable_ms_mean": _mean(
            [r.unavailable_ms for r in recycles if r.unavailable_ms is not None]
        ),
        "recycle_first_request_ms_mean": _mean([r.first_request_ms for r in recycles if r.first_request_ms]),
        "recycle_worker_uss_mb_mean": _mean([r.uss_mb for r in recycles if r.uss_mb is not None]),
    }
