"""PNG figures of an analysis: one file per figure, one line per mode, error bars from bootstrap CIs where a
figure says so. Every figure names its server(s) and project(s) in its title and labels its axes for people
(the registry's headings and units); a log axis says so.

matplotlib is imported inside the functions (Agg canvas, no pyplot global state); pandas objects are
only received, never imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.columns import BY_NAME, label
from experiments.servers import SERVER_LABELS

if TYPE_CHECKING:
    from experiments.analysis.stats import Analysis

MODE_STYLE: dict[str, tuple[str, str]] = {  # mode -> (colour, marker); same in every figure
    "lazy": ("#d62728", "o"),
    "prefork": ("#1f77b4", "s"),
    "prewarm": ("#2ca02c", "^"),
    "prewarm-freeze": ("#9467bd", "D"),
    "lazy-warm": ("#ff7f0e", "v"),
    "prefork-warm": ("#17becf", "P"),
}
_EXTRA_STYLES = (("#8c564b", "h"), ("#e377c2", "X"), ("#7f7f7f", "*"), ("#bcbd22", "p"))
# Lines of one mode that belong to different projects (sweeps …): same colour, these line and marker styles.
_PROJECT_STYLES = (("-", "full"), ("--", "none"), (":", "full"), ("-.", "none"))

FIGSIZE = (7.5, 4.8)
DPI = 130


@dataclass(frozen=True)
class PlotResult:
    name: str  # file stem, e.g. "startup_vs_models"
    title: str
    path: Path | None  # the written PNG; None when skipped
    skipped: str = ""  # why the figure was not drawn
    note: str = ""  # remark for the report (e.g. the slice shown)
    error_bars: bool = False  # whether it draws the bootstrap CIs of its medians

    @property
    def filename(self) -> str:
        return f"{self.name}.png"


def mode_style(mode: str, modes: list[str]) -> tuple[str, str]:
    if mode in MODE_STYLE:
        return MODE_STYLE[mode]
    others = [m for m in modes if m not in MODE_STYLE]
    return _EXTRA_STYLES[others.index(mode) % len(_EXTRA_STYLES)] if mode in others else _EXTRA_STYLES[0]


def _figure():
    fig, (ax,) = _figures(1)
    return fig, ax


def _figures(panels: int):
    """A figure of ``panels`` side by side sharing their y axis, each a grid."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(FIGSIZE[0] * (1 + 0.6 * (panels - 1)), FIGSIZE[1]), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, sharey=True, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, which="major", alpha=0.35)
    return fig, list(axes)


def subject_of(rows, limit: int = 3) -> str:
    """The server(s) and project(s) a figure shows, for its title: "uWSGI · realistic-m*-s0"."""
    parts = []
    for column, names in (
        ("server", SERVER_LABELS),
        ("series" if "series" in rows.columns else "project", {}),
    ):
        if column not in rows.columns:
            continue
        values = list(dict.fromkeys(str(v) for v in rows[column].dropna()))
        if values:
            more = f" and {len(values) - limit} more" if len(values) > limit else ""
            parts.append(", ".join(names.get(v, v) for v in values[:limit]) + more)
    return " · ".join(parts)


def _title(target, title: str, detail: str, rows) -> None:
    """``title (detail)`` over a second line naming the server(s) and project(s); ``target``: an axis or a
    figure (its suptitle)."""
    subject = subject_of(rows)
    text = f"{title} ({detail})" + (f"\n{subject}" if subject else "")
    if hasattr(target, "suptitle"):
        target.suptitle(text, fontsize=11)
    else:
        target.set_title(text, fontsize=10)


LOG_X_RATIO = 20  # x values spanning this factor or more get a log axis


def _errors(rows) -> list[list[float]]:
    """Asymmetric error bars from CI bounds, never negative."""
    low = (rows["median"] - rows["ci_low"]).clip(lower=0).tolist()
    high = (rows["ci_high"] - rows["median"]).clip(lower=0).tolist()
    return [low, high]


def _set_x(ax, xs, name: str) -> None:
    """Ticks at the measured values and the axis label, which says when the axis is logarithmic."""
    xs = sorted({int(x) for x in xs})
    logarithmic = bool(xs and xs[0] > 0 and xs[-1] / xs[0] >= LOG_X_RATIO)
    if logarithmic:
        ax.set_xscale("log")  # 30 → 3,000 models: a linear axis crushes the small sizes together
        ax.minorticks_off()
    if len(xs) <= 12:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
    ax.set_xlabel(label(name) + (" (log scale)" if logarithmic else ""))


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def _modes(rows) -> list[str]:
    from experiments.analysis.grouping import ordered_modes

    return ordered_modes(rows["mode"])


