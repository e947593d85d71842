"""report.md: its sections in order — the seed table beside the talk (talk.py), the fitted lines
(fit_tables.py), the "explain why" sections (explain.py), the plots, every point, per host (hosts.py) and the
runs left out. They return lines; only the CLI prints or writes. pandas objects are received, never imported
here. The seed blocks of the terminal and the number format are re-exported from talk.py and tables.py."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.analysis import explain
from experiments.analysis.fit_tables import per_worker_section, scaling_section
from experiments.analysis.hosts import host_section_lines
from experiments.analysis.tables import cell_text, described_table, fmt, fmt_ci, is_blank, is_nan, unit_of
from experiments.analysis.talk import (
    SEED_LABELS,
    seed_block_lines,
    seed_columns,
    seed_glossary_lines,
    seed_section,
)
from experiments.errors import error_cause

if TYPE_CHECKING:
    from experiments.analysis.figures import PlotResult
    from experiments.analysis.stats import Analysis

# What the CLI, tests and other tools read from here.
__all__ = ["fmt", "render_report", "report_lines", "seed_block_lines", "seed_glossary_lines"]


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
    header = [*shown, "mode", "models", "workers", "n"] + [
        f"{SEED_LABELS[m]} ({unit_of(m)})" for m in metrics
    ]
    rows = []
    for _, p in points.iterrows():
        at = s
        for k in a.keys:
            at = at[at[k].isna()] if is_blank(p[k]) else at[at[k] == p[k]]
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
            [*(cell_text(p[c]) for c in shown), p["mode"], int(p["models"]), int(p["workers"]), n, *cells]
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
        first = "" if is_blank(error) else error_cause(str(error), 120)
        ident = r.get("run_id")
        rows.append(
            [
                "" if is_nan(ident) else ident,
                *(cell_text(r[c]) for c in shown),
                "" if is_nan(r["mode"]) else r["mode"],
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
    sweeps = sorted({cell_text(v) for v in df["sweep"]}) if "sweep" in df.columns else []
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
    lines += seed_section(a)
    lines += per_worker_section(a)
    lines += explain.startup_lines(a)
    lines += explain.private_lines(a)
    lines += scaling_section(a)
    lines += _plots_section(plots)
    lines += _summary_section(a)
    lines += host_section_lines(df)
    lines += _failures_section(a)
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def render_report(a: Analysis, plots: Sequence[PlotResult], sources: Sequence[str | Path]) -> str:
    return "\n".join(report_lines(a, plots, sources)) + "\n"
