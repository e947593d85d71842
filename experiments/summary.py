"""End-of-sweep summary per mode, in the talk's format; returns lines."""

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


def summarize(rows: list[dict]) -> list[str]:
    """Median over repetitions of every ok run, grouped by experiments.columns.IDENTITY (project, workers,
    mode …). Identity columns other than models, workers and mode are named in the header only when more than
    one value is present::

    [prewarm] models=300 workers=4
    startup       = 0.46 s
    memory        = 74 MB
    memory steady = 80 MB                     (after one full collection in every worker)
    first_query   = 11 ms
    """
    ok = [row for row in rows if row.get("status") == "ok"]
    groups: dict[tuple, list[dict]] = {}
    for row in ok:
        groups.setdefault(tuple(row.get(name) or "" for name in IDENTITY), []).append(row)
    named = [
        name
        for name in IDENTITY
        if name not in ("models", "workers", "mode") and len({row.get(name) or "" for row in ok}) > 1
    ]

    def order(key: tuple) -> tuple:
        point = dict(zip(IDENTITY, key, strict=True))
        models, mode = str(point["models"]), point["mode"]
        rank = mode_rank(mode)
        others = tuple(point[name] for name in IDENTITY if name not in ("models", "workers", "mode"))
        return (int(models) if models.isdigit() else 0, others, int(point["workers"] or 0), rank)

    lines: list[str] = []
    for key in sorted(groups, key=order):
        point = dict(zip(IDENTITY, key, strict=True))
        group = groups[key]
        labels = "".join(f" {name}={point[name]}" for name in named)
        what = (
            f" models={point['models']}"
            if point["models"]
            else ("" if named else f" project={point['project']}")
        )
        startup = _median(group, "startup_s")
        memory = _median(group, "memory_mb")
        steady = _median(group, "memory_steady_mb")
        first = _median(group, "first_query_ms")
        if lines:
            lines.append("")
        lines.append(
            f"[{point['mode']}]{labels}{what} workers={point['workers']}"
            + (f"  (median of {len(group)})" if len(group) > 1 else "")
        )
        lines.append(f"startup       = {startup:.2f} s" if startup is not None else "startup       = n/a")
        lines.append(f"memory        = {memory:.0f} MB" if memory is not None else "memory        = n/a")
        if steady is not None:
            lines.append(f"memory steady = {steady:.0f} MB")
        lines.append(f"first_query   = {first:.0f} ms" if first is not None else "first_query   = n/a")
    return lines
