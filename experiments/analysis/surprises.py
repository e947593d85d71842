"""Explanation lines for results that go against the expected direction, at the seed point.

A preloading mode is expected to hold less memory than lazy and a warmed-up mode to answer its first query faster;
prewarm's saving is expected to hold. Where a row says otherwise, one line says so with the figures that explain
it (the full collections a worker ran during traffic, what the master keeps, what a collection made private).
Formatters over the summary; they return lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from experiments.analysis.tables import cell_text
from experiments.modes import MODE_NAMES, get_mode, warms
from experiments.servers import SERVER_LABELS

if TYPE_CHECKING:
    import pandas as pd

    from experiments.analysis.stats import Analysis

WORSE = 1.02  # beyond noise: memory readings vary well under 1 %
FADED = 0.75  # prewarm's steady memory above this share of lazy's: most of its saving is gone


def _medians(summary: pd.DataFrame, point: dict) -> dict[str, dict[str, float]]:
    """mode -> metric -> median, at one point (its identity columns besides mode)."""
    part = summary
    for column, value in point.items():
        part = part[part[column].map(cell_text) == cell_text(value)]
    found: dict[str, dict[str, float]] = {}
    for _, row in part.iterrows():
        found.setdefault(row["mode"], {})[row["metric"]] = row["median"]
    return found


def _points(a: Analysis) -> list[dict]:
    keys = [k for k in a.keys if k in a.seed.columns and k != "mode"]
    return [
        dict(zip(keys, values, strict=True))
        for values in a.seed[keys].drop_duplicates().itertuples(index=False)
    ]


def _where(point: dict) -> str:
    shown = [SERVER_LABELS.get(str(point["server"]), str(point["server"]))] if "server" in point else []
    shown += [str(point[k]) for k in ("project",) if k in point]
    return f" ({', '.join(shown)})" if shown else ""


def _memory_lines(mode: str, figures: dict, lazy: dict, where: str) -> list[str]:
    lines = []
    for metric, reading in (("memory_mb", "after traffic"), ("memory_steady_mb", "at steady state")):
        ours, base = figures.get(metric), lazy.get(metric)
        if ours is None or base is None or ours <= WORSE * base:
            continue
        collections = figures.get("worker_gen2_collections_mean")
        master = figures.get("master_pss_mb")
        why = ["its master keeps the loaded app"]
        if master is not None:
            why[0] += f" ({master:.0f} MB of PSS)"
        if collections:
            why.append(
                f"its workers ran {collections:.1f} full collections during the traffic, each writing into "
                "every object they inherited, so the pages fork shared became each worker's own"
            )
        lines.append(
            f"- {mode} holds more memory than lazy {reading}{where}: {ours:.0f} against {base:.0f} MB; "
            + "; ".join(why)
            + "."
        )
    return lines


def _first_query_line(mode: str, figures: dict, lazy: dict, where: str) -> list[str]:
    ours, base = figures.get("first_query_ms"), lazy.get("first_query_ms")
    if not warms(mode) or ours is None or base is None or ours <= base:
        return []
    return [
        f"- {mode} warmed up, yet its first query took {ours:.0f} ms against lazy's {base:.0f}{where}: what the "
        "warm-up did not reach (a URL outside the warm-up list, per-process state built on the first request) "
        "is paid by the first query; `phase_*_ms` in the summary shows where."
    ]


def _faded_line(figures: dict, lazy: dict, where: str) -> list[str]:
    after, steady, base = (
        figures.get("memory_mb"),
        figures.get("memory_steady_mb"),
        lazy.get("memory_steady_mb"),
    )
    if None in (after, steady, base) or steady <= FADED * base:
        return []
    return [
        f"- prewarm's saving fades{where}: {after:.0f} MB after traffic, {steady:.0f} at steady state against "
        f"lazy's {base:.0f}: a worker's first full collection writes into every object inherited from the "
        "master; prewarm-freeze moves them out of the collector's reach and keeps the saving."
    ]


def surprise_lines(a: Analysis) -> list[str]:
    """One line per result against the expected direction at the seed point; nothing when there is none."""
    lines: list[str] = []
    for point in _points(a):
        by_mode = _medians(a.summary, point)
        lazy = by_mode.get("lazy")
        if lazy is None:
            continue
        where = _where(point)
        for mode, figures in by_mode.items():
            if mode == "lazy" or mode not in MODE_NAMES:
                continue
            if get_mode(mode).preload:
                lines += _memory_lines(mode, figures, lazy, where)
            lines += _first_query_line(mode, figures, lazy, where)
            if mode == "prewarm":
                lines += _faded_line(figures, lazy, where)
    return ["Against the expected direction:", "", *lines, ""] if lines else []
