"""The markdown report and its one plot: total memory at steady state against workers, per mode, with the
budget and the recommended point. Text is pure; matplotlib is imported only to draw."""

from __future__ import annotations

from pathlib import Path

from experiments.advice.screen import Answer, answer_lines, interval

PLOT_NAME = "memory.png"
MAX_PLOTTED_WORKERS = 256


def _mode_rows(answer: Answer) -> list[str]:
    top = max(answer.workers)
    lines = [
        f"| mode | runs | start-up s | first query ms | warm request ms | MB after traffic @{top} | "
        f"steady MB @{top} | shared MB | MB per worker | growth MB/1k |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in answer.figures:
        runs = f"{f.runs - f.failed}/{f.runs} ok" + (
            f"; long traffic: {f.lifecycle_failed[0]}" if f.lifecycle_failed else ""
        )
        cells = [
            interval(f.startup_s, digits=2),
            interval(f.first_query_ms),
            interval(f.warm_ms, digits=1),
            interval((f.memory_mb or {}).get(top)),
            interval((f.steady_mb or {}).get(top)),
            interval(f.shared_mb),
            interval(f.worker_mb, digits=1),
            interval(f.growth_mb_per_1k, digits=2),
        ]
        lines.append(f"| {f.mode} | {runs} | " + " | ".join(cells) + " |")
    return lines


def _failures(answer: Answer) -> list[str]:
    lines = []
    for f in answer.figures:
        for error in (*f.errors, *f.lifecycle_failed):
            lines.append(f"- **{f.mode}**: {error}")
    return ["## Failed runs", "", *lines, ""] if lines else []


def _files(files: dict[str, str]) -> list[str]:
    lines = ["## The files", ""]
    for name, text in files.items():
        language = "ini" if name.endswith(".ini") else "python"
        lines += [f"### `{name}`", "", f"```{language}", text.rstrip("\n"), "```", ""]
    return lines


def report_markdown(answer: Answer, files: dict[str, str], plot: str | None, plan: list[str]) -> str:
    """The report: the answer as printed, the figures with their intervals, the plan, the files."""
    lines = [
        f"# What to deploy: {answer.name} under {answer.server}",
        "",
        "Written by `run-experiments advise`. Every figure is a mean with its 95 % interval over the runs "
        "(Student's t); memory at N workers is the least-squares line of steady-state totals over the worker "
        "counts measured, with the interval of its prediction.",
        "",
        "## The answer",
        "",
        "```text",
        *answer_lines(answer),
        "```",
        "",
    ]
    if plot:
        lines += [f"![total memory at steady state against workers]({plot})", ""]
    lines += ["## Every mode", "", *_mode_rows(answer), "", *_failures(answer)]
    lines += ["## The plan", "", *(f"- {line}" for line in plan), ""]
    return "\n".join(lines + _files(files)).rstrip("\n") + "\n"


def _plotted_workers(answer: Answer) -> int:
    fitting = [s.memory_workers for s in answer.recommendation.sizings.values()]
    chosen = answer.recommendation.sizing.workers if answer.recommendation.sizing else 0
    return max(2, min(MAX_PLOTTED_WORKERS, max([*fitting, chosen, *answer.workers]) + 1))


def _draw_mode(axes, f, top: int) -> float:
    """One mode's line (solid over the worker counts measured, dashed beyond), its band and its measured means;
    the highest point drawn."""
    xs = list(range(1, top + 1))
    predictions = [f.fit.predict(x) for x in xs]
    measured_top = max(f.steady_mb or {1: None})
    inside = [x for x in xs if x <= measured_top]
    (line,) = axes.plot(inside, [predictions[x - 1].value for x in inside], "-", label=_label(f))
    color = line.get_color()
    axes.plot(xs[len(inside) - 1 :], [p.value for p in predictions[len(inside) - 1 :]], "--", color=color)
    axes.fill_between(
        xs, [p.low for p in predictions], [p.high for p in predictions], alpha=0.12, color=color
    )
    measured = sorted((f.steady_mb or {}).items())
    axes.plot([w for w, _ in measured], [e.value for _, e in measured], "o", color=color)
    return predictions[-1].high


def _draw_limits(axes, answer: Answer, top: int) -> None:
    """The budget, the cores' rule, and the recommended point with its headroom."""
    cores = 2 * answer.cores + 1
    if cores <= top:
        axes.axvline(cores, color="grey", linestyle="--", linewidth=1)
        axes.annotate("2 × cores + 1", (cores, 0), textcoords="offset points", xytext=(3, 4), color="grey")
    axes.axhline(answer.budget_mb, color="black", linewidth=1)
    axes.annotate(
        f"budget {answer.budget_text}", (1, answer.budget_mb), textcoords="offset points", xytext=(2, 4)
    )
    sizing = answer.recommendation.sizing
    if sizing and sizing.total_mb:
        label = f"recommended: {answer.recommendation.mode}, {sizing.workers} workers (with headroom)"
        axes.plot([sizing.workers], [sizing.budgeted_mb], "*", markersize=16, color="black", label=label)


def _panel(axes, answer: Answer, top: int, title: str) -> None:
    highest = max([_draw_mode(axes, f, top) for f in answer.figures if f.fit is not None], default=1.0)
    _draw_limits(axes, answer, top)
    axes.set_xlabel("workers")
    axes.set_title(title, fontsize="medium")
    axes.set_xlim(0.5, top + 0.5)
    # a budget far above every line would flatten them: the title names it then
    axes.set_ylim(0, min(answer.budget_mb, highest) * 1.1)


def plot_memory(answer: Answer, path: Path) -> Path:
    """Total PSS at steady state against workers, each mode's fitted line and band (dashed where it is
    extrapolated) with its measured means, the budget, the cores' rule and the recommended point: up to where
    the lines cross the budget, and close up over the workers measured and recommended."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    near = (
        max([*answer.workers, answer.recommendation.sizing.workers if answer.recommendation.sizing else 0])
        + 1
    )
    figure, (wide, close) = plt.subplots(1, 2, figsize=(12, 6))
    try:
        _panel(wide, answer, _plotted_workers(answer), f"up to the budget ({answer.budget_text})")
        _panel(close, answer, near, "close up")
        wide.set_ylabel("total PSS at steady state (MB)")
        handles, labels = close.get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower center", ncol=4, fontsize="small")  # below: no line hidden
        figure.suptitle(f"{answer.name} under {answer.server}: memory against workers")
        figure.tight_layout(rect=(0, 0.1, 1, 1))
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
    return path


def _label(f) -> str:
    return f.mode if f.ok else f"{f.mode} (failed runs)"
