"""Statistics over result CSVs: summarize (median + bootstrap CI), the seed table, and the whole analysis
(``analyze``) the report and the plots read.

The loading (loading.py), what a point is (grouping.py) and the fits (fits.py) have modules of their own; this one
re-exports what its callers use from them, so ``experiments.analysis.stats`` stays the analysis's one entry.
It imports pandas at import time, as they do; the runner never imports any of them. Only rows with
``status == "ok"`` enter any statistic; failed rows stay in the loaded frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.analysis.fits import FIT_COLUMNS, LinearFit, linear_fit, per_worker_memory, scaling
from experiments.analysis.grouping import (
    MODE_ORDER,
    SERIES,
    SWEEP,
    distinguishing,
    groups,
    identity,
    mode_sort_key,
    ok_rows,
    ordered,
    ordered_modes,
    series_of,
    with_series,
)
from experiments.analysis.loading import ADDED_COLUMNS, RENAMED_COLUMNS, REQUIRED_COLUMNS, load_results
from experiments.analysis.tables import unit_of
from experiments.analysis.talk import SEED_METRICS
from experiments.columns import METRICS
from experiments.errors import ExperimentError

__all__ = [
    "ADDED_COLUMNS",
    "FIT_COLUMNS",
    "MODE_ORDER",
    "RENAMED_COLUMNS",
    "REQUIRED_COLUMNS",
    "SEED_METRICS",
    "SERIES",
    "STAT_COLUMNS",
    "SWEEP",
    "Analysis",
    "LinearFit",
    "analyze",
    "bootstrap_ci",
    "ratio_ci",
    "default_seed_point",
    "distinguishing",
    "identity",
    "linear_fit",
    "load_results",
    "mode_sort_key",
    "ok_rows",
    "ordered_modes",
    "per_worker_memory",
    "scaling",
    "seed_table",
    "series_of",
    "slice_value",
    "summarize",
    "with_series",
]

STAT_COLUMNS: tuple[str, ...] = ("metric", "unit", "n", "median", "ci_low", "ci_high")


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the median; deterministic for a given ``seed``.

    NaNs are ignored; one value (or all equal values) gives a zero-width interval at that value.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    if x.size == 1 or np.all(x == x[0]):
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    medians = np.empty(n_resamples)
    batch = max(1, 1_000_000 // x.size)  # bound memory for large samples
    for start in range(0, n_resamples, batch):
        stop = min(n_resamples, start + batch)
        idx = rng.integers(0, x.size, size=(stop - start, x.size))
        medians[start:stop] = np.median(x[idx], axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(medians, [alpha, 1 - alpha])
    return float(low), float(high)


def ratio_ci(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    confidence: float = 0.90,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of median(numerator) / median(denominator), each side resampled on its own
    (two projects' runs are not paired); deterministic for a given ``seed``. NaNs are ignored."""
    sides = [np.asarray(values, dtype=float) for values in (numerator, denominator)]
    sides = [x[~np.isnan(x)] for x in sides]
    if any(x.size == 0 for x in sides):
        raise ValueError("ratio_ci needs at least one value on each side")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    rng = np.random.default_rng(seed)
    top, bottom = (np.median(x[rng.integers(0, x.size, size=(n_resamples, x.size))], axis=1) for x in sides)
    ratios = top / bottom
    alpha = (1 - confidence) / 2
    low, high = np.quantile(ratios[np.isfinite(ratios)], [alpha, 1 - alpha])
    return float(low), float(high)


def _present_metrics(df: pd.DataFrame, metrics: Iterable[str] | None) -> list[str]:
    if metrics is None:
        return [m for m in METRICS if m in df.columns and df[m].notna().any()]
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in df.columns]
    if unknown:
        raise ExperimentError(f"unknown metric(s): {', '.join(unknown)}")
    return metrics


