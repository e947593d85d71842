"""Real projects against their synthetic counterparts: the calibration table of `realistic` and `--like` twins.

Pure functions over the runner's results (one DataFrame per sweep) and the inspection profiles; the script
calibration/table.py does the reading and writing.

The three metrics the issue fixes (lazy mode, 4 workers; median over repetitions) decide PASS within ±30 %:
start-up, first query, and memory per worker (total PSS / workers). The other rows describe and do not decide.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from experiments.analysis.stats import ok_rows

TOLERANCE = 0.30

# (metric, unit, mode, decides); memory_per_worker_mb is derived here from memory_mb / workers.
RUN_METRICS: tuple[tuple[str, str, str, bool], ...] = (
    ("startup_s", "s", "lazy", True),
    ("first_query_ms", "ms", "lazy", True),
    ("memory_per_worker_mb", "MB", "lazy", True),
    ("first_query_ms", "ms", "prefork", False),
    ("memory_mb", "MB", "prewarm", False),
    ("startup_s", "s", "prewarm", False),
)
# From the inspection profiles: what `--like` reads.
PROFILE_METRICS: tuple[tuple[str, str], ...] = (
    ("setup_s", "s"),
    ("setup_modules", "modules"),
    ("first_request_s", "s"),
    ("startup_mb", "MB"),
)


def run_medians(results: pd.DataFrame) -> dict[tuple[str, str], float]:
    """{(metric, mode): median over the successful runs} for one project's results."""
    ok = ok_rows(results).copy()
    ok["memory_per_worker_mb"] = ok["memory_mb"] / ok["workers"]
    medians: dict[tuple[str, str], float] = {}
    for metric, _unit, mode, _decides in RUN_METRICS:
        values = ok.loc[ok["mode"] == mode, metric].dropna()
        if not values.empty:
            medians[(metric, mode)] = float(values.median())
    return medians


def profile_figures(profile: Mapping) -> dict[str, float]:
    """The inspection figures compared in the table, from a ProjectProfile.as_dict()."""
    return {
        "setup_s": profile["setup"]["seconds"],
        "setup_modules": profile["setup"]["modules"],
        "first_request_s": profile["first_request"]["seconds"],
        "startup_mb": profile["setup"]["rss_mb"] - profile["baseline_rss_mb"],
    }


def _median(values: list[float]) -> float:
    return float(pd.Series(values).median())


def comparison_rows(
    comparison: str,
    real: list[dict[tuple[str, str], float]],
    synthetic: list[dict[tuple[str, str], float]],
    real_profiles: list[Mapping],
    synthetic_profiles: list[Mapping],
    *,
    decides: bool = True,
) -> list[dict]:
    """Rows of one comparison; several real projects (or sizes) are reduced to their median first.

    With ``decides`` false none of its rows decides (a comparison shown for information).
    """
    rows = []
    for metric, unit, mode, deciding in RUN_METRICS:
        key = (metric, mode)
        if not all(key in m for m in real + synthetic):
            continue
        rows.append(
            _row(
                comparison,
                f"{metric} ({mode})",
                unit,
                decides and deciding,
                [m[key] for m in real],
                [m[key] for m in synthetic],
            )
        )
    real_figures = [profile_figures(p) for p in real_profiles]
    synthetic_figures = [profile_figures(p) for p in synthetic_profiles]
    if real_figures and synthetic_figures:
        for name, unit in PROFILE_METRICS:
            rows.append(
                _row(
                    comparison,
                    f"{name} (inspection)",
                    unit,
                    False,
                    [f[name] for f in real_figures],
                    [f[name] for f in synthetic_figures],
                )
            )
    return rows


def _row(comparison: str, metric: str, unit: str, decides: bool, real: list[float], synthetic: list[float]):
    real_value, synthetic_value = _median(real), _median(synthetic)
    ratio = synthetic_value / real_value if real_value else float("nan")
    return {
        "comparison": comparison,
        "metric": metric,
        "unit": unit,
        "real": real_value,
        "synthetic": synthetic_value,
        "ratio": ratio,
        "decides": decides,
        "within_30pct": bool(abs(ratio - 1) <= TOLERANCE) if decides else None,
    }


def table_lines(table: pd.DataFrame) -> list[str]:
    """The table as Markdown, one section per comparison; PASS/FAIL on the deciding rows."""
    lines: list[str] = []
    for comparison, rows in table.groupby("comparison", sort=False):
        verdicts = rows.loc[rows["decides"], "within_30pct"]
        if len(verdicts):
            lines += ["", f"### {comparison}: {'PASS' if verdicts.all() else 'FAIL'}", ""]
        else:
            lines += ["", f"### {comparison}", ""]
        lines += ["| metric | real | synthetic | synthetic / real | ±30 % |", "|---|---:|---:|---:|:---:|"]
        for row in rows.itertuples():
            mark = "" if not row.decides else ("yes" if row.within_30pct else "**no**")
            lines.append(
                f"| {row.metric} | {_fmt(row.real, row.unit)} | {_fmt(row.synthetic, row.unit)} | "
                f"{row.ratio:.2f} | {mark} |"
            )
    return lines


def _fmt(value: float, unit: str) -> str:
    if unit == "modules":
        return f"{value:.0f}"
    digits = 2 if unit == "s" else 0 if abs(value) >= 100 else 1
    return f"{value:.{digits}f} {unit}"
