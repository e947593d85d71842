"""Text formatters of an analysis: the talk-style seed table and report.md. They return lines; only the
CLI prints or writes. pandas objects are received, never imported here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.analysis import explain
from experiments.analysis.glossary import glossary_lines
from experiments.columns import BY_NAME
from experiments.errors import error_cause

if TYPE_CHECKING:
    from experiments.analysis.plots import PlotResult
    from experiments.analysis.stats import Analysis

# The talk's figures per mode (its own project and hardware), and its memory cost of one more worker.
TALK: dict[str, dict[str, float]] = {
    "lazy": {"startup_s": 13, "memory_mb": 903, "first_query_ms": 3747},
    "prefork": {"startup_s": 132, "memory_mb": 769, "first_query_ms": 85},
    "prewarm": {"startup_s": 9, "memory_mb": 316, "first_query_ms": 121},
}
TALK_MB_PER_WORKER = 25
# The talk's sequences (its slides), and our modes that follow each: the talk's row is shown beside them.
TALK_SEQUENCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "lazy": ("uWSGI forks workers → each worker loads Django → ready", ("lazy",)),
    "prefork": (
        "uWSGI loads wsgi.py → forks workers → each worker loads Django → ready, uWSGI accepts requests",
        ("prefork-warm", "lazy-warm", "prefork"),
    ),
    "prewarm": ("load and send a warm-up request in the master → fork → ready", ("prewarm",)),
}
TALK_ROW: dict[str, str] = {mode: row for row, (_text, modes) in TALK_SEQUENCES.items() for mode in modes}

OPTIONAL_SEED_METRICS = ("memory_steady_mb",)
SEED_LABELS: dict[str, str] = {
    "startup_s": "startup",
    "memory_mb": "memory",
    "memory_steady_mb": "memory steady",
    "first_query_ms": "first_query",
}
_LABEL_WIDTH = 14


def fmt(value: float | None) -> str:
    """A measurement at a precision a reader can take in: 0.46, 9.3, 132, 3747."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    value = float(value)
    size = abs(value)
    if size >= 10 or size == 0:
        return f"{value:.0f}"
    if size >= 1:
        return f"{value:.1f}"
    if size >= 0.01:
        return f"{value:.2f}"
    return f"{value:.2g}"


def fmt_ci(median: float, low: float, high: float) -> str:
    if any(_isnan(v) for v in (median, low, high)):
        return fmt(median)
    return f"{fmt(median)} [{fmt(low)}–{fmt(high)}]"


def _isnan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _unit(metric: str) -> str:
    return BY_NAME[metric].unit if metric in BY_NAME else ""


def seed_block_lines(
    seed, metrics: Sequence[str] = tuple(SEED_LABELS), labels: Sequence[str] = ()
) -> list[str]:
    """The talk-style block per mode, blocks separated by a blank line::

    [prewarm] models=300 workers=4
    startup       = 0.46 s
    memory        = 74 MB
    first_query   = 11 ms

    ``labels`` are identity columns named in each header (``project=pretix``) when the blocks need them.
    """
    if seed is None or len(seed) == 0:
        return ["(no successful runs to tabulate)"]
    lines: list[str] = []
    for _, row in seed.iterrows():
        if lines:
            lines.append("")
        named = "".join(f" {c}={_text(row[c])}" for c in labels)
        lines.append(f"[{row['mode']}]{named} models={int(row['models'])} workers={int(row['workers'])}")
        for metric in metrics:
            name = SEED_LABELS.get(metric, metric)
            value = row.get(metric)
            if metric in OPTIONAL_SEED_METRICS and _isnan(value):
                continue  # runs measured before that reading existed
            unit = "" if _isnan(value) else f" {_unit(metric)}".rstrip()
            lines.append(f"{name:<{_LABEL_WIDTH}}= {fmt(value)}{unit}")
    return lines


def _blank(value) -> bool:
    """None, NaN or pandas' NA (whose comparisons have no truth value), without importing pandas."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:
        return True


def _text(value) -> str:
    """An identity cell: blank when the CSV had none."""
    return "" if _blank(value) else str(value)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence], align: str = "") -> list[str]:
    """A GitHub markdown table; ``align`` has one letter per column, l or r (default: first l, rest r)."""
    align = align or "l" + "r" * (len(header) - 1)
    align = [":---" if a == "l" else "---:" for a in align]
    out = ["| " + " | ".join(_cell(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def described_table(
    header: Sequence[str], rows: Sequence[Sequence], align: str = "", **glossary
) -> list[str]:
    """A markdown table, a blank line, and its glossary (``glossary.glossary_lines``: ``columns``, ``notes``)."""
    return [*markdown_table(header, rows, align), "", *glossary_lines(header, **glossary), ""]


def seed_columns(metrics: Sequence[str] = tuple(SEED_LABELS)) -> dict[str, str]:
    """Heading -> registry column of the talk's metrics as the tables head them ("startup (s)")."""
    return {f"{SEED_LABELS[m]} ({_unit(m)})": m for m in metrics}


