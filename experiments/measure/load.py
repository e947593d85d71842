"""Warm traffic, long and concurrent: ``clients`` loopback connections at a time until N requests are answered.

Every request is either answered (its latency, worker and status kept) or counted as failed with its cause:
nothing is dropped. An answer whose status the sweep does not accept is an error page; a connection refused,
reset or timed out is a request the server did not serve (a worker being recycled, a worker that died). The
generator never stops on a failure: the caller decides what failures mean for the run.

A ``tick(served)`` callback runs in the client thread that completes every request (the sampler reads memory
there, so that a reading happens at a known request count while the other clients go on).
"""

from __future__ import annotations

import http.client
import math
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from experiments.measure.traffic import FIRST_HEADER, GC_HEADER, WORKER_HEADER, acceptable

MAX_KEPT_FAILURES = 20  # examples of failed requests kept for the details


@dataclass
class LoadResult:
    """What the warm traffic saw. Latencies in ms, in completion order."""

    latencies: list[float] = field(default_factory=list)
    served_by: Counter = field(default_factory=Counter)  # worker pid -> requests it answered
    gc_counts: dict[int, tuple[int, ...]] = field(default_factory=dict)  # pid -> last collections reported
    first_of: dict[int, float] = field(default_factory=dict)  # pid -> ms of its first request, if seen here
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(
        default_factory=Counter
    )  # cause -> count: "HTTP 500 /url", "ConnectionResetError"
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def error_pages(self) -> int:
        return sum(count for cause, count in self.failures.items() if cause.startswith("GET "))

    def percentile(self, share: float) -> float | None:
        return percentile(self.latencies, share)

    @property
    def median(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0–1) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def parse_gc(value: str | None) -> tuple[int, ...] | None:
    """``"12,3,1"`` -> (12, 3, 1): collections per generation since the worker was ready."""
    if not value:
        return None
    try:
        return tuple(int(part) for part in value.split(","))
    except ValueError:
        return None


class LoadGenerator:
    def __init__(
        self,
        port: int,
        urls: list[str],
        timeout: float,
        allowed: Mapping[str, Collection[int]] | None = None,
        host: str = "127.0.0.1",
    ):
        self.port = port
        self.urls = urls
        self.timeout = timeout
        self.allowed = allowed or {}
        self.host = host
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._next = 0
        self._total = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        """Let every client finish its request in flight and send no more (a failed run)."""
        self._stop.set()

    def run(self, total: int, clients: int, tick: Callable[[int], None] | None = None) -> LoadResult:
        """Send ``total`` requests cycling through the URLs, ``clients`` at a time; returns what came back."""
        self._total = total
        started = time.perf_counter()
        threads = [
            threading.Thread(target=self._client, args=(tick,), daemon=True)
            for _ in range(max(1, min(clients, total)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.result.seconds = time.perf_counter() - started
        return self.result

    def _take(self) -> int | None:
        with self._lock:
            if self._next >= self._total or self._stop.is_set():
                return None
            self._next += 1
            return self._next - 1

    def _client(self, tick: Callable[[int], None] | None) -> None:
        while (index := self._take()) is not None:
            url = self.urls[index % len(self.urls)]
            served = self._request(url)
            if tick is not None and served:
                tick(served)

    def _request(self, url: str) -> int:
        """One GET; records it. Returns the number answered so far when this one was answered, else 0."""
        started = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("GET", url, headers={"Connection": "close"})
            answer = connection.getresponse()
            answer.read()
        except TimeoutError:
            return self._fail("timeout", url)
        except (OSError, http.client.HTTPException) as exc:
            return self._fail(type(exc).__name__, url)
        finally:
            connection.close()
        ms = (time.perf_counter() - started) * 1000
        if not acceptable(answer.status, self.allowed.get(url, ())):
            return self._fail(f"GET {url}: HTTP {answer.status}", url)
        worker = answer.getheader(WORKER_HEADER)
        pid = int(worker) if worker and worker.isdigit() else None
        collections = parse_gc(answer.getheader(GC_HEADER))
        first = answer.getheader(FIRST_HEADER) == "1"
        result = self.result
        with self._lock:
            result.latencies.append(ms)
            result.statuses[answer.status] += 1
            if pid is not None:
                result.served_by[pid] += 1
                if collections is not None:
                    result.gc_counts[pid] = collections
                if first:
                    result.first_of.setdefault(pid, ms)
            return len(result.latencies)

    def _fail(self, cause: str, url: str) -> int:
        with self._lock:
            self.result.failures[cause] += 1
            if len(self.result.examples) < MAX_KEPT_FAILURES:
                self.result.examples.append(f"GET {url}: {cause}")
        return 0
