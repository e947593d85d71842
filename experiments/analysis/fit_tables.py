"""The report's tables of fitted lines: memory per extra worker (beside the talk's) and growth per 100 models.
Formatters return lines; pandas objects are received, never imported here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from experiments.analysis.tables import cell_text, described_table, fmt, is_nan
from experiments.analysis.talk import TALK_MB_PER_WORKER

if TYPE_CHECKING:
    from experiments.analysis.stats import Analysis


def per_worker_section(a: Analysis) -> list[str]:
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
            *(cell_text(r[c]) for c in shown),
            r["mode"],
            int(r["models"]),
            f"{int(r['workers_min'])}–{int(r['workers_max'])}",
            f"{r['slope']:.1f}",
            "n/a" if is_nan(r["slope_se"]) else f"{r['slope_se']:.1f}",
            f"{r['intercept']:.0f}",
            f"{r['r2']:.3f}" if not is_nan(r["r2"]) else "n/a",
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


def scaling_section(a: Analysis) -> list[str]:
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
            *(cell_text(r[c]) for c in shown),
            r["mode"],
            int(r["workers"]),
            r["metric"],
            f"{r['slope']:+.3g} {r['unit']}".rstrip(),
            f"{fmt(r['intercept'])} {r['unit']}".rstrip(),
            f"{r['r2']:.3f}" if not is_nan(r["r2"]) else "n/a",
            f"{int(r['models_min'])}–{int(r['models_max'])}",
            int(r["n"]),
        ]
        for _, r in a.scaling.iterrows()
    ]
    header = [*shown, "mode", "workers", "metric", "per 100 models", "at 0 models", "R²", "models", "runs"]
    notes = {"models": "the model counts fitted, fewest–most"}
    return lines + described_table(header, rows, "l" * len(shown) + "lrlrrrrr", notes=notes)