def seed_glossary_lines(seed) -> list[str]:
    """The glossary of the seed blocks, for a terminal: the metrics they show."""
    if seed is None or len(seed) == 0:
        return []
    shown = [m for m in SEED_LABELS if m not in OPTIONAL_SEED_METRICS or seed[m].notna().any()]
    return glossary_lines([SEED_LABELS[m] for m in shown], {SEED_LABELS[m]: m for m in shown}, markdown=False)


def _seed_section(a: Analysis) -> list[str]:
    metrics = list(SEED_LABELS)
    lines = ["## Seed table beside the talk", ""]
    if len(a.seed) == 0:
        return lines + ["No successful runs: nothing to compare.", ""]
    shown = a.shown(a.seed, ["mode"])
    lines += [
        f"Our point: **models={a.seed_models}, workers={a.seed_workers}**; median of n runs, "
        "95 % bootstrap CI in brackets. The talk measured its own project on its own hardware, so absolute "
        "values differ with size; the ratios between modes are the comparable part. Memory is read twice: "
        "after traffic (what the talk's figure is compared with: a server that has served its first "
        "requests) and at steady state, after one full garbage collection in every worker, which every "
        "long-running worker reaches sooner or later; where the two differ, the after-traffic figure is a "
        "transient.",
        "",
        *_sequences_lines(a.seed["mode"].tolist()),
    ]
    header = [*shown, "mode", "n"]
    for m in metrics:
        header += [f"{SEED_LABELS[m]} ({_unit(m)})", "talk"]
    rows = []
    for _, r in a.seed.iterrows():
        talk = TALK.get(TALK_ROW.get(r["mode"], ""), {})
        row = [*(_text(r[c]) for c in shown), r["mode"], int(r["n"])]
        for m in metrics:
            row += [fmt_ci(r[m], r[f"{m}_ci_low"], r[f"{m}_ci_high"]), f"{talk[m]:g}" if m in talk else "—"]
        rows.append(row)
    align = "l" * len(shown) + "l" + "r" * (len(header) - len(shown) - 1)
    lines += described_table(header, rows, align, columns=seed_columns(metrics))
    lines += _relative_to_lazy(a.seed, shown, metrics)
    terminal = [*seed_block_lines(a.seed, labels=shown), "", *seed_glossary_lines(a.seed)]
    lines += ["```", *terminal, "```", ""]
    return lines


def _sequences_lines(modes: list[str]) -> list[str]:
    """Which of our modes follows which of the talk's sequences (the talk's row is shown beside them)."""
    rows = []
    for row, (sequence, ours) in TALK_SEQUENCES.items():
        present = [m for m in ours if m in modes]
        if present:
            rows.append([row, sequence, ", ".join(present)])
    if not rows:
        return []
    lines = [
        "The talk's rows, and our modes that follow each sequence (the talk's figures are shown beside them). "
        "Whether the talk's master had run `django.setup()` before fork is not certain from its slides: "
        "`prefork-warm` assumes it had, `lazy-warm` that it had not; plain `prefork` stops before each worker "
        "loads the rest of Django, which its first request then pays for.",
        "",
    ]
    return lines + described_table(["talk's row", "its sequence", "our modes"], rows, "lll")


def _relative_to_lazy(seed, shown: list[str], metrics: list[str]) -> list[str]:
    """Each mode's value ÷ lazy's value in the same project (sweep …), beside the talk's ratios."""
    bases = {tuple(_text(r[c]) for c in shown): r for _, r in seed.iterrows() if r["mode"] == "lazy"}
    if not bases or len(seed) <= len(bases):
        return []
    lines = ["Relative to lazy (value ÷ lazy's value):", ""]
    header = [*shown, "mode"]
    for m in metrics:
        header += [f"{SEED_LABELS[m]} ours", "talk"]
    rows = []
    for _, r in seed.iterrows():
        base = bases.get(tuple(_text(r[c]) for c in shown))
        talk = TALK.get(TALK_ROW.get(r["mode"], ""), {})
        row = [*(_text(r[c]) for c in shown), r["mode"]]
        for m in metrics:
            usable = base is not None and base[m] and not _isnan(r[m]) and not _isnan(base[m])
            ours = r[m] / base[m] if usable else math.nan
            theirs = talk[m] / TALK["lazy"][m] if m in talk else math.nan
            row += [_ratio(ours), _ratio(theirs)]
        rows.append(row)
    notes = {
        f"{SEED_LABELS[m]} ours": f"this mode's median {SEED_LABELS[m]} ÷ lazy's, same project"
        for m in metrics
    }
    notes["talk"] = "the same ratio in the talk"
    align = "l" * (len(shown) + 1) + "r" * (len(header) - len(shown) - 1)
    return lines + described_table(header, rows, align, notes=notes)


