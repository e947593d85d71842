"""Memory over requests: the runner reads every process's PSS and USS each time the workers have served
``sample_every`` more requests each, while the traffic goes on; and what those readings say (growth, peak).

The reading is the runner's, from /proc, never the worker's: a worker only reports, in a response header it
sends anyway, how many collections per generation it has run. A sample is tidy: one record per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from experiments.measure.load import LoadResult, percentile
from experiments.measure.memory import read_process

MIN_GROWTH_POINTS = 3  # readings of one worker's second half of life needed for a slope


@dataclass(frozen=True)
class Reading:
    """One process at one sample."""

    requests: int  # answered by the whole server when the sample was taken
    seconds: float  # since the warm traffic began
    process: str  # "master" or "worker"
    pid: int
    worker_requests: int  # answered by this process (0 for the master)
    pss_mb: float
    uss_mb: float
    gen0: int | None  # collections since the worker was ready, as its last response said (None: master)
    gen1: int | None
    gen2: int | None
    window_p50_ms: float | None  # latency of the requests answered since the previous sample
    window_p99_ms: float | None

    def record(self) -> dict:
        return asdict(self)


class Sampler:
    """Called from the load generator's ``tick`` after every answer; reads when a threshold is crossed."""

    def __init__(
        self,
        master: int,
        workers: Callable[[], list[int]],
        load: LoadResult,
        every: int,
        started: float | None = None,
    ):
        """``workers()`` gives the current worker pids; ``every``: answers between samples (0: never)."""
        self.master = master
        self.workers = workers
        self.load = load
        self.every = every
        self.started = time.perf_counter() if started is None else started
        self.readings: list[Reading] = []
        self._next = every
        self._window_from = 0
        self._lock = threading.Lock()

    def tick(self, answered: int) -> None:
        if not self.every or answered < self._next:
            return
        if not self._lock.acquire(blocking=False):
            return  # another client is reading; the next answer will try again
        try:
            if answered >= self._next:
                self.sample()
                while self._next <= answered:
                    self._next += self.every
        finally:
            self._lock.release()

    def sample(self) -> None:
        """Read every process now (also called before and after the traffic, once per request count)."""
        load = self.load
        answered = load.answered
        if self.readings and self.readings[-1].requests == answered:
            return
        window = load.latencies[self._window_from : answered]
        self._window_from = answered
        p50, p99 = percentile(window, 0.5), percentile(window, 0.99)
        seconds = time.perf_counter() - self.started
        for role, pid in [("master", self.master), *(("worker", p) for p in self.workers())]:
            try:
                memory = read_process(pid)
            except OSError:
                continue  # a worker recycled between the list and the reading
            gc = load.gc_counts.get(pid, (None, None, None)) if role == "worker" else (None, None, None)
            self.readings.append(
                Reading(
                    requests=answered,
                    seconds=round(seconds, 4),
                    process=role,
                    pid=pid,
                    worker_requests=load.served_by.get(pid, 0) if role == "worker" else 0,
                    pss_mb=round(memory.pss_kb / 1024, 3),
                    uss_mb=round(memory.uss_kb / 1024, 3),
                    gen0=gc[0],
                    gen1=gc[1],
                    gen2=gc[2],
                    window_p50_ms=None if p50 is None else round(p50, 3),
                    window_p99_ms=None if p99 is None else round(p99, 3),
                )
            )


def totals(readings: list[Reading]) -> dict[int, float]:
    """Total PSS of the server (MB) at each sample, by requests answered."""
    found: dict[int, float] = {}
    for reading in readings:
        found[reading.requests] = found.get(reading.requests, 0.0) + reading.pss_mb
    return found


def peak_pss_mb(readings: list[Reading]) -> float | None:
    values = totals(readings).values()
    return max(values) if values else None


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y on x; None when x does not vary."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def _settled(points: list[tuple]) -> list[tuple[float, float]]:
    """The readings of one worker's second half of life (requests, USS), from its first full collection on
    when that happened there: the step a first collection makes (every inherited object turned private) is not
    growth, and the steady-state reading (``memory_steady_mb``) reports it. A point is (requests, USS MB) or
    (requests, USS MB, full collections since ready)."""
    full = sorted((p[0], p[1], p[2] if len(p) > 2 else None) for p in points)
    last = full[-1][0]
    half = [point for point in full if point[0] >= last / 2]
    first = next((i for i, (_, _, gen2) in enumerate(half) if gen2), None)
    if first is not None and half[0][2] == 0:
        half = half[first:]
    return [(requests, uss) for requests, uss, _ in half]


def worker_growths(by_pid: dict) -> list[float]:
    """Per worker, from its readings (``_settled``'s points): the slope over the second half of its life
    (what it served when last read), in MB per 1,000 requests; workers read fewer than ``MIN_GROWTH_POINTS``
    times there have none."""
    slopes = []
    for points in by_pid.values():
        settled = _settled(points)
        if len(settled) >= MIN_GROWTH_POINTS:
            slope = _slope(settled)
            if slope is not None:
                slopes.append(slope * 1000)
    return slopes


def growth_mb_per_1k(readings: list[Reading]) -> float | None:
    """How fast a worker's USS grows once it has settled: the mean of ``worker_growths`` over the workers.
    MB per 1,000 requests."""
    by_pid: dict[int, list[tuple]] = {}
    for reading in readings:
        if reading.process == "worker":
            by_pid.setdefault(reading.pid, []).append((reading.worker_requests, reading.uss_mb, reading.gen2))
    slopes = worker_growths(by_pid)
    return sum(slopes) / len(slopes) if slopes else None
