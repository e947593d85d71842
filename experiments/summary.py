"""End-of-sweep summary per mode, in the talk's format; returns lines."""

from __future__ import annotations

import statistics

from experiments.modes import mode_rank


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _median(rows: list[dict], column: str) -> float | None:
    values = [v for v in (_number(r.get(column)) for r in rows) if v is not None]
    return statistics.median(values) if values else None


def summarize(rows: list[dict]) -> list[str]:
    """Median over repetitions of every ok run, grouped by server, project, workers and mode.

    [prewarm] models=300 workers=4            (the server is named when it is not uwsgi)
    startup       = 0.46 s
    memory        = 74 MB
    memory steady = 80 MB                     (after one full collection in every worker)
    first_query   = 11 ms
    """
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if row.get("status") != "ok":
            continue
        key = (
            row.get("server") or "uwsgi",
            row.get("project", ""),
            row.get("models", ""),
            int(row.get("workers") or 0),
            row.get("mode", ""),
        )
        groups.setdefault(key, []).append(row)

    def order(key: tuple) -> tuple:
        server, project, models, workers, mode = key
        return (server, int(models) if str(models).isdigit() else 0, project, workers, mode_rank(mode))

    lines: list[str] = []
    for key in sorted(groups, key=order):
        server, project, models, workers, mode = key
        group = groups[key]
        what = f"models={models}" if models else f"project={project}"
        if server != "uwsgi":
            what = f"{server} {what}"
        startup = _median(group, "startup_s")
        memory = _median(group, "memory_mb")
        steady = _median(group, "memory_steady_mb")
        first = _median(group, "first_query_ms")
        if lines:
            lines.append("")
        lines.append(
            f"[{mode}] {what} workers={workers}" + (f"  (median of {len(group)})" if len(group) > 1 else "")
        )
        lines.append(f"startup       = {startup:.2f} s" if startup is not None else "startup       = n/a")
        lines.append(f"memory        = {memory:.0f} MB" if memory is not None else "memory        = n/a")
        if steady is not None:
            lines.append(f"memory steady = {steady:.0f} MB")
        lines.append(f"first_query   = {first:.0f} ms" if first is not None else "first_query   = n/a")
    return lines
