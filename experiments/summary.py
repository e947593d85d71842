"""End-of-sweep summary: a table per measured point, one row per mode, ratios against lazy; returns lines."""

from __future__ import annotations

import statistics

from experiments.columns import IDENTITY
from experiments.modes import mode_rank


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _median(rows: list[dict], column: str) -> float | None:
    values = [v for v in (_number(r.get(column)) for r in rows) if v is not None]
    return statistics.median(values) if values else None


def fork_warnings(rows: list[dict]) -> list[str]:
    """What a project that opens DB connections while it loads must do in production, once per project."""
    lines = []
    for project in dict.fromkeys(row.get("project") for row in rows):
        counts = [
            _number(row.get("db_closed_before_fork")) or 0 for row in rows if row.get("project") == project
        ]
        if max(counts, default=0) > 0:
            lines.append(
                f"warning: {project} opens {max(counts):.0f} database connection(s) while it loads; the lab closed "
                "them before fork. In production, preloading needs the same: django.db.connections.close_all() "
                "before the workers fork (gunicorn's pre_fork hook, or the end of wsgi.py under uWSGI), or every "
                "worker shares one connection."
            )
    return lines


COLUMNS = (  # (column, header, digits, legend)
    ("startup_s", "startup s", 2, "launch until every worker is ready to accept"),
    (
        "memory_mb",
        "memory MB",
        0,
        "total PSS of master and workers after the traffic: each shared page divided among the processes "
        "sharing it, so that the total counts it once",
    ),
    (
        "memory_steady_mb",
        "memory steady MB",
        0,
        "the same once every worker ran one full garbage collection: where a long-running server settles "
        "(preloaded workers copy what they inherited at their first one)",
    ),
    (
        "first_query_ms",
        "first_query ms",
        0,
        "the first request once every worker is ready, to the first URL: what a user meets after a (re)start",
    ),
)


def _points(ok: list[dict]) -> dict[tuple, dict[str, list[dict]]]:
    """Rows by point (every identity column but mode), then by mode."""
    points: dict[tuple, dict[str, list[dict]]] = {}
    for row in ok:
        point = tuple(row.get(name) or "" for name in IDENTITY if name != "mode")
        points.setdefault(point, {}).setdefault(row.get("mode") or "", []).append(row)
    return points


def _point_order(key: tuple) -> tuple:
    point = dict(zip([n for n in IDENTITY if n != "mode"], key, strict=True))
    models = str(point["models"])
    others = tuple(point[name] for name in IDENTITY if name not in ("models", "workers", "mode"))
    return (int(models) if models.isdigit() else 0, others, int(point["workers"] or 0))


def _point_title(key: tuple, named: list[str], runs: int) -> str:
    point = dict(zip([n for n in IDENTITY if n != "mode"], key, strict=True))
    labels = [f"{name}={point[name]}" for name in named]
    if point["models"]:
        labels.append(f"models={point['models']}")
    elif not named:
        labels.append(f"project={point['project']}")
    labels.append(f"workers={point['workers']}")
    return " ".join(labels) + (f"  (median of {runs} runs per mode)" if runs > 1 else "")


def _point_table(modes: dict[str, list[dict]]) -> list[str]:
    from experiments.tables import aligned, figure, times

    medians = {mode: {c: _median(rows, c) for c, *_ in COLUMNS} for mode, rows in modes.items()}
    lazy = medians.get("lazy", {})
    best = {}
    for column, *_ in COLUMNS:
        measured = {mode: m[column] for mode, m in medians.items() if m[column] is not None}
        if len(measured) > 1:
            best[column] = min(measured, key=measured.get)
    table = []
    for mode in sorted(modes, key=mode_rank):
        cells = [mode]
        for column, _, digits, _ in COLUMNS:
            value = medians[mode][column]
            ratio = "" if mode == "lazy" else times(value, lazy.get(column))
            mark = "*" if best.get(column) == mode else ""
            cells.append(f"{figure(value, digits)}{' ' + ratio if ratio else ''}{mark}")
        table.append([*cells, str(len(modes[mode]))])
    lines = aligned(["mode", *(header for _, header, _, _ in COLUMNS), "runs"], table)
    if best:
        lines.append(
            "best: " + ", ".join(f"{h.rsplit(' ', 1)[0]} {best[c]}" for c, h, *_ in COLUMNS if c in best)
        )
    return lines


def summarize(rows: list[dict]) -> list[str]:
    """One table per point (models, workers, and any other identity column of experiments.columns.IDENTITY
    that takes more than one value): a row per mode, the median over its ok runs, its ratio against lazy's
    (×0.50: half of lazy's), the best of the point marked *; then a legend line per column::

        models=300 workers=4  (median of 3 runs per mode)
        mode         startup s   memory MB   memory steady MB   first_query ms   runs
        lazy              2.10         820                845              310      3
        prewarm    0.46 ×0.22*    74 ×0.09*          402 ×0.48       11 ×0.04*      3
        best: startup prewarm, memory prewarm, memory steady prewarm, first_query prewarm
    """
    ok = [row for row in rows if row.get("status") == "ok"]
    named = [
        name
        for name in IDENTITY
        if name not in ("models", "workers", "mode") and len({row.get(name) or "" for row in ok}) > 1
    ]
    lines: list[str] = []
    points = _points(ok)
    for key in sorted(points, key=_point_order):
        runs = max(len(group) for group in points[key].values())
        lines += [*([""] if lines else []), _point_title(key, named, runs), *_point_table(points[key])]
    if lines:
        lines += ["", *(f"  {header}: {legend}" for _, header, _, legend in COLUMNS)]
        lines.append(
            "  ×: against lazy at the same point (×0.50 = half of lazy's); *: the lowest of the point"
        )
    return lines