def _lines(rows, keys: list[str], candidates: list[str]):
    """The lines of a plot: (key values, label suffix, style index, rows) per distinct value of ``keys``.

    Lines of one mode are told apart by the ``candidates`` that differ between them (project, sweep …): those
    name the line in the legend, and the line's style; with one project the legend is the mode alone.
    """
    from experiments.analysis.grouping import distinguishing, groups

    shown = distinguishing(rows, ["mode"], candidates)
    rests: list[tuple] = []
    lines = []
    for values, group in sorted(groups(rows, keys), key=lambda item: _line_order(item[0], shown)):
        rest = tuple("" if values[c] is None else str(values[c]) for c in shown)
        if rest not in rests:
            rests.append(rest)
        lines.append((values, ", ".join(rest), rests.index(rest), group))
    return lines, shown


def _line_order(values: dict, shown: list[str]) -> tuple:
    from experiments.analysis.grouping import mode_sort_key

    return (tuple("" if values[c] is None else str(values[c]) for c in shown), mode_sort_key(values["mode"]))


def _slice(summary, metric: str, fixed: str, value: int | None, varied: str):
    """Rows of ``metric`` at ``fixed == value`` and the sorted values of ``varied``, or why there is no plot."""
    rows = (
        summary[(summary["metric"] == metric) & (summary[fixed] == value)]
        if value is not None
        else summary[:0]
    )
    if rows.empty:
        return rows, [], f"no successful runs with {metric}"
    xs = sorted(rows[varied].unique())
    if len(xs) < 2:
        return rows, xs, f"a single value of {varied} ({xs[0]}) at {fixed}={value}: no axis to plot"
    return rows, xs, None


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
    rows, xs, skipped = _slice(summary, metric, "workers", workers, "models")
    if skipped:
        return PlotResult(name, title, None, skipped=skipped)
    note = f"workers={workers}"
    if log_y and (rows["median"] <= 0).any():
        log_y = False
        note += "; linear y axis because some values are not positive"
    panels = [(metric, rows)]
    later = _slice(summary, steady, "workers", workers, "models") if steady else (None, [], "none asked")
    if not later[2]:
        panels.append((steady, later[0]))
        note += "; left: after traffic, right: at steady state (after a full collection in every worker)"
    fig, axes = _figures(len(panels))
    for ax, (shown_metric, data) in zip(axes, panels, strict=True):
        legend_title = _draw_vs_models(ax, with_series(data), keys, log_y)
        _set_x(ax, xs, "models")
        if len(panels) > 1:
            ax.set_title("after traffic" if shown_metric == metric else "at steady state", fontsize=10)
    ylabel = label(metric) if len(panels) == 1 else _unit_label(metric)
    axes[0].set_ylabel(ylabel + (" (log scale)" if log_y else ""))
    axes[0].legend(title=legend_title, fontsize="small")
    if not log_y:
        axes[0].set_ylim(bottom=0)
    _title(fig if len(panels) > 1 else axes[0], title, f"workers={workers}", with_series(rows))
    return PlotResult(name, title, _save(fig, Path(path)), note=note, error_bars=True)


def _unit_label(metric: str) -> str:
    """The y label shared by an after-traffic and a steady-state panel: what both read, and the unit."""
    return f"total PSS of master + workers ({BY_NAME[metric].unit})"


def _draw_vs_models(ax, rows, keys: list[str] | None, log_y: bool) -> str:
    """The lines of one panel: per mode and series; returns the legend's title."""
    from experiments.analysis.grouping import SERIES

    keys = [k for k in (keys or ["mode"]) if k not in ("models", "workers", "project")] + [SERIES]
    lines, shown = _lines(rows, keys, [k for k in keys if k != "mode"])
    modes = _modes(rows)
    for values, suffix, index, data in lines:
        mode = values["mode"]
        data = data.sort_values("models")
        colour, marker = mode_style(mode, modes)
        linestyle, fill = _PROJECT_STYLES[index % len(_PROJECT_STYLES)]
        ax.errorbar(
            data["models"].tolist(),
            data["median"].tolist(),
            yerr=_errors(data),
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
    rows, xs, skipped = _slice(summary, metric, "models", models, "workers")
    if skipped:
        return PlotResult(name, title, None, skipped=skipped)
    keys = [k for k in (keys or ["mode"]) if k not in ("models", "workers")]
    lines, shown = _lines(rows, keys, [k for k in keys if k != "mode"])
    fits = per_worker[per_worker["models"] == models] if per_worker is not None and len(per_worker) else None
    fig, ax = _figure()
    modes = _modes(rows)
    for values, suffix, index, data in lines:
        mode = values["mode"]
        data = data.sort_values("workers")
        colour, marker = mode_style(mode, modes)
        linestyle, fill = _PROJECT_STYLES[index % len(_PROJECT_STYLES)]
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
            yerr=_errors(data),
            label=legend,
            color=colour,
            marker=marker,
            fillstyle=fill,
            markersize=6,
            linestyle="none" if fits is not None else linestyle,  # no fitted line: join the medians
            linewidth=1.2,
            capsize=4,
        )
    _set_x(ax, xs, "workers")
    ax.set_ylabel(label(metric))
    _title(ax, title, f"models={models}" + ("; dashed: linear fit" if fits is not None else ""), rows)
    ax.set_ylim(bottom=0)
    ax.legend(title=" · ".join(["mode", *shown]), fontsize="small")
    return PlotResult(name, title, _save(fig, Path(path)), note=f"models={models}", error_bars=True)


