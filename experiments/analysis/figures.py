"""The drawing kit every figure of the analysis uses: one style per mode (and per project beside it), Agg figures,
titles naming the server(s) and project(s), axes for people (a log axis says so), lines per mode and project,
error bars from CIs, and ``PlotResult``, what a figure tells the report.

matplotlib is imported inside the functions (Agg canvas, no pyplot global state); pandas objects are only
received, never imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from experiments.columns import BY_NAME, label
from experiments.servers import SERVER_LABELS

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
PROJECT_STYLES = (("-", "full"), ("--", "none"), (":", "full"), ("-.", "none"))

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


def new_figure():
    fig, (ax,) = new_figures(1)
    return fig, ax


def new_figures(panels: int):
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


def set_title(target, title: str, detail: str, rows) -> None:
    """``title (detail)`` over a second line naming the server(s) and project(s); ``target``: an axis or a
    figure (its suptitle)."""
    subject = subject_of(rows)
    text = f"{title} ({detail})" + (f"\n{subject}" if subject else "")
    if hasattr(target, "suptitle"):
        target.suptitle(text, fontsize=11)
    else:
        target.set_title(text, fontsize=10)


LOG_X_RATIO = 20  # x values spanning this factor or more get a log axis


def ci_errors(rows) -> list[list[float]]:
    """Asymmetric error bars from CI bounds, never negative."""
    low = (rows["median"] - rows["ci_low"]).clip(lower=0).tolist()
    high = (rows["ci_high"] - rows["median"]).clip(lower=0).tolist()
    return [low, high]


def set_x(ax, xs, name: str) -> None:
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


def save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def modes_of(rows) -> list[str]:
    from experiments.analysis.grouping import ordered_modes

    return ordered_modes(rows["mode"])


def lines_of(rows, keys: list[str], candidates: list[str]):
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


def slice_of(summary, metric: str, fixed: str, value: int | None, varied: str):
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


def unit_label(metric: str) -> str:
    """The y label shared by an after-traffic and a steady-state panel: what both read, and the unit."""
    return f"total PSS of master + workers ({BY_NAME[metric].unit})"


def value_text(v: float) -> str:
    """A value written on a figure, at a precision one takes in at a glance: 0.46, 9.3, 132."""
    size = abs(v)
    return f"{v:.0f}" if size >= 10 or size == 0 else f"{v:.1f}" if size >= 1 else f"{v:.2f}"
