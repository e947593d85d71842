"""The figures of a day in a worker's life: memory against requests per mode, and what a recycle costs.

matplotlib is imported inside the functions (Agg canvas); pandas objects are only received.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from experiments.analysis.figures import DPI, PlotResult, mode_style, subject_of

if TYPE_CHECKING:
    from experiments.analysis.day import Day

MAX_PANELS = 6
PANEL_SIZE = (5.2, 3.4)


def _figure(panels: int, columns: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = -(-panels // columns)
    fig = Figure(figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows + 0.6), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes


def _shown(name: str, value) -> str:
    """A panel's value as a reader says it: "81 models", "recycling off", "max_requests 1000±50"."""
    if name == "models":
        return f"{value} models"
    if name == "workers":
        return f"{value} workers"
    if name == "recycling":
        return "no recycling" if str(value) == "off" else str(value)
    return str(value)


def _panels(frame, keys: list[str]):
    """(title, part) per value of the keys that vary, at most MAX_PANELS."""
    if not keys:
        return [("", frame)]
    found = []
    for key, part in frame.groupby(keys, dropna=False, sort=False):
        values = key if isinstance(key, tuple) else (key,)
        found.append((", ".join(_shown(name, v) for name, v in zip(keys, values, strict=True)), part))
    return found[:MAX_PANELS]


def _run_line(ax, readings, colour: str, marker: str, label: str | None) -> None:
    """One run: total PSS per reading against requests per worker; an x where a worker ran its first full
    collection."""
    workers = int(readings["workers"].iloc[0])
    by_reading = readings.groupby(["requests", "seconds"], sort=True)
    totals = by_reading["pss_mb"].sum().reset_index()
    xs = totals["requests"] / workers
    ax.plot(xs, totals["pss_mb"], color=colour, linewidth=1.2, label=label)
    # a worker's first full collection (a replacement starts from 0): the one that makes every object it
    # inherited private; later ones change little, and frozen workers run many
    workers_read = readings[readings["process"] == "worker"].sort_values(["pid", "requests", "seconds"])
    before = workers_read.groupby("pid")["gen2"].shift(1).fillna(0)
    rose = (before == 0) & (workers_read["gen2"].fillna(0) > 0)
    marked = set(zip(workers_read["requests"][rose], workers_read["seconds"][rose], strict=True))
    collected = [(r, s) in marked for r, s in zip(totals["requests"], totals["seconds"], strict=True)]
    if any(collected):
        ax.scatter(xs[collected], totals["pss_mb"][collected], color=colour, marker="x", s=28, zorder=3)


def plot_memory_over_requests(day: Day, out_dir: Path) -> PlotResult:
    name, title = "memory_over_requests", "Total memory (PSS) over long traffic, per mode"
    readings = day.timeline
    if readings.empty:
        return PlotResult(name, title, None, skipped="no timeline: the runs did not set traffic.sample_every")
    panels = _panels(readings, day.keys)
    fig, axes = _figure(len(panels), min(2, len(panels)))
    modes = list(dict.fromkeys(readings["mode"]))
    for ax, (panel, part) in zip(axes, panels, strict=False):
        labelled = set()
        for (mode, _run), run in part.groupby(["mode", "run_id"], sort=False):
            colour, marker = mode_style(mode, modes)
            _run_line(ax, run, colour, marker, None if mode in labelled else mode)
            labelled.add(mode)
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("requests served per worker")
        ax.set_ylabel("total PSS, master + workers (MB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, title="× a worker's first full collection", title_fontsize=7)
    fig.suptitle(_with_subject(title, day.table), fontsize=11)
    fig.tight_layout()
    path = out_dir / f"{name}.png"
    fig.savefig(path)
    return PlotResult(name, title, path)


def plot_recycle_cost(day: Day, out_dir: Path) -> PlotResult:
    name, title = "recycle_cost", "What one recycle costs, per mode"
    table = day.table
    if not (table["recycles"].fillna(0) > 0).any():
        return PlotResult(name, title, None, skipped="no worker was recycled")
    recycled = table[table["recycles"].fillna(0) > 0]
    keys = [key for key in day.keys if key != "recycling"]
    groups = _panels(recycled, keys)
    metrics = (
        ("recycle_unavailable_ms_mean", "its slot without a worker (ms)"),
        ("recycle_first_request_ms_mean", "the replacement's first request (ms)"),
    )
    fig, axes = _figure(len(metrics), len(metrics))
    modes = list(dict.fromkeys(recycled["mode"]))
    width = 0.8 / max(1, len(modes))
    for ax, (metric, label) in zip(axes, metrics, strict=True):
        for m, mode in enumerate(modes):
            colour, _ = mode_style(mode, modes)
            values = [part[part["mode"] == mode][metric].median() for _, part in groups]
            xs = [g + (m - (len(modes) - 1) / 2) * width for g in range(len(groups))]
            bars = ax.bar(xs, [0 if v != v else v for v in values], width, color=colour, label=mode)
            ax.bar_label(bars, labels=[f"{v:.0f}" if v == v else "" for v in values], fontsize=6)
        ax.set_xticks(range(len(groups)), [panel or "all" for panel, _ in groups], fontsize=7)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)
    fig.suptitle(_with_subject(title, recycled), fontsize=11)
    fig.tight_layout()
    path = out_dir / f"{name}.png"
    fig.savefig(path)
    return PlotResult(name, title, path)


def _with_subject(title: str, rows) -> str:
    subject = subject_of(rows)
    return f"{title}\n{subject}" if subject else title


def write_day_plots(day: Day, out_dir: Path) -> list[PlotResult]:
    return [plot_memory_over_requests(day, out_dir), plot_recycle_cost(day, out_dir)]