def summarize(
    df: pd.DataFrame,
    metrics: Iterable[str] | None = None,
    *,
    keys: Sequence[str] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Median and bootstrap CI per point (``keys``, default ``identity(df)``) and metric, over ok rows.

    One row per point and metric with at least one value; columns ``keys`` then ``STAT_COLUMNS``.
    ``metrics`` defaults to every float column of the registry that has data.
    """
    ok = ok_rows(df)
    keys = identity(df) if keys is None else list(keys)
    metrics = _present_metrics(ok, metrics)
    rows = []
    for point, group in groups(ok, keys):
        for metric in metrics:
            values = group[metric].dropna().to_numpy(dtype=float)
            if values.size == 0:
                continue
            low, high = bootstrap_ci(values, confidence=confidence, n_resamples=n_resamples, seed=seed)
            rows.append(
                {
                    **point,
                    "metric": metric,
                    "unit": unit_of(metric),
                    "n": int(values.size),
                    "median": float(np.median(values)),
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    out = pd.DataFrame(rows, columns=[*keys, *STAT_COLUMNS])
    if out.empty:
        return out.astype({"n": "int64", "median": "float64"})
    order = {m: i for i, m in enumerate(metrics)}
    out["_metric"] = out["metric"].map(order)
    return ordered(out, ["_metric"]).drop(columns="_metric")


def default_seed_point(df: pd.DataFrame, models: int | None = None, workers: int | None = None) -> tuple:
    """The (models, workers) of the seed table: the largest values among ok rows unless given."""
    ok = ok_rows(df)
    if workers is not None:
        ok = ok[ok["workers"] == workers]
    if models is None and not ok.empty:
        models = int(ok["models"].max())
    if workers is None:
        at = ok[ok["models"] == models] if models is not None else ok
        workers = int(at["workers"].max()) if not at.empty else None
    return models, workers


def seed_table(
    df: pd.DataFrame,
    models: int | None = None,
    workers: int | None = None,
    *,
    metrics: Sequence[str] = SEED_METRICS,
    keys: Sequence[str] | None = None,
    **bootstrap,
) -> pd.DataFrame:
    """The talk's block per mode (and project, sweep …) at one (models, workers): medians and CIs of
    startup / memory / first_query.

    ``models`` / ``workers`` default to ``default_seed_point``. One row per point of ``keys`` with ok runs
    there (talk order); columns ``keys``, n, then ``<metric>``, ``<metric>_ci_low``, ``<metric>_ci_high`` per
    metric (NaN when that metric has no value). Empty when no ok run matches.
    """
    models, workers = default_seed_point(df, models, workers)
    keys = identity(df) if keys is None else list(keys)
    columns = [*keys, "n"]
    for m in metrics:
        columns += [m, f"{m}_ci_low", f"{m}_ci_high"]
    ok = ok_rows(df)
    point = ok[(ok["models"] == models) & (ok["workers"] == workers)] if models is not None else ok.iloc[0:0]
    if point.empty:
        return pd.DataFrame(columns=columns)
    summary = summarize(point, metrics, keys=keys, **bootstrap)
    rows = []
    for values, group in groups(point, keys):
        row = {**values, "n": len(group)}
        hit = summary
        for k, v in values.items():
            hit = hit[hit[k].isna()] if v is None else hit[hit[k] == v]
        for m in metrics:
            found = hit[hit["metric"] == m]
            if found.empty:
                row.update({m: np.nan, f"{m}_ci_low": np.nan, f"{m}_ci_high": np.nan})
            else:
                r = found.iloc[0]
                row.update({m: r["median"], f"{m}_ci_low": r["ci_low"], f"{m}_ci_high": r["ci_high"]})
        rows.append(row)
    # one point: each project's (sweep's …) modes together, in the talk's order
    return ordered(
        pd.DataFrame(rows, columns=columns), order=(SWEEP, "server", "database", "project", "mode", "python")
    )


def slice_value(df: pd.DataFrame, vary: str) -> int | None:
    """For plots of a metric against ``vary`` ("models" or "workers"): the value of the other parameter
    whose ok runs cover the most distinct ``vary`` values (ties: the largest). None without ok runs."""
    fixed = {"models": "workers", "workers": "models"}[vary]
    ok = ok_rows(df)
    if ok.empty:
        return None
    counts = ok.groupby(fixed)[vary].nunique()
    best = counts.max()
    return int(max(v for v, c in counts.items() if c == best))


@dataclass
class Analysis:
    """Everything the report and the plots need, computed once from a loaded frame."""

    df: pd.DataFrame
    keys: list[str]  # the identity columns every statistic is grouped by
    summary: pd.DataFrame
    seed: pd.DataFrame
    seed_models: int | None
    seed_workers: int | None
    per_worker: pd.DataFrame
    per_worker_steady: pd.DataFrame  # the same fits of memory at steady state
    scaling: pd.DataFrame
    models_plot_workers: int | None  # workers of the "vs models" plots
    workers_plot_models: int | None  # models of the "vs workers" plot

    @property
    def modes(self) -> list[str]:
        return ordered_modes(self.df["mode"].dropna())

    def shown(self, frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
        """The identity columns (sweep, server, database, project or series) a table of ``frame`` shows
        beside ``columns``: only those needed to tell its rows apart."""
        candidates = [c for c in (*self.keys, SERIES) if c not in ("models", "mode", "workers")]
        return distinguishing(frame, list(columns), candidates)


def analyze(
    df: pd.DataFrame,
    *,
    models: int | None = None,
    workers: int | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    pool_sweeps: bool = False,
) -> Analysis:
    """Run every analysis of this module; ``models`` / ``workers`` choose the seed table's point.

    Every statistic groups by ``identity(df, pool_sweeps)``: runs of two projects, or of two sweeps unless
    ``pool_sweeps``, never share a median or a fit.
    """
    boot = {"n_resamples": n_resamples, "seed": seed}
    keys = identity(df, pool_sweeps)
    seed_models, seed_workers = default_seed_point(df, models, workers)
    return Analysis(
        df=df,
        keys=keys,
        summary=summarize(df, keys=keys, **boot),
        seed=seed_table(df, seed_models, seed_workers, keys=keys, **boot),
        seed_models=seed_models,
        seed_workers=seed_workers,
        per_worker=per_worker_memory(df, keys=keys),
        per_worker_steady=per_worker_memory(df, "memory_steady_mb", keys=keys),
        scaling=scaling(df, keys=keys),
        models_plot_workers=slice_value(df, "models"),
        workers_plot_models=slice_value(df, "workers"),
    )