def _ratio(v: float) -> str:
    if _isnan(v):
        return "—"
    return f"{v:.0f}×" if v >= 10 else f"{v:.2f}×"


def _per_worker_section(a: Analysis) -> list[str]:
    lines = [
        "## Memory per extra worker",
        "",
        f"The talk: **{TALK_MB_PER_WORKER} MB per extra worker**. Ours: least-squares fit of memory_mb on "
        "workers over the individual ok runs, per mode and project size.",
        "",
    ]
    lines += _fits_table(a, a.per_worker, "memory after traffic (memory_mb)")
    if len(a.per_worker_steady):
        lines += [
            "At steady state (memory_steady_mb: after one full collection in every worker):",
            "",
            *_fits_table(a, a.per_worker_steady, "memory at steady state (memory_steady_mb)"),
        ]
    return lines


def _fits_table(a: Analysis, fits, reading: str) -> list[str]:
    if len(fits) == 0:
        return ["Not measured: no mode has ok runs at two or more worker counts for the same models.", ""]
    shown = a.shown(fits, ["mode", "models"])
    rows = [
        [
            *(_text(r[c]) for c in shown),
            r["mode"],
            int(r["models"]),
            f"{int(r['workers_min'])}–{int(r['workers_max'])}",
            f"{r['slope']:.1f}",
            "n/a" if _isnan(r["slope_se"]) else f"{r['slope_se']:.1f}",
            f"{r['intercept']:.0f}",
            f"{r['r2']:.3f}" if not _isnan(r["r2"]) else "n/a",
            int(r["n"]),
            TALK_MB_PER_WORKER,
        ]
        for _, r in fits.iterrows()
    ]
    header = [
        *shown,
        "mode",
        "models",
        "workers",
        "MB per extra worker",
        "± s.e.",
        "intercept (MB)",
        "R²",
        "runs",
        "talk",
    ]
    notes = {
        "workers": "the worker counts fitted, fewest–most",
        "MB per extra worker": f"slope of the least-squares fit of {reading} on workers (MB)",
        "talk": "the talk's memory per extra worker (MB)",
    }
    return described_table(header, rows, "l" * (len(shown) + 1) + "r" * 8, notes=notes)


def _scaling_section(a: Analysis) -> list[str]:
    lines = [
        "## Growth per 100 models",
        "",
        "Least-squares fit of each metric on models over the individual ok runs, per mode and worker count; "
        "the slope is the cost of 100 more models.",
        "",
    ]
    if len(a.scaling) == 0:
        return lines + [
            "Not measured: no mode has ok runs at two or more model counts for the same workers.",
            "",
        ]
    shown = a.shown(a.scaling, ["mode", "workers", "metric"])
    rows = [
        [
            *(_text(r[c]) for c in shown),
            r["mode"],
            int(r["workers"]),
            r["metric"],
            f"{r['slope']:+.3g} {r['unit']}".rstrip(),
            f"{fmt(r['intercept'])} {r['unit']}".rstrip(),
            f"{r['r2']:.3f}" if not _isnan(r["r2"]) else "n/a",
            f"{int(r['models_min'])}–{int(r['models_max'])}",
            int(r["n"]),
        ]
        for _, r in a.scaling.iterrows()
    ]
    header = [*shown, "mode", "workers", "metric", "per 100 models", "at 0 models", "R²", "models", "runs"]
    notes = {"models": "the model counts fitted, fewest–most"}
    return lines + described_table(header, rows, "l" * len(shown) + "lrlrrrrr", notes=notes)


def _plots_section(plots: Sequence[PlotResult]) -> list[str]:
    lines = ["## Plots", ""]
    for p in plots:
        lines.append(f"### {p.title}")
        lines.append("")
        if p.path is None:
            lines.append(f"_Skipped: {p.skipped}._")
        else:
            lines.append(f"![{p.title}]({p.filename})")
            caption = [p.note] if p.note else []
            caption += ["error bars: 95 % bootstrap CI of the median"] if p.error_bars else []
            if caption:
                lines += ["", f"_{'; '.join(caption)}._"]
        lines.append("")
    return lines


