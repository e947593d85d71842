"""A day in a worker's life: memory over long traffic and what recycling costs, per mode.

Reads the timeline beside each CSV (``<csv>.timeline.csv``, written by runs with ``traffic.sample_every``),
keeps the readings of successful runs only (matched on run id and start time, so that a run cut short and
retried is never read twice), and gives: a table per point (median over repetitions of the long-traffic
columns), the report's section, and two figures — total PSS against requests served per worker, one line per
mode (full collections marked), and what a recycle costs per mode. Formatters return lines; nothing prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.analysis.glossary import glossary_lines
from experiments.columns import IDENTITY, TIMELINE_COLUMNS
from experiments.export_timeline import timeline_path

if TYPE_CHECKING:
    import pandas as pd

    from experiments.analysis.figures import PlotResult

# The long-traffic columns of the day table, in order, with their heading.
DAY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("memory_mb", "memory"),
    ("memory_steady_mb", "memory steady"),
    ("memory_peak_mb", "peak"),
    ("worker_growth_mb_per_1k", "growth /1k"),
    ("latency_p50_ms", "p50"),
    ("latency_p99_ms", "p99"),
    ("requests_per_s", "req/s"),
    ("recycles", "recycles"),
    ("recycle_unavailable_ms_mean", "slot empty"),
    ("recycle_first_request_ms_mean", "first after"),
    ("recycle_worker_uss_mb_mean", "USS after"),
    ("requests_failed", "failed"),
)


@dataclass
class Day:
    table: pd.DataFrame  # one row per point: identity + DAY_COLUMNS medians + runs
    timeline: pd.DataFrame  # readings of ok runs, with the identity of their run
    keys: list[str]  # identity columns that vary (besides mode), to tell lines apart


def load_timeline(csv_paths: list[Path], df: pd.DataFrame) -> pd.DataFrame:
    """Readings of the ok runs of ``df`` from the timelines beside ``csv_paths`` (absent files: none)."""
    import pandas as pd

    frames = []
    for path in csv_paths:
        found = timeline_path(path)
        if found.is_file() and found.stat().st_size:
            frames.append(pd.read_csv(found, dtype={"run_id": str, "started_at": str}))
    names = [column.name for column in TIMELINE_COLUMNS]
    if not frames:
        return pd.DataFrame(columns=names)
    readings = pd.concat(frames, ignore_index=True)
    ok = df[df["status"] == "ok"]
    identity = ["sweep", *[name for name in IDENTITY if name in ok.columns]]
    runs = ok[["run_id", "started_at", *identity]].drop_duplicates(["run_id", "started_at"])
    return readings.merge(runs, on=["run_id", "started_at"], how="inner")


def day_table(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Medians over repetitions of the long-traffic columns, per point; and the identity columns that vary."""
    ok = df[(df["status"] == "ok") & df["requests_per_s"].notna()]
    identity = ["sweep", *[name for name in IDENTITY if name in ok.columns]]
    keys = [name for name in identity if name != "mode" and ok[name].astype(str).nunique() > 1]
    grouped = ok.groupby(identity, dropna=False, sort=False)
    table = grouped[[name for name, _ in DAY_COLUMNS]].median().reset_index()
    table["runs"] = grouped.size().to_numpy()
    from experiments.analysis.grouping import mode_sort_key

    order = sorted(
        range(len(table)),
        key=lambda i: (*[str(table.iloc[i][k]) for k in keys], mode_sort_key(table.iloc[i]["mode"])),
    )
    return table.iloc[order].reset_index(drop=True), keys


def analyze_day(csv_paths: list[Path], df: pd.DataFrame) -> Day | None:
    """None when no run read memory during its traffic (``traffic.sample_every``) nor recycled workers: every
    run's traffic has a rate and latencies, only these make a day."""
    sampled = "memory_peak_mb" in df.columns and df["memory_peak_mb"].notna().any()
    recycled = "recycling" in df.columns and (df["recycling"].fillna("off") != "off").any()
    if not (sampled or recycled):
        return None
    table, keys = day_table(df)
    return Day(table=table, timeline=load_timeline(csv_paths, df), keys=keys)


def _cell(value, name: str) -> str:
    import pandas as pd

    if value is None or pd.isna(value):
        return ""
    if name in ("recycles", "requests_failed"):
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def report_lines(day: Day, figures: list[PlotResult]) -> list[str]:
    """The report's section: the table, its glossary, a verdict per point group, and the figures."""
    table = day.table
    shown = [(name, heading) for name, heading in DAY_COLUMNS if table[name].notna().any()]
    header = [*day.keys, "mode", *[heading for _, heading in shown], "runs"]
    lines = ["## A day in a worker's life: long traffic and recycling", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for _, row in table.iterrows():
        cells = (
            [str(row[k]) for k in day.keys] + [row["mode"]] + [_cell(row[name], name) for name, _ in shown]
        )
        lines.append("| " + " | ".join([*cells, str(row["runs"])]) + " |")
    columns = {heading: name for name, heading in shown}
    lines += ["", *glossary_lines(header, columns), ""]
    lines += verdict_lines(day)
    for figure in figures:
        if figure.path is not None:
            lines += ["", f"![{figure.title}]({figure.filename})"]
        elif figure.skipped:
            lines += ["", f"*{figure.title}*: not drawn ({figure.skipped})."]
    return [*lines, ""]


def verdict_lines(day: Day) -> list[str]:
    """Per group (project, server, recycling…): the mode that holds the least memory at the end and at its
    peak, and what one recycle costs in each mode where workers were recycled."""
    table = day.table
    lines = []
    groups = table.groupby(day.keys, dropna=False, sort=False) if day.keys else [((), table)]
    for key, group in groups:
        label = ", ".join(str(k) for k in (key if isinstance(key, tuple) else (key,))) or "all runs"
        metric = "memory_peak_mb" if group["memory_peak_mb"].notna().any() else "memory_mb"
        best = group.loc[group[metric].idxmin()]
        worst = group.loc[group[metric].idxmax()]
        line = (
            f"- {label}: least memory over the traffic in **{best['mode']}** ({best[metric]:.0f} MB at its peak), "
            f"most in {worst['mode']} ({worst[metric]:.0f} MB)"
        )
        recycled = group[group["recycles"].fillna(0) > 0]
        if len(recycled):
            costs = ", ".join(
                f"{r['mode']} {_cell(r['recycle_unavailable_ms_mean'], '')} ms without a worker, then a "
                f"{_cell(r['recycle_first_request_ms_mean'], '')} ms first request"
                for _, r in recycled.iterrows()
            )
            line += f"; one recycle: {costs}"
        lines.append(line + ".")
    return lines
