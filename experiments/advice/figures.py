"""CSV rows → what each mode showed, with 95 % intervals. Pure: rows in (dicts of strings, as the CSV reads
back), figures out; no pandas, so that the CLI stays light.

Intervals are Student's t intervals of a mean (a handful of repetitions: no bootstrap can do better with three
values), and of a least-squares line's prediction: total memory at steady state against workers is fitted per
mode, its intercept the shared floor (master and what fork shares), its slope the private memory of each extra
worker.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from experiments.measure.timeline import worker_growths
from experiments.modes import mode_rank

# Two-sided 95 %: Student's t quantile (0.975) by degrees of freedom; beyond the table, the normal's.
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
)
Z975 = 1.96


def t975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (≥ 1)."""
    if df < 1:
        raise ValueError("a t interval needs at least one degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    return Z975 + 2.4 / df  # within 0.3 % of the exact quantile from 16 on


@dataclass(frozen=True)
class Estimate:
    """A figure and its 95 % interval, from ``n`` values (one value: no interval, low = high = value)."""

    value: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Estimate | None:
        """The mean of ``values`` with its t interval; None when there are none."""
        data = [float(v) for v in values]
        if not data:
            return None
        mean = statistics.fmean(data)
        if len(data) == 1:
            return cls(mean, mean, mean, 1)
        half = t975(len(data) - 1) * statistics.stdev(data) / math.sqrt(len(data))
        return cls(mean, mean - half, mean + half, len(data))

    def overlaps(self, other: Estimate) -> bool:
        return self.low <= other.high and other.low <= self.high

    def scaled(self, factor: float) -> Estimate:
        return Estimate(self.value * factor, self.low * factor, self.high * factor, self.n)


@dataclass(frozen=True)
class Fit:
    """Least squares of y on x, with what a prediction interval needs."""

    slope: float
    intercept: float
    n: int
    x_mean: float
    sxx: float
    residual_sd: float  # 0 with two points: the line passes through both

    @classmethod
    def of(cls, points: Sequence[tuple[float, float]]) -> Fit | None:
        """None unless x takes at least two values."""
        if len({x for x, _ in points}) < 2:
            return None
        n = len(points)
        x_mean = statistics.fmean(x for x, _ in points)
        y_mean = statistics.fmean(y for _, y in points)
        sxx = sum((x - x_mean) ** 2 for x, _ in points)
        slope = sum((x - x_mean) * (y - y_mean) for x, y in points) / sxx
        intercept = y_mean - slope * x_mean
        residuals = sum((y - intercept - slope * x) ** 2 for x, y in points)
        sd = math.sqrt(residuals / (n - 2)) if n > 2 else 0.0
        return cls(slope, intercept, n, x_mean, sxx, sd)

    def _half(self, leverage: float) -> float:
        return t975(self.n - 2) * self.residual_sd * math.sqrt(leverage) if self.n > 2 else 0.0

    def predict(self, x: float) -> Estimate:
        """The mean of y at ``x``, with its 95 % interval (wider away from the measured x)."""
        value = self.intercept + self.slope * x
        half = self._half(1 / self.n + (x - self.x_mean) ** 2 / self.sxx)
        return Estimate(value, value - half, value + half, self.n)

    @property
    def per_x(self) -> Estimate:
        """The slope with its interval."""
        half = self._half(1 / self.sxx)
        return Estimate(self.slope, self.slope - half, self.slope + half, self.n)

    @property
    def at_zero(self) -> Estimate:
        """The intercept with its interval."""
        return self.predict(0.0)


@dataclass(frozen=True)
class ModeFigures:
    """What one mode showed over the plan's runs (and its lifecycle window)."""

    mode: str
    runs: int  # in the steady plan
    failed: int
    errors: tuple[str, ...]  # distinct reasons of the failed runs, log tails cut off
    workers: tuple[int, ...]  # worker counts with ok runs
    startup_s: Estimate | None = None
    first_query_ms: Estimate | None = None
    first_query_range: tuple[float, float] | None = None  # lowest and highest first query of the plan
    warm_ms: Estimate | None = None  # median latency of warm traffic
    memory_mb: dict[int, Estimate] | None = None  # total PSS after traffic, per worker count
    steady_mb: dict[int, Estimate] | None = None  # total PSS at steady state, per worker count
    fit: Fit | None = None  # steady total against workers
    growth_mb_per_1k: Estimate | None = None  # a worker's USS growth under long traffic, per worker
    lifecycle_requests: int = 0  # requests per worker of the lifecycle window behind that growth
    lifecycle_failed: tuple[str, ...] = ()
    db_closed_before_fork: int = 0  # connections the project opened while loading (preloading modes)

    @property
    def ok(self) -> bool:
        """Every run of the plan (and of its lifecycle window) succeeded."""
        return self.failed == 0 and self.runs > 0 and not self.lifecycle_failed

    @property
    def shared_mb(self) -> Estimate | None:
        return self.fit.at_zero if self.fit else None

    @property
    def worker_mb(self) -> Estimate | None:
        return self.fit.per_x if self.fit else None


def number(row: dict, column: str) -> float | None:
    value = row.get(column)
    if value in (None, ""):
        return None
    try:
        result = float(value)
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def reason(error: str) -> str:
    """A failed run's error without the server log's tail, which differs from run to run."""
    return (error or "unknown error").split(" | log:", 1)[0].strip()


def _values(rows: list[dict], column: str) -> list[float]:
    return [v for v in (number(row, column) for row in rows) if v is not None]


def _per_workers(rows: list[dict], column: str) -> dict[int, Estimate]:
    found: dict[int, list[float]] = {}
    for row in rows:
        value = number(row, column)
        if value is not None:
            found.setdefault(int(row["workers"]), []).append(value)
    return {workers: Estimate.of(values) for workers, values in sorted(found.items())}


def growth_estimate(runs: list[dict], timeline: list[dict]) -> Estimate | None:
    """Per-worker growth slopes of the ok ``runs`` (lifecycle rows), from their timeline readings."""
    attempts = {(row["run_id"], row.get("started_at", "")) for row in runs if row.get("status") == "ok"}
    by_worker: dict[tuple, list[tuple]] = {}
    for reading in timeline:
        if reading.get("process") != "worker":
            continue
        if (reading.get("run_id"), reading.get("started_at", "")) not in attempts:
            continue
        x, y = number(reading, "worker_requests"), number(reading, "uss_mb")
        if x is not None and y is not None:
            key = (reading["run_id"], reading.get("started_at"), reading.get("pid"))
            by_worker.setdefault(key, []).append((x, y, number(reading, "gen2")))
    return Estimate.of(worker_growths(by_worker))


def _one_mode(mode: str, rows: list[dict], lifecycle: list[dict], timeline: list[dict]) -> ModeFigures:
    ok = [row for row in rows if row.get("status") == "ok"]
    failed = [row for row in rows if row.get("status") != "ok"]
    firsts = _values(ok, "first_query_ms")
    points = [
        (float(row["workers"]), value) for row in ok if (value := number(row, "memory_steady_mb")) is not None
    ]
    cycled = [row for row in lifecycle if row.get("mode") == mode]
    closed = _values(rows, "db_closed_before_fork")
    return ModeFigures(
        mode=mode,
        runs=len(rows),
        failed=len(failed),
        errors=tuple(dict.fromkeys(reason(row.get("error", "")) for row in failed)),
        workers=tuple(sorted({int(row["workers"]) for row in ok})),
        startup_s=Estimate.of(_values(ok, "startup_s")),
        first_query_ms=Estimate.of(firsts),
        first_query_range=(min(firsts), max(firsts)) if firsts else None,
        warm_ms=Estimate.of(_values(ok, "steady_ms_median")),
        memory_mb=_per_workers(ok, "memory_mb"),
        steady_mb=_per_workers(ok, "memory_steady_mb"),
        fit=Fit.of(points),
        growth_mb_per_1k=growth_estimate(cycled, timeline),
        lifecycle_requests=max((int(number(r, "requests_per_worker") or 0) for r in cycled), default=0),
        lifecycle_failed=tuple(
            dict.fromkeys(reason(r.get("error", "")) for r in cycled if r.get("status") != "ok")
        ),
        db_closed_before_fork=int(max(closed, default=0)),
    )


def mode_figures(
    rows: list[dict], lifecycle: list[dict] = (), timeline: list[dict] = ()
) -> tuple[ModeFigures, ...]:
    """One ModeFigures per mode present in ``rows`` (the steady plan), in the lab's order of modes."""
    modes = sorted({row["mode"] for row in rows}, key=mode_rank)
    return tuple(
        _one_mode(mode, [r for r in rows if r["mode"] == mode], list(lifecycle), list(timeline))
        for mode in modes
    )