# Stacked parts of the "explain why" figures: (metric, label), bottom first.
STARTUP_PARTS: tuple[tuple[str, str], ...] = (
    ("phase_settings_s", "settings"),
    ("phase_apps_import_s", "apps: import"),
    ("phase_models_s", "apps: models"),
    ("phase_ready_s", "apps: ready()"),
    ("phase_middleware_s", "middleware"),
    ("phase_other_s", "the rest of wsgi.py"),
    ("phase_warmup_s", "warm-up"),
)
FIRST_REQUEST_PARTS: tuple[tuple[str, str], ...] = (
    ("phase_urlconf_ms", "URLconf import"),
    ("phase_db_connect_ms", "DB connect"),
    ("phase_templates_ms", "templates"),
    ("phase_view_ms", "view and the rest"),
)
PRIVATE_PARTS: tuple[tuple[str, str], ...] = (
    ("worker_private_anon_mb_mean", "anonymous (object arenas)"),
    ("worker_private_heap_mb_mean", "malloc heap"),
    ("worker_private_file_mb_mean", "file-backed"),
    ("worker_private_other_mb_mean", "stack and other"),
)
_PART_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")


def stacked_rows(summary, parts, models: int | None, workers: int | None, keys: list[str]):
    """{bar label: [median of each part]} at one (models, workers), bars in mode order, a project (or other
    identity) named in the label only when several share the point."""
    from experiments.analysis.grouping import distinguishing, groups, mode_sort_key

    names = [metric for metric, _ in parts]
    rows = summary[
        summary["metric"].isin(names) & (summary["models"] == models) & (summary["workers"] == workers)
    ]
    if rows.empty:
        return {}
    keys = [k for k in keys if k not in ("models", "workers")]
    shown = distinguishing(rows, ["mode", "metric"], [k for k in keys if k != "mode"])
    bars = {}
    for values, group in sorted(groups(rows, keys), key=lambda item: mode_sort_key(item[0]["mode"])):
        label = " · ".join([values["mode"], *(str(values[c]) for c in shown)])
        medians = dict(zip(group["metric"], group["median"], strict=True))
        bars[label] = [float(medians.get(metric, 0.0)) for metric in names]
    return bars


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
    fig, ax = _figure()
    labels = list(bars)
    bottoms = [0.0] * len(labels)
    container = None
    for index, (_metric, part) in enumerate(parts):
        heights = [bars[label][index] for label in labels]
        colour = _PART_COLOURS[index % len(_PART_COLOURS)]
        container = ax.bar(labels, heights, bottom=bottoms, label=part, color=colour)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    # the totals, so that a bar too short to see (5 ms beside 3,000) still says what it is
    ax.bar_label(container, labels=[_value(total) for total in bottoms], padding=2, fontsize=8)
    top = max(bottoms)
    if marker is not None:
        values = stacked_rows(summary, [marker], models, workers, keys)
        top = max([top, *(v[0] for v in values.values())])
        _draw_marker(ax, values, dict(zip(labels, bottoms, strict=True)), marker[1], top)
    ax.set_ylabel(unit)
    ax.set_ylim(bottom=0, top=top * 1.4 or 1)  # room above the bars for the totals and the legend
    at = summary[(summary["models"] == models) & (summary["workers"] == workers)]
    _title(ax, title, f"models={models}, workers={workers}", at)
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
            ax.annotate(_value(y), (x, y), xytext=(0, 2), textcoords="offset points", fontsize=8, ha="center")


def _value(v: float) -> str:
    """A value written on a figure, at a precision one takes in at a glance: 0.46, 9.3, 132."""
    size = abs(v)
    return f"{v:.0f}" if size >= 10 or size == 0 else f"{v:.1f}" if size >= 1 else f"{v:.2f}"


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
