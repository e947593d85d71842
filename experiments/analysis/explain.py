"""The report's "explain why" sections: where loading and a worker's first request spend their time, and what
each worker keeps private. Formatters over the summary at the seed point; they return lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from experiments.analysis.parts import FIRST_REQUEST_PARTS, PRIVATE_PARTS, STARTUP_PARTS, stacked_rows
from experiments.analysis.tables import described_table

if TYPE_CHECKING:
    from experiments.analysis.stats import Analysis


def _table(bars: dict[str, list[float]], parts, unit: str, total: str, digits: int, extra=None) -> list[str]:
    """``extra``: (header, {bar: value}) of one more column after the total."""
    header = ["mode", *(label for _metric, label in parts), total, *([extra[0]] if extra else [])]
    rows = []
    for bar, values in bars.items():
        row = [bar, *(f"{v:.{digits}f}" for v in values), f"{sum(values):.{digits}f}"]
        if extra:
            value = extra[1].get(bar)
            row.append("n/a" if value is None else f"{value:.{digits}f}")
        rows.append(row)
    columns = {label: metric for metric, label in parts}
    return [f"Medians in {unit}.", "", *described_table(header, rows, columns=columns)]


def startup_lines(a: Analysis) -> list[str]:
    """Loading, step by step (in the process that loads: the master, or each lazy worker), then a first request."""
    lines = ["## Where start-up time goes", ""]
    point = (a.summary, a.seed_models, a.seed_workers, a.keys)
    loading = stacked_rows(point[0], STARTUP_PARTS, *point[1:])
    if not loading:
        return lines + [
            "Not measured: these runs have no phase timings (probes.phases off, or older CSVs).",
            "",
        ]
    lines += [
        f"At models={a.seed_models}, workers={a.seed_workers}. Timed inside the process that loads the app, "
        "without changing the project: the settings import, `apps.populate` (each app's module, its models, its "
        "`ready()`), the middleware chain, the rest of the WSGI module, and the warm-up where a mode has one "
        "(in the master before fork, or in each worker after it). The slowest apps of each run are in "
        "`<output>.details.jsonl`.",
        "",
        *_table(loading, STARTUP_PARTS, "seconds", "load + warm-up", 3),
        "A worker's first request (mean over workers): importing the URLconf, opening the database connection, "
        "finding and compiling templates, and the rest (middleware, the view, rendering). After a warm-up the "
        "first three are already done.",
        "",
        *_table(
            stacked_rows(point[0], FIRST_REQUEST_PARTS, *point[1:]), FIRST_REQUEST_PARTS, "ms", "total", 1
        ),
        "![Where loading goes](startup_phases.png)",
        "",
        "![Where a worker's first request goes](first_request_phases.png)",
        "",
    ]
    return lines


def private_lines(a: Analysis) -> list[str]:
    """Each worker's private memory after traffic, by the kind of mapping that holds it."""
    lines = ["## What each worker keeps private", ""]
    bars = stacked_rows(a.summary, PRIVATE_PARTS, a.seed_models, a.seed_workers, a.keys)
    if not bars:
        return lines + ["Not measured in these runs (older CSVs).", ""]
    lines += [
        f"At models={a.seed_models}, workers={a.seed_workers}: the mean worker's private pages (its USS) after "
        "traffic, from `/proc/<pid>/smaps` by kind of mapping. CPython's objects live in anonymous arenas: "
        "what a worker loaded itself (lazy) or wrote to after fork (reference counts, caches, the collector's "
        "bookkeeping) is there. At steady state (last column) a full collection has written to every inherited "
        "object that `gc.freeze()` did not put out of its reach.",
        "",
        *_table(bars, PRIVATE_PARTS, "MB per worker", "USS", 1, ("USS at steady state", _steady(a))),
        "![What each worker keeps private](private_memory.png)",
        "",
        *_objects_lines(a),
    ]
    return lines


OBJECT_PARTS = (
    ("inherited_objects_mb", "pages holding inherited objects (MB)"),
    ("worker_private_objects_mb_mean", "of them private per worker (MB)"),
)


def _objects_lines(a: Analysis) -> list[str]:
    """probes.objects: how much of the pages holding the master's objects each worker made its own (columns
    only; the top types and modules per worker are in the details, which the analysis does not read)."""
    bars = stacked_rows(a.summary, OBJECT_PARTS, a.seed_models, a.seed_workers, a.keys)
    rows = [
        [bar, f"{inherited:.1f}", f"{private:.1f}", f"{100 * private / inherited:.0f} %"]
        for bar, (inherited, private) in bars.items()
        if inherited > 0
    ]
    if not rows:
        return []
    return [
        "Inherited Python objects (`probes.objects`, modes that preload): the pages that held the objects the "
        "master's collector tracked just before fork, and how many of them each worker keeps private at the "
        "end of the run (after its full collection when steady state is on). The top types and modules by "
        "private MB of each run are in `<output>.details.jsonl` (`inherited_objects`). The probe's snapshot "
        "allocates in the master before fork; its cost is in docs/measurement.md (Which objects).",
        "",
        *described_table(
            ["mode", *(label for _metric, label in OBJECT_PARTS), "private share"],
            rows,
            columns={label: metric for metric, label in OBJECT_PARTS},
        ),
    ]


def _steady(a: Analysis) -> dict[str, float]:
    """worker_uss_steady_mb_mean per bar of the private-memory table."""
    parts = (("worker_uss_steady_mb_mean", "steady"),)
    return {
        bar: values[0]
        for bar, values in stacked_rows(a.summary, parts, a.seed_models, a.seed_workers, a.keys).items()
    }
