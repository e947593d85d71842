"""The one-screen answer: pure functions from the advice to lines (the CLI prints them, the report reuses them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from experiments.advice.figures import Estimate, ModeFigures
from experiments.advice.recommend import Connections, Recommendation, Sizing
from experiments.advice.verify import FIRST_QUERY_SLACK_MS, TOLERANCE, Verification
from experiments.tables import aligned, figure, times


@dataclass(frozen=True)
class Answer:
    name: str
    server: str
    server_version: str
    budget_text: str
    budget_mb: float
    cores: int
    urls: tuple[str, ...]
    workers: tuple[int, ...]  # measured worker counts
    repetitions: int
    lifecycle_requests: int
    figures: tuple[ModeFigures, ...]
    recommendation: Recommendation
    connections: Connections | None = None
    changes: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # written, relative to the output directory
    output: str = ""
    start: str = ""  # how to start the server with them
    verification: Verification | None = None
    report: tuple[str, ...] = ()  # the report and plot paths
    notes: tuple[str, ...] = field(default_factory=tuple)


def interval(estimate: Estimate | None, unit: str = "", digits: int = 0) -> str:
    """ "240 MB [231–249]"; the bare figure when it has no interval; "—" when not measured."""
    if estimate is None:
        return "—"
    text = f"{estimate.value:,.{digits}f}{' ' + unit if unit else ''}"
    if estimate.n > 1 and estimate.high > estimate.low:
        text += f" [{estimate.low:,.{digits}f}–{estimate.high:,.{digits}f}]"
    return text


Column = tuple[str, Callable[[ModeFigures], Estimate | None], int, str]


def _columns(top: int) -> list[Column]:
    return [
        ("start-up s", lambda f: f.startup_s, 2, "launch until every worker is ready, mean of all runs"),
        ("first query ms", lambda f: f.first_query_ms, 0, "the first request once every worker is ready"),
        (
            f"steady MB @{top}",
            lambda f: (f.steady_mb or {}).get(top),
            0,
            f"total PSS of master and {top} workers once each ran one full collection (where a long-running "
            "server settles; after traffic alone, preloaded workers still share what they will copy)",
        ),
        (
            "MB/worker",
            lambda f: f.worker_mb,
            1,
            "what each extra worker adds at steady state (fit over workers)",
        ),
        (
            "growth MB/1k",
            lambda f: f.growth_mb_per_1k,
            2,
            "a worker's USS growth per 1,000 requests, long traffic",
        ),
    ]


def _best(figures: Sequence[ModeFigures], measure) -> tuple[str | None, list[str]]:
    """The mode with the lowest figure among those that never failed, and those whose interval overlaps it."""
    measured = {f.mode: e for f in figures if f.ok and (e := measure(f)) is not None}
    if not measured:
        return None, []
    best = min(measured, key=lambda mode: measured[mode].value)
    return best, [m for m, e in measured.items() if m != best and e.overlaps(measured[best])]


def mode_table(
    figures: Sequence[ModeFigures], sizings: dict[str, Sizing], top: int, budget: str
) -> list[str]:
    """One row per mode, ratios against lazy, the best per column marked *, a legend line per column."""
    columns = _columns(top)
    lazy = next((f for f in figures if f.mode == "lazy"), None)
    rows = []
    bests = [_best(figures, measure)[0] for _, measure, _, _ in columns]
    for f in figures:
        row = [f.mode]
        for (_, measure, digits, _), best in zip(columns, bests, strict=True):
            value, reference = measure(f), measure(lazy) if lazy else None
            cell = figure(value.value if value else None, digits)
            ratio = times(value.value if value else None, reference.value if reference else None)
            row.append(
                f"{cell}{' ' + ratio if ratio and f.mode != 'lazy' else ''}{'*' if f.mode == best else ''}"
            )
        sizing = sizings.get(f.mode)
        row.append(f"{sizing.workers} ({sizing.bound})" if sizing and sizing.workers else "—")
        row.append("ok" if f.ok else f"FAILED {f.failed or len(f.lifecycle_failed)}/{f.runs}")
        rows.append(row)
    header = ["mode", *(name for name, _, _, _ in columns), f"workers in {budget}", "runs"]
    lines = aligned(header, rows)
    best_parts = []
    for name, measure, _, _ in columns:
        best, ties = _best(figures, measure)
        if best:
            best_parts.append(f"{name} {best}" + (f" (≈ {', '.join(ties)})" if ties else ""))
    lines.append("best (*): " + "; ".join(best_parts) if best_parts else "best: none (every mode failed)")
    lines += [f"  {name}: {legend}" for name, _, _, legend in columns]
    lines += [
        "  ×: against lazy (×0.50 = half of lazy's); ≈: within the best's 95 % interval",
        f"  workers in {budget}: most that fit at steady state with recycling headroom (memory), at most "
        "2 × cores + 1 (cores)",
    ]
    return lines


def _why(answer: Answer, chosen: ModeFigures, lazy: ModeFigures | None, workers: int) -> list[str]:
    parts = [f"steady at {workers} workers {interval(chosen.fit.predict(workers), 'MB')}"]
    if lazy and lazy.fit and lazy.mode != chosen.mode:
        parts[-1] += f" against lazy's {interval(lazy.fit.predict(workers), 'MB')}"
    for label, measure, unit, digits in (
        ("growth per 1,000 requests", lambda f: f.growth_mb_per_1k, "MB", 2),
        ("first query", lambda f: f.first_query_ms, "ms", 0),
        ("start-up", lambda f: f.startup_s, "s", 2),
    ):
        if measure(chosen) is None:
            continue
        text = f"{label} {interval(measure(chosen), unit, digits)}"
        if lazy and lazy.mode != chosen.mode and measure(lazy):
            text += f" against {interval(measure(lazy), unit, digits)}"
        parts.append(text)
    return parts


def _decided(recommendation: Recommendation) -> str:
    if recommendation.decided_by == "only":
        return "the only mode that ran without failure within the budget"
    if recommendation.decided_by == "order":
        return (
            f"no figure told it from {', '.join(recommendation.tied)}: the first in the lab's list of modes"
        )
    return f"{recommendation.decided_by} decided"


def recommendation_lines(answer: Answer) -> list[str]:
    recommendation = answer.recommendation
    by_mode = {f.mode: f for f in answer.figures}
    lines = []
    if recommendation.mode is None:
        lines.append("recommended: nothing — no mode ran without failure within the budget")
    else:
        sizing = recommendation.sizing
        chosen, lazy = by_mode[recommendation.mode], by_mode.get("lazy")
        bound = (
            f"2 × {answer.cores} core{'s' if answer.cores != 1 else ''} + 1; {answer.budget_text} would hold "
            f"{sizing.memory_workers}"
            if sizing.bound == "cores"
            else f"what {answer.budget_text} holds"
        )
        lines.append(f"recommended: {recommendation.mode} with {sizing.workers} workers ({bound})")
        lines.append(
            f"  why ({_decided(recommendation)}): " + "; ".join(_why(answer, chosen, lazy, sizing.workers))
        )
        headroom = sizing.recycling.headroom_mb
        lines.append(
            f"  memory: {interval(sizing.total_mb, 'MB')} at steady state + {sizing.workers} × {headroom:.1f} MB "
            f"recycling headroom = at most {sizing.budgeted_mb:,.0f} MB of {answer.budget_mb:,.0f} MB"
        )
        recycle = sizing.recycling
        jitter = f" (jitter {recycle.jitter:,})" if recycle.jitter else ""
        lines.append(f"  max_requests {recycle.max_requests:,}{jitter}: {recycle.why}")
        if answer.connections:
            lines.append("  database: " + connection_text(answer.connections, sizing.workers))
    for mode, why in recommendation.rejected:
        lines.append(f"  not {mode}: {why}")
    return lines


def connection_text(connections: Connections, workers: int) -> str:
    vendor = connections.vendor or "unknown"
    if connections.total is None:
        text = f"{vendor}: {workers} workers × a pool of psycopg's default size each"
    else:
        each = f"{connections.per_worker} connection{'s' if connections.per_worker != 1 else ''}"
        text = f"{vendor}: {workers} workers × {each} = {connections.total} at most"
    if connections.max_connections:
        share = (connections.total or 0) / connections.max_connections
        text += f" of max_connections {connections.max_connections} ({share:.0%})"
        if connections.too_many:
            text += ": too many; fewer workers, or a pooler (PgBouncer) in front"
    elif vendor == "postgresql":
        text += " (max_connections not read: give --database-url)"
    elif vendor == "sqlite":
        text += " (SQLite: no server limit; one writer at a time)"
    if connections.persistent:
        text += "; held between requests (CONN_MAX_AGE or a pool)"
    return text


def verification_lines(verification: Verification | None, server: str, version: str) -> list[str]:
    if verification is None:
        return []
    head = f"verified under {server} {version} with the files, {verification.workers} workers, no lab code inside"
    if verification.error:
        return [f"{head}: FAILED — {verification.error}"]
    difference = verification.memory_difference
    memory = (
        f"steady {verification.measured_mb:,.0f} MB, predicted {interval(verification.predicted_mb, 'MB')}: "
        f"{difference:+.1%} {'ok' if verification.memory_ok else 'FAILED'} (tolerance {TOLERANCE:.0%}; "
        f"after traffic, before the collection: {verification.after_traffic_mb:,.0f} MB)"
    )
    low, high = verification.first_range or (0.0, 0.0)
    first = (
        f"first query {verification.measured_first_ms:,.0f} ms, predicted "
        f"{interval(verification.predicted_first_ms, 'ms')} (plan {low:,.0f}–{high:,.0f} ms, give or take "
        f"{TOLERANCE:.0%} or {FIRST_QUERY_SLACK_MS:.0f} ms): "
        f"{'ok' if verification.first_ok else 'FAILED'}"
    )
    verdict = "the advice holds" if verification.ok else "THE ADVICE FAILED ITS CHECK"
    return [f"{head}: {verdict}", f"  {memory}", f"  {first}"]


def answer_lines(answer: Answer) -> list[str]:
    top = max(answer.workers)
    cycle = (
        f"; {answer.lifecycle_requests:,} requests per worker of long traffic per mode"
        if answer.lifecycle_requests
        else "; no long traffic"
    )
    lines = [
        f"{answer.name} under {answer.server} {answer.server_version}: workers "
        f"{', '.join(map(str, answer.workers))} × {answer.repetitions} runs per mode to steady state{cycle}",
        "",
        *mode_table(answer.figures, answer.recommendation.sizings, top, answer.budget_text),
        "",
        *recommendation_lines(answer),
    ]
    if answer.changes:
        lines += ["", "the project:", *(f"  - {change}" for change in answer.changes)]
    if answer.files:
        lines += ["", f"files ({answer.output}): {', '.join(answer.files)}", f"  start: {answer.start}"]
    lines += [
        *([""] if answer.verification else []),
        *verification_lines(answer.verification, answer.server, answer.server_version),
    ]
    if answer.report:
        lines += ["", "report: " + ", ".join(answer.report)]
    lines += list(answer.notes)
    return lines
