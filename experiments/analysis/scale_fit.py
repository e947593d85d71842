"""The fitting half of experiments/analysis/scale.py: least-squares lines of start-up figures against models,
per app within a project, across a sweep's sizes, and across projects; pure functions over rows (dicts) and
counts."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

MIN_POINTS = 3
LISTED_APPS = 15  # experiments/measure/phases.py: startup_report() lists a process's slowest apps, this many
# What a generated project installs beside its own apps (its settings' INSTALLED_APPS, by label).
DJANGO_APPS = frozenset({"admin", "auth", "contenttypes", "sessions", "messages", "staticfiles", "humanize"})
# The sweep's figures fitted across sizes: (column or "+"-joined columns, heading, unit).
SWEEP_FIGURES = (
    ("startup_s", "start-up", "s"),
    ("phase_apps_import_s+phase_models_s", "apps' import + models", "s"),
    ("memory_ready_mb", "memory at ready", "MB"),
)
# The real projects' figures across projects: (key of ``real_figures``, heading, unit).
REAL_FIGURES = (
    ("load_s", "start-up", "s"),
    ("load_mb", "start-up", "MB"),
    ("library_lines", "library", "lines"),
)


@dataclass(frozen=True)
class Line:
    slope: float
    intercept: float
    points: int
    r2: float  # NaN when every y is the same

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


@dataclass(frozen=True)
class AppPoint:
    label: str
    models: int
    seconds: float  # import + models, median over the processes
    listed: int  # processes that listed it among their slowest
    processes: int


def fit_line(points: Iterable[tuple[float, float]]) -> Line | None:
    """Least squares y = a + b·x; None with fewer than MIN_POINTS distinct x (a line through two fits them
    whatever they are)."""
    pairs = [(float(x), float(y)) for x, y in points]
    if len({x for x, _ in pairs}) < MIN_POINTS:
        return None
    mean_x = statistics.fmean(x for x, _ in pairs)
    mean_y = statistics.fmean(y for _, y in pairs)
    sxx = sum((x - mean_x) ** 2 for x, _ in pairs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in pairs)
    syy = sum((y - mean_y) ** 2 for _, y in pairs)
    slope = sxy / sxx
    r2 = sxy * sxy / (sxx * syy) if syy else float("nan")
    return Line(slope, mean_y - slope * mean_x, len(pairs), r2)


def loading_processes(rows: Iterable[dict], details: dict[str, dict], project: str) -> list[dict[str, dict]]:
    """The per-app phases ({label: {import_s, models_s, ready_s, modules}}) of every process that loaded
    ``project`` alone: the master of a successful run in a preloading mode."""
    found = []
    for row in rows:
        record = details.get(row["run_id"], {})
        if row["project"] != project or row["status"] != "ok" or record.get("loaded_in") != "master":
            continue
        found += [phases["apps"] for phases in record.get("startup_phases", {}).values() if "apps" in phases]
    return found


def _cost(figures: dict) -> float:
    return figures["import_s"] + figures["models_s"]


def app_points(processes: list[dict[str, dict]], app_models: dict[str, int]) -> list[AppPoint]:
    """Per own app (``app_models``: label -> models): its import + models seconds, the median over the
    processes; where a process's full list leaves it out, that list's fastest (import + models + ready)."""
    points = []
    for label, models in sorted(app_models.items()):
        values, listed = [], 0
        for apps in processes:
            if label in apps:
                listed += 1
                values.append(_cost(apps[label]))
            elif len(apps) >= LISTED_APPS:
                values.append(min(_cost(f) + f["ready_s"] for f in apps.values()))
        if values:
            points.append(AppPoint(label, models, statistics.median(values), listed, len(processes)))
    return points


def per_app(name: str, points: list[AppPoint]) -> dict:
    """One project's line of app seconds against app models, with what to read it by: how many apps were
    always listed, and the largest app (one app holding most models leans on the line)."""
    line = fit_line((p.models, p.seconds) for p in points)
    largest = max(points, key=lambda p: p.models)
    return {
        "project": name,
        "models": sum(p.models for p in points),
        "apps": len(points),
        "always_listed": sum(p.listed == p.processes for p in points),
        "seconds": sum(p.seconds for p in points),
        "largest": f"{largest.label} ({largest.models})",
        "line": line,
    }


def _value(row: dict, column: str) -> float:
    return sum(float(row[part]) for part in column.split("+"))


def sweep_sizes(rows: Iterable[dict], mode: str, workers: int) -> dict[int, dict[str, float]]:
    """Per model count, the median of each SWEEP_FIGURES column over the successful runs of ``mode`` and
    ``workers``."""
    by_size: dict[int, list[dict]] = {}
    for row in rows:
        if row["status"] == "ok" and row["mode"] == mode and int(row["workers"]) == workers:
            by_size.setdefault(int(row["models"]), []).append(row)
    return {
        models: {
            column: statistics.median(_value(r, column) for r in runs) for column, _h, _u in SWEEP_FIGURES
        }
        for models, runs in sorted(by_size.items())
    }


def sweep_lines(sizes: dict[int, dict[str, float]]) -> dict[str, Line | None]:
    return {column: fit_line((m, v[column]) for m, v in sizes.items()) for column, _h, _u in SWEEP_FIGURES}


def real_figures(profile: dict) -> dict[str, float]:
    """What a real project's probe read at start-up (a ProjectProfile as a dict): own models, the prefork
    master's load (seconds, MB added), the library lines it loaded (neither Django's nor the standard
    library's: the prewarm master's)."""
    prefork = next(m for m in profile["modes"] if m["mode"] == "prefork")
    return {
        "own_models": profile["own_models"],
        "load_s": prefork["load_s"],
        "load_mb": prefork["load_mb"],
        "library_lines": profile["setup"]["other_lines"],
    }


def across_projects(figures: dict[str, dict[str, float]]) -> dict[str, Line | None]:
    return {
        key: fit_line((f["own_models"], f[key]) for f in figures.values()) for key, _h, _u in REAL_FIGURES
    }
