"""HTTP requests to a running server: one GET, a burst of concurrent ones, and the first requests of a run.

Plain http.client, one connection per request (uWSGI's http-socket closes it anyway). The wrapper marks each
response with the worker's pid and whether it was that worker's first request.
"""

from __future__ import annotations

import contextlib
import http.client
import statistics
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

WORKER_HEADER = "X-Prefork-Lab-Worker"
FIRST_HEADER = "X-Prefork-Lab-First"
GC_HEADER = "X-Prefork-Lab-GC"  # collections per generation since the worker was ready, e.g. "41,3,1"


class TrafficError(Exception):
    """A request failed: connection error, timeout, or an answer other than 2xx/3xx that was not allowed."""


def acceptable(status: int, allowed: Collection[int] = ()) -> bool:
    """2xx and 3xx measure the page; anything else measures an error page unless the sweep allowed it."""
    return 200 <= status < 400 or status in allowed


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    ms: float
    worker: int | None
    first: bool
    headers: dict[str, str] = field(default_factory=dict, compare=False)


def get(
    port: int, url: str, timeout: float, allowed: Collection[int] = (), host: str = "127.0.0.1"
) -> Response:
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", url, headers={"Connection": "close"})
        answer = connection.getresponse()
        answer.read()
    except (OSError, http.client.HTTPException) as exc:
        raise TrafficError(f"GET {url}: {type(exc).__name__}: {exc}") from None
    finally:
        connection.close()
    ms = (time.perf_counter() - started) * 1000
    headers = {k.lower(): v for k, v in answer.getheaders()}
    if not acceptable(answer.status, allowed):
        raise TrafficError(f"GET {url}: HTTP {answer.status} (an error page is not a measurement)")
    worker = headers.get(WORKER_HEADER.lower())
    return Response(
        url=url,
        status=answer.status,
        ms=ms,
        worker=int(worker) if worker and worker.isdigit() else None,
        first=headers.get(FIRST_HEADER.lower()) == "1",
        headers=headers,
    )


def concurrent(
    port: int, urls: list[str], concurrency: int, timeout: float, allowed: Mapping[str, Collection[int]]
) -> list[Response]:
    """GET every URL, ``concurrency`` at a time (threads released together); answers in URL order."""
    results: list[Response | None] = [None] * len(urls)
    errors: list[BaseException] = []
    next_index = iter(range(len(urls)))
    lock = threading.Lock()
    barrier = threading.Barrier(max(1, min(concurrency, len(urls))))

    def work() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout)
        while True:
            with lock:
                index = next(next_index, None)
            if index is None or errors:
                return
            try:
                results[index] = get(port, urls[index], timeout, allowed.get(urls[index], ()))
            except BaseException as exc:  # noqa: BLE001 - reported to the caller below
                errors.append(exc)
                return

    threads = [threading.Thread(target=work, daemon=True) for _ in range(barrier.parties)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


@dataclass
class FirstRequests:
    first_query: Response
    first_requests: dict[int, Response]  # worker pid -> that worker's first request
    missing_workers: list[int]

    @property
    def first_query_ms(self) -> float:
        return self.first_query.ms

    @property
    def first_request_ms_mean(self) -> float | None:
        values = [r.ms for r in self.first_requests.values()]
        return statistics.fmean(values) if values else None

    @property
    def first_request_ms_max(self) -> float | None:
        values = [r.ms for r in self.first_requests.values()]
        return max(values) if values else None


def first_requests(
    port: int,
    workers: list[int],
    urls: list[str],
    timeout: float,
    allowed: Mapping[str, Collection[int]] | None = None,
    max_rounds: int = 40,
) -> FirstRequests:
    """The first measured requests of one run, right after every worker reported ready.

    1. the first query: one request to ``urls[0]``;
    2. rounds of ``len(workers)`` concurrent requests to ``urls[0]`` until every worker has served its first
       request (bounded by ``max_rounds``).

    The warm traffic that follows is the load generator's (experiments/measure/load.py).
    """
    allowed = allowed or {}
    first_query = get(port, urls[0], timeout, allowed.get(urls[0], ()))
    firsts: dict[int, Response] = {}

    def note(response: Response) -> None:
        if response.first and response.worker is not None:
            firsts.setdefault(response.worker, response)

    note(first_query)
    expected = set(workers)
    rounds = 0
    while not expected <= set(firsts) and rounds < max_rounds:
        rounds += 1
        for response in concurrent(port, [urls[0]] * len(workers), len(workers), timeout, allowed):
            note(response)
    return FirstRequests(
        first_query=first_query,
        first_requests={pid: r for pid, r in firsts.items() if pid in expected},
        missing_workers=sorted(expected - set(firsts)),
    )
