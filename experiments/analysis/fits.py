"""Straight lines through the runs: memory per extra worker, and how each metric grows per 100 models (per series
of a project's sizes, never across projects)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.analysis.grouping import SERIES, groups, identity, ok_rows, ordered, with_series
from experiments.analysis.tables import unit_of
from experiments.analysis.talk import SEED_METRICS


@dataclass(frozen=True)
class LinearFit:
    """Least-squares line ``y = slope * x + intercept``."""

    slope: float
    intercept: float
    r2: float  # coefficient of determination; 1.0 for a perfect fit, also when y is constant
    n: int
    slope_se: float  # standard error of the slope; NaN with only two points

    def __call__(self, x):
        return self.slope * np.asarray(x, dtype=float) + self.intercept


def linear_fit(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> LinearFit:
    """Ordinary least squares of ``y`` on ``x``; needs two distinct x values (else ``ValueError``)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if np.unique(x).size < 2:
        raise ValueError("a linear fit needs at least two distinct x values")
    xm, ym = x.mean(), y.mean()
    sxx = float(((x - xm) ** 2).sum())
    slope = float(((x - xm) * (y - ym)).sum() / sxx)
    intercept = float(ym - slope * xm)
    residuals = y - (slope * x + intercept)
    ss_res = float((residuals**2).sum())
    ss_tot = float(((y - ym) ** 2).sum())
    scale = max(1.0, float(np.abs(y).max())) ** 2 * x.size
    # constant y: the flat line fits perfectly (OLS never leaves more residual than ss_tot)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 1e-24 * scale else 1.0
    slope_se = math.sqrt(ss_res / (x.size - 2) / sxx) if x.size > 2 else math.nan
    return LinearFit(slope=slope, intercept=intercept, r2=float(r2), n=int(x.size), slope_se=slope_se)


FIT_COLUMNS: tuple[str, ...] = ("n", "x_min", "x_max", "slope", "slope_se", "intercept", "r2")


def _fits(ok: pd.DataFrame, by: list[str], x: str, y: str, per: float = 1.0) -> list[dict]:
    rows = []
    for point, group in groups(ok, by):
        data = group[[x, y]].dropna()
        if data[x].nunique() < 2:
            continue
        fit = linear_fit(data[x].to_numpy(dtype=float), data[y].to_numpy(dtype=float))
        rows.append(
            {
                **point,
                "n": fit.n,
                "x_min": int(data[x].min()),
                "x_max": int(data[x].max()),
                "slope": fit.slope * per,
                "slope_se": fit.slope_se * per,
                "intercept": fit.intercept,
                "r2": fit.r2,
            }
        )
    return rows


def per_worker_memory(
    df: pd.DataFrame, metric: str = "memory_mb", *, keys: Sequence[str] | None = None
) -> pd.DataFrame:
    """MB per extra worker: fit of ``metric`` on ``workers`` per point of ``keys`` but workers (mode, project,
    models …: sizes and projects are never mixed).

    Fits individual ok runs. One row per such point with at least two distinct worker counts; columns those
    keys, n, workers_min, workers_max, slope (MB per worker), slope_se, intercept (MB), r2.
    """
    by = [k for k in (identity(df) if keys is None else keys) if k != "workers"]
    out = pd.DataFrame(_fits(ok_rows(df), by, "workers", metric), columns=[*by, *FIT_COLUMNS])
    return ordered(out.rename(columns={"x_min": "workers_min", "x_max": "workers_max"}))


def scaling(
    df: pd.DataFrame,
    metrics: Sequence[str] = SEED_METRICS,
    *,
    per: int = 100,
    keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """How each metric grows per ``per`` models: linear fit on ``models`` per series (``series_of``) and per
    point of the other ``keys`` (mode, workers …).

    Fits individual ok runs. One row per (series, point, metric) with at least two distinct model counts;
    columns those keys (``series`` for project), metric, unit, n, models_min, models_max, slope (unit per
    ``per`` models), slope_se, intercept (unit, at zero models), r2.
    """
    keys = identity(df) if keys is None else list(keys)
    by = [SERIES if k == "project" else k for k in keys if k != "models"]
    ok = with_series(ok_rows(df))
    rows = []
    for metric in metrics:
        if metric not in ok.columns:
            continue
        for row in _fits(ok, by, "models", metric, per=per):
            rows.append({**row, "metric": metric, "unit": unit_of(metric)})
    cols = [*by, "metric", "unit", *FIT_COLUMNS]
    out = pd.DataFrame(rows, columns=cols).rename(columns={"x_min": "models_min", "x_max": "models_max"})
    if out.empty:
        return out
    out["_metric"] = out["metric"].map({m: i for i, m in enumerate(metrics)})
    return ordered(out, ["_metric"]).drop(columns="_metric")
