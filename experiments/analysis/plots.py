"""PNG figures of an analysis: one file per figure, one line per mode, error bars from bootstrap CIs where a
figure says so. Every figure names its server(s) and project(s) in its title and labels its axes for people
(the registry's headings and units); a log axis says so.

matplotlib is imported inside the functions (Agg canvas, no pyplot global state); pandas objects are
only received, never imported here. The drawing kit is figures.py, the parts of the stacked figures parts.py;
every figure is saved through ``_save``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from experiments.analysis.figures import (
    PROJECT_STYLES,
    PlotResult,
    ci_errors,
    lines_of,
    mode_style,
    modes_of,
    new_figure,
    new_figures,
    set_title,
    set_x,
    slice_of,
    unit_label,
    value_text,
)
from experiments.analysis.figures import save as _save
from experiments.analysis.parts import (
    FIRST_REQUEST_PARTS,
    PART_COLOURS,
    PRIVATE_PARTS,
    STARTUP_PARTS,
    stacked_rows,
)
from experiments.columns import label

if TYPE_CHECKING:
    from experiments.analysis.stats import Analysis

__all__ = ["PlotResult", "plot_memory_vs_workers", "plot_metric_vs_models", "plot_stacked", "write_plots"]


def plot_metric_vs_models(
    summary,
    metric: str,
    path: Path,
    *,
    workers: int | None,
    title: str,
    log_y: bool = False,
    keys: list[str] | None = None,
    steady: str | None = None,
) -> PlotResult:
    """Median of ``metric`` against models at a fixed worker count: one line per mode and per series of
    projects (``stats.series_of``: a project's sizes), named in the legend when there are several. With
    ``steady`` (the same reading at steady state) a second panel beside it, on the same y axis, where any run
    has it."""
    from experiments.analysis.grouping import with_series

    name = Path(path).stem
    rows, xs, skipped = slice_of(summary, metric, "workers", workers, "models")
    if skipped:
        return PlotResult(name, title, None, skipped=skipped)
    note = f"workers={workers}"
    if log_y and (rows["median"] <= 0).any():
        log_y = False
        note += "; linear y axis because some values are not positive"
    panels = [(metric, rows)]
    later = slice_of(summary, steady, "workers", workers, "models") if steady else (None, [], "none asked")
    if not later[2]:
        panels.append((steady, later[0]))
        note += "; left: after traffic, right: at steady state (after a full collection in every worker)"
    fig, axes = new_figures(len(panels))
    for ax, (shown_metric, data) in zip(axes, panels, strict=True):
        legend_title = _draw_vs_models(ax, with_series(data), keys, log_y)
        set_x(ax, xs, "models")
        if len(panels) > 1:
            ax.set_title("after traffic" if shown_metric == metric else "at steady state", fontsize=10)
    ylabel = label(metric) if len(panels) == 1 else unit_label(metric)
    axes[0].set_ylabel(ylabel + (" (log scale)" if log_y else ""))
    axes[0].legend(title=legend_title, fontsize="small")
    if not log_y:
        axes[0].set_ylim(bottom=0)
    set_title(fig if len(panels) > 1 else axes[0], title, f"workers={workers}", with_series(rows))
    return PlotResult(name, title, _save(fig, Path(path)), note=note, error_bars=True)


def _draw_vs_models(ax, rows, keys: list[str] | None, log_y: bool) -> str:
    """The lines of one panel: per mode and series; returns the legend's title."""
    from experiments.analysis.grouping import SERIES

    keys = [k for k in (keys or ["mode"]) if k not in ("models", "workers", "project")] + [SERIES]
    lines, shown = lines_of(rows, keys, [k for k in keys if k != "mode"])
    modes = modes_of(rows)
    for values, suffix, index, data in lines:
        mode = values["mode"]
        data = data.sort_values("models")
        colour, marker = mode_style(mode, modes)
        linestyle, fill = PROJECT_STYLES[index % len(PROJECT_STYLES)]
        ax.errorbar(
            data["models"].tolist(),
            data["median"].tolist(),
            yerr=ci_errors(data),
            label=f"{mode} · {suffix}" if suffix else mode,
            color=colour,
            marker=marker,
            fillstyle=fill,
            linestyle=linestyle,
            markersize=6,
            linewidth=1.8,
            capsize=4,
        )
    if log_y:
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.grid(True, which="minor", alpha=0.15)
    return " · ".join(["mode", *shown])


def plot_memory_vs_workers(
    summary,
    per_worker,
    path: Path,
    *,
    models: int | None,
    title: str,
    metric: str = "memory_mb",
    keys: list[str] | None = None,
) -> PlotResult:
    """Median of ``metric`` against workers at a fixed model count, one line per mode and per project (named
    in the legend when there are several), with the fitted lines of ``per_worker`` when it has any."""
    name = Path(path).stem
    rows, xs, skipped = slice_of(summary, metric, "models", models, "workers")
    if skipped:
        return PlotResult(name, title, None, skipped=skipped)
    keys = [k for k in (keys or ["mode"]) if k not in ("models", "workers")]
    lines, shown = lines_of(rows, keys, [k for k in keys if k != "mode"])
    fits = per_worker[per_worker["models"] == models] if per_worker is not None and len(per_worker) else None
    fig, ax = new_figure()
    modes = modes_of(rows)
    for values, suffix, index, data in lines:
        mode = values["mode"]
        data = data.sort_values("workers")
        colour, marker = mode_style(mode, modes)
        linestyle, fill = PROJECT_STYLES[index % len(PROJECT_STYLES)]
        fit = fits
        for k, value in values.items() if fit is not None else ():
            fit = fit[fit[k].isna()] if value is None else fit[fit[k] == value]
        legend = f"{mode} · {suffix}" if suffix else mode
        if fit is not None and not fit.empty:
            f = fit.iloc[0]
            legend = f"{legend}: {f['slope']:+.1f} MB/worker (R²={f['r2']:.2f})"
            x0, x1 = float(f["workers_min"]), float(f["workers_max"])
            ax.plot(
                [x0, x1],
                [f["intercept"] + f["slope"] * x0, f["intercept"] + f["slope"] * x1],
                color=colour,
                linestyle="--" if linestyle == "-" else linestyle,
                linewidth=1.5,
            )
        ax.errorbar(
            data["workers"].tolist(),
            data["median"].tolist(),
            yerr=ci_errors(data),
            label=legend,
            color=colour,
            marker=marker,
            fillstyle=fill,
            markersize=6,
            linestyle="none" if fits is not None else linestyle,  # no fitted line: join the medians
            linewidth=1.2,
            capsize=4,
        )
    set_x(ax, xs, "workers")
    ax.set_ylabel(label(metric))
    set_title(ax, title, f"models={models}" + ("; dashed: linear fit" if fits is not None else ""), rows)
    ax.set_ylim(bottom=0)
    ax.legend(title=" · ".join(["mode", *shown]), fontsize="small")
    return PlotResult(name, title, _save(fig, Path(path)), note=f"models={models}", error_bars=True)


def plot_stacked(
    summary, parts, path: Path, *, models, workers, keys, title: str, unit: str, marker=None
) -> PlotResult:
    """One stacked bar per mode (and project) at the seed point: where a total goes, part by part, the total
    written on each bar. ``marker``: (metric, legend) of one more reading drawn as a bar-wide line, its value
    beside it (a worker's USS at steady state beside what it keeps after traffic)."""
    name = Path(path).stem
    bars = stacked_rows(summary, parts, models, workers, keys)
    if not bars:
        return PlotResult(name, title, None, skipped=f"no runs with {parts[0][0]} at models={models}")
    fig, ax = new_figure()
    labels = list(bars)
    bottoms = [0.0] * len(labels)
    container = None
    for index, (_metric, part) in enumerate(parts):
        heights = [bars[label][index] for label in labels]
        colour = PART_COLOURS[index % len(PART_COLOURS)]
        container = ax.bar(labels, heights, bottom=bottoms, label=part, color=colour)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    # the totals, so that a bar too short to see (5 ms beside 3,000) still says what it is
    ax.bar_label(container, labels=[value_text(total) for total in bottoms], padding=2, fontsize=8)
    top = max(bottoms)
    if marker is not None:
        values = stacked_rows(summary, [marker], models, workers, keys)
        top = max([top, *(v[0] for v in values.values())])
        _draw_marker(ax, values, dict(zip(labels, bottoms, strict=True)), marker[1], top)
    ax.set_ylabel(unit)
    ax.set_ylim(bottom=0, top=top * 1.4 or 1)  # room above the bars for the totals and the legend
    at = summary[(summary["models"] == models) & (summary["workers"] == workers)]
    set_title(ax, title, f"models={models}, workers={workers}", at)
    # slanted and anchored at their end, so that long labels (mode · server) stay apart
    ax.set_xticks(range(len(labels)), labels, rotation=25, ha="right", fontsize=8 if len(labels) > 6 else 9)
    ax.legend(fontsize="small", loc="upper center", ncol=2)
    return PlotResult(name, title, _save(fig, Path(path)), note=f"models={models}, workers={workers}")


def _draw_marker(
    ax, values: dict[str, list[float]], totals: dict[str, float], legend: str, top: float
) -> None:
    """A black bar-wide line at each bar's value of one more reading, its value above it unless the bar's own
    total, written there, already says it."""
    xs = [i for i, label in enumerate(totals) if label in values]
    if not xs:
        return
    labels = list(totals)
    ys = [values[labels[i]][0] for i in xs]
    ax.hlines(
        ys, [x - 0.4 for x in xs], [x + 0.4 for x in xs], color="black", linewidth=2.2, zorder=3, label=legend
    )
    for x, y in zip(xs, ys, strict=True):
        if abs(y - totals[labels[x]]) > 0.03 * top:
            ax.annotate(
                value_text(y), (x, y), xytext=(0, 2), textcoords="offset points", fontsize=8, ha="center"
            )


def _explain_plots(analysis: Analysis, out_dir: Path) -> list[PlotResult]:
    point = {"models": analysis.seed_models, "workers": analysis.seed_workers, "keys": analysis.keys}
    s = analysis.summary
    return [
        plot_stacked(
            s,
            STARTUP_PARTS,
            out_dir / "startup_phases.png",
            title="Where loading goes",
            unit="time in the process that loads the app (s)",
            **point,
        ),
        plot_stacked(
            s,
            FIRST_REQUEST_PARTS,
            out_dir / "first_request_phases.png",
            title="Where a worker's first request goes",
            unit="a worker's first request, mean over workers (ms)",
            **point,
        ),
        plot_stacked(
            s,
            PRIVATE_PARTS,
            out_dir / "private_memory.png",
            title="What each worker keeps private",
            unit="private memory (USS) of the mean worker (MB)",
            marker=("worker_uss_steady_mb_mean", "USS at steady state (after a full collection)"),
            **point,
        ),
    ]


def _vs_models_plots(analysis: Analysis, out_dir: Path) -> list[PlotResult]:
    s, w, keys = analysis.summary, analysis.models_plot_workers, analysis.keys
    return [
        plot_metric_vs_models(
            s,
            "startup_s",
            out_dir / "startup_vs_models.png",
            workers=w,
            title="Start-up time vs project size",
            keys=keys,
        ),
        plot_metric_vs_models(
            s,
            "memory_mb",
            out_dir / "memory_vs_models.png",
            workers=w,
            title="Memory vs project size",
            keys=keys,
            steady="memory_steady_mb",
        ),
        plot_metric_vs_models(
            s,
            "first_query_ms",
            out_dir / "first_query_vs_models.png",
            workers=w,
            title="First request after ready vs project size",
            log_y=True,
            keys=keys,
        ),
    ]


def _vs_workers_plots(analysis: Analysis, out_dir: Path) -> list[PlotResult]:
    s, keys = analysis.summary, analysis.keys
    at = {"models": analysis.workers_plot_models, "keys": keys}
    return [
        plot_memory_vs_workers(
            s,
            analysis.per_worker,
            out_dir / "memory_vs_workers.png",
            title="Memory after traffic vs workers",
            **at,
        ),
        plot_memory_vs_workers(
            s,
            analysis.per_worker_steady,
            out_dir / "memory_steady_vs_workers.png",
            title="Memory at steady state vs workers",
            metric="memory_steady_mb",
            **at,
        ),
        plot_memory_vs_workers(
            s,
            None,
            out_dir / "startup_vs_workers.png",
            title="Start-up time vs workers",
            metric="startup_s",
            **at,
        ),
    ]


def write_plots(analysis: Analysis, out_dir: Path) -> list[PlotResult]:
    """Write every figure into ``out_dir``; a skipped figure removes any stale PNG of the same name."""
    out_dir = Path(out_dir)
    results = [
        *_vs_models_plots(analysis, out_dir),
        *_vs_workers_plots(analysis, out_dir),
        *_explain_plots(analysis, out_dir),
    ]
    for result in results:
        if result.path is None:
            (out_dir / result.filename).unlink(missing_ok=True)
    return results
