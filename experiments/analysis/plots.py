"""PNG figures of an analysis: one file per figure, one line per mode, error bars from bootstrap CIs.

matplotlib is imported inside the functions (Agg canvas, no pyplot global state); pandas objects are
only received, never imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.columns import label

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

    @property
    def filename(self) -> str:
        return f"{self.name}.png"


def mode_style(mode: str, modes: list[str]) -> tuple[str, str]:
    if mode in MODE_STYLE:
        return MODE_STYLE[mode]
    others = [m for m in modes if m not in MODE_STYLE]
    return _EXTRA_STYLES[others.index(mode) % len(_EXTRA_STYLES)] if mode in others else _EXTRA_STYLES[0]


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, which="major", alpha=0.35)
    return fig, ax


LOG_X_RATIO = 20  # x values spanning this factor or more get a log axis


def _errors(rows) -> list[list[float]]:
    """Asymmetric error bars from CI bounds, never negative."""
    low = (rows["median"] - rows["ci_low"]).clip(lower=0).tolist()
    high = (rows["ci_high"] - rows["median"]).clip(lower=0).tolist()
    return [low, high]


def _set_ticks(ax, xs) -> None:
    xs = sorted({int(x) for x in xs})
    if xs and xs[0] > 0 and xs[-1] / xs[0] >= LOG_X_RATIO:
        ax.set_xscale("log")  # 30 → 3,000 models: a linear axis crushes the small sizes together
        ax.minorticks_off()
    if len(xs) <= 12:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def _modes(rows) -> list[str]:
    from experiments.analysis.stats import ordered_modes

    return ordered_modes(rows["mode"])


def _lines(rows, keys: list[str], candidates: list[str]):
    """The lines of a plot: (key values, label suffix, style index, rows) per distinct value of ``keys``.

    Lines of one mode are told apart by the ``candidates`` that differ between them (project, sweep …): those
    name the line in the legend, and the line's style; with one project the legend is the mode alone.
    """
    from experiments.analysis.stats import _groups, distinguishing

    shown = distinguishing(rows, ["mode"], candidates)
    rests: list[tuple] = []
    lines = []
    for values, group in sorted(_groups(rows, keys), key=lambda item: _line_order(item[0], shown)):
        rest = tuple("" if values[c] is None else str(values[c]) for c in shown)
        if rest not in rests:
            rests.append(rest)
        lines.append((values, ", ".join(rest), rests.index(rest), group))
    return lines, shown


def _line_order(values: dict, shown: list[str]) -> tuple:
    from experiments.analysis.stats import mode_sort_key

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
) -> PlotResult:
    """Median of ``metric`` against models at a fixed worker count: one line per mode and per series of
    projects (``stats.series_of``: a project's sizes), named in the legend when there are several."""
    from experiments.analysis.stats import SERIES, with_series

    name = Path(path).stem
    rows, xs, skipped = _slice(summary, metric, "workers", workers, "models")
    if skipped:
        return PlotResult(name, title, None, skipped=skipped)
    note = f"workers={workers}"
    if log_y and (rows["median"] <= 0).any():
        log_y = False
        note += "; linear y axis because some values are not positive"
    rows = with_series(rows)
    keys = [k for k in (keys or ["mode"]) if k not in ("models", "workers", "project")] + [SERIES]
    lines, shown = _lines(rows, keys, [k for k in keys if k != "mode"])
    fig, ax = _figure()
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
    _set_ticks(ax, xs)
    ax.set_xlabel(label("models"))
    ax.set_ylabel(label(metric) + (", log scale" if log_y else ""))
    ax.set_title(f"{title} (workers={workers})")
    ax.legend(title=" · ".join(["mode", *shown]), fontsize="small" if shown else None)
    if not log_y:
        ax.set_ylim(bottom=0)
    return PlotResult(name, title, _save(fig, Path(path)), note=note)


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
    _set_ticks(ax, xs)
    ax.set_xlabel(label("workers"))
    ax.set_ylabel(label(metric))
    ax.set_title(f"{title} (models={models}" + ("; dashed: linear fit)" if fits is not None else ")"))
    ax.set_ylim(bottom=0)
    ax.legend(title=" · ".join(["mode", *shown]), fontsize="small")
    return PlotResult(name, title, _save(fig, Path(path)), note=f"models={models}")


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
    from experiments.analysis.stats import _groups, distinguishing, mode_sort_key

    names = [metric for metric, _ in parts]
    rows = summary[
        summary["metric"].isin(names) & (summary["models"] == models) & (summary["workers"] == workers)
    ]
    if rows.empty:
        return {}
    keys = [k for k in keys if k not in ("models", "workers")]
    shown = distinguishing(rows, ["mode", "metric"], [k for k in keys if k != "mode"])
    bars = {}
    for values, group in sorted(_groups(rows, keys), key=lambda item: mode_sort_key(item[0]["mode"])):
        label = " · ".join([values["mode"], *(str(values[c]) for c in shown)])
        medians = dict(zip(group["metric"], group["median"], strict=True))
        bars[label] = [float(medians.get(metric, 0.0)) for metric in names]
    return bars


def plot_stacked(summary, parts, path: Path, *, models, workers, keys, title: str, unit: str) -> PlotResult:
    """One stacked bar per mode (and project) at the seed point: where a total goes, part by part."""
    name = Path(path).stem
    bars = stacked_rows(summary, parts, models, workers, keys)
    if not bars:
        return PlotResult(name, title, None, skipped=f"no runs with {parts[0][0]} at models={models}")
    fig, ax = _figure()
    labels = list(bars)
    bottoms = [0.0] * len(labels)
    for index, (_metric, part) in enumerate(parts):
        heights = [bars[label][index] for label in labels]
        ax.bar(labels, heights, bottom=bottoms, label=part, color=_PART_COLOURS[index % len(_PART_COLOURS)])
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_ylabel(unit)
    ax.set_title(f"{title} (models={models}, workers={workers})")
    ax.tick_params(axis="x", labelrotation=20)
    ax.legend(fontsize="small")
    return PlotResult(name, title, _save(fig, Path(path)), note=f"models={models}, workers={workers}")


def _explain_plots(analysis: Analysis, out_dir: Path) -> list[PlotResult]:
    point = {"models": analysis.seed_models, "workers": analysis.seed_workers, "keys": analysis.keys}
    s = analysis.summary
    return [
        plot_stacked(
            s, STARTUP_PARTS, out_dir / "startup_phases.png", title="Where loading goes", unit="s", **point
        ),
        plot_stacked(
            s,
            FIRST_REQUEST_PARTS,
            out_dir / "first_request_phases.png",
            title="Where a worker's first request goes",
            unit="ms",
            **point,
        ),
        plot_stacked(
            s,
            PRIVATE_PARTS,
            out_dir / "private_memory.png",
            title="What each worker keeps private after traffic",
            unit="MB per worker",
            **point,
        ),
    ]


def write_plots(analysis: Analysis, out_dir: Path) -> list[PlotResult]:
    """Write every figure into ``out_dir``; a skipped figure removes any stale PNG of the same name."""
    out_dir = Path(out_dir)
    s, w, keys = analysis.summary, analysis.models_plot_workers, analysis.keys
    results = [
        plot_metric_vs_models(
            s,
            "startup_s",
            out_dir / "startup_vs_models.png",
            workers=w,
            title="Startup time vs project size",
            keys=keys,
        ),
        plot_metric_vs_models(
            s,
            "memory_mb",
            out_dir / "memory_vs_models.png",
            workers=w,
            title="Memory (PSS) vs project size",
            keys=keys,
        ),
        plot_metric_vs_models(
            s,
            "first_query_ms",
            out_dir / "first_query_vs_models.png",
            workers=w,
            title="First query latency vs project size",
            log_y=True,
            keys=keys,
        ),
        plot_memory_vs_workers(
            s,
            analysis.per_worker,
            out_dir / "memory_vs_workers.png",
            models=analysis.workers_plot_models,
            title="Memory (PSS) vs workers",
            keys=keys,
        ),
        plot_memory_vs_workers(
            s,
            analysis.per_worker_steady,
            out_dir / "memory_steady_vs_workers.png",
            models=analysis.workers_plot_models,
            title="Memory (PSS) at steady state vs workers",
            metric="memory_steady_mb",
            keys=keys,
        ),
        plot_memory_vs_workers(
            s,
            None,
            out_dir / "startup_vs_workers.png",
            models=analysis.workers_plot_models,
            title="Startup time vs workers",
            metric="startup_s",
            keys=keys,
        ),
        *_explain_plots(analysis, out_dir),
    ]
    for result in results:
        if result.path is None:
            (out_dir / result.filename).unlink(missing_ok=True)
    return results