def _summary_section(a: Analysis) -> list[str]:
    lines = [
        "## All points",
        "",
        "Median [95 % CI] of the talk's metrics at every measured point; every metric is in `summary.csv`.",
        "",
    ]
    s = a.summary
    if len(s) == 0:
        return lines + ["No successful runs.", ""]
    metrics = list(SEED_LABELS)
    points = s[a.keys].drop_duplicates()
    shown = a.shown(points, ["mode", "models", "workers"])
    header = [*shown, "mode", "models", "workers", "n"] + [f"{SEED_LABELS[m]} ({_unit(m)})" for m in metrics]
    rows = []
    for _, p in points.iterrows():
        at = s
        for k in a.keys:
            at = at[at[k].isna()] if _blank(p[k]) else at[at[k] == p[k]]
        cells, n = [], 0
        for m in metrics:
            hit = at[at["metric"] == m]
            if hit.empty:
                cells.append("n/a")
            else:
                h = hit.iloc[0]
                n = max(n, int(h["n"]))
                cells.append(fmt_ci(h["median"], h["ci_low"], h["ci_high"]))
        rows.append(
            [*(_text(p[c]) for c in shown), p["mode"], int(p["models"]), int(p["workers"]), n, *cells]
        )
    align = "l" * (len(shown) + 1) + "r" * (len(header) - len(shown) - 1)
    return lines + described_table(header, rows, align, columns=seed_columns(metrics))


def _failures_section(a: Analysis, limit: int = 20) -> list[str]:
    df = a.df
    failed = df[df["status"] != "ok"]
    if len(failed) == 0:
        return []
    counts = failed["status"].value_counts()
    lines = [
        "## Runs left out",
        "",
        f"{len(failed)} run(s) without status ok are excluded from every statistic: "
        + ", ".join(f"{status} {count}" for status, count in counts.items())
        + ".",
        "",
    ]
    shown = a.shown(failed, ["mode", "models", "workers"])
    rows = []
    for _, r in failed.head(limit).iterrows():
        error = r.get("error")
        first = "" if _blank(error) else error_cause(str(error), 120)
        ident = r.get("run_id")
        rows.append(
            [
                "" if _isnan(ident) else ident,
                *(_text(r[c]) for c in shown),
                "" if _isnan(r["mode"]) else r["mode"],
                _int_or_blank(r["models"]),
                _int_or_blank(r["workers"]),
                r["status"],
                first,
            ]
        )
    header = ["run_id", *shown, "mode", "models", "workers", "status", "error"]
    notes = {
        "error": "the cause of the failure; the whole error, with the server log's lines about it, is in the CSV"
    }
    lines += described_table(header, rows, "l" * (len(shown) + 2) + "rrll", notes=notes)
    if len(failed) > limit:
        lines += [f"… and {len(failed) - limit} more.", ""]
    return lines


def _int_or_blank(v) -> str:
    try:
        return str(int(v))
    except (TypeError, ValueError):
        return ""


def report_lines(a: Analysis, plots: Sequence[PlotResult], sources: Sequence[str | Path]) -> list[str]:
    """report.md as lines: seed table vs the talk, per-worker memory, growth, plots, all points, per host
    (when several), failures."""
    from experiments.analysis.hosts import host_section_lines  # it builds on this module's formatters

    df = a.df
    ok = int((df["status"] == "ok").sum())
    modes = a.modes
    runs = (
        f"Runs: {len(df)} ({ok} ok, {len(df) - ok} not ok). Modes: {', '.join(modes) if modes else 'none'}."
    )
    duplicates = df.attrs.get("duplicates", 0)
    if duplicates:
        runs += (
            f" {duplicates} row(s) repeating a run of an earlier CSV (same run_id and start) were dropped."
        )
    sweeps = sorted({_text(v) for v in df["sweep"]}) if "sweep" in df.columns else []
    if "sweep" not in a.keys and len(sweeps) > 1:
        runs += f" Sweeps pooled: {', '.join(sweeps)}."
    lines = [
        "# django-prefork-lab: results",
        "",
        "Sources: " + ", ".join(f"`{s}`" for s in sources),
        "",
        runs,
        "",
    ]
    lines += _seed_section(a)
    lines += _per_worker_section(a)
    lines += explain.startup_lines(a)
    lines += explain.private_lines(a)
    lines += _scaling_section(a)
    lines += _plots_section(plots)
    lines += _summary_section(a)
    lines += host_section_lines(df)
    lines += _failures_section(a)
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def render_report(a: Analysis, plots: Sequence[PlotResult], sources: Sequence[str | Path]) -> str:
    return "\n".join(report_lines(a, plots, sources)) + "\n"
