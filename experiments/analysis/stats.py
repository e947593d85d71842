"""Statistics over result CSVs: load, summarize (median + bootstrap CI), seed table, linear fits.

This is the only module of the project that imports pandas at import time; the runner never imports it.
Only rows with ``status == "ok"`` enter any statistic; failed rows stay in the loaded frame.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.columns import BY_NAME, COLUMN_NAMES, IDENTITY, METRICS
from experiments.errors import ExperimentError
from experiments.modes import MODE_NAMES

# Old column name -> current name. load_results() is the one place that upgrades them.
RENAMED_COLUMNS: dict[str, str] = {
    "first_request_ms": "first_query_ms",
    "pss_mb": "memory_mb",
}

# Columns added after CSVs were written, and the value every row written before them had: every run was on
# uWSGI and SQLite, one thread per worker, no worker recycled, before servers, databases, threads and recycling
# became sweep axes. load_results() fills them in one place.
ADDED_COLUMNS: dict[str, str | int] = {
    "server": "uwsgi",
    "database": "sqlite",
    "threads": 1,
    "recycling": "off",
}

# A CSV without one of these cannot be analysed; every other registry column is optional (filled with NA).
REQUIRED_COLUMNS: tuple[str, ...] = ("mode", "workers", "models", "status")

# The talk's three numbers per mode, in the order of its slides, with memory read twice: after traffic (what
# the talk compares with) and at steady state (after one full collection in every worker).
SEED_METRICS: tuple[str, ...] = ("startup_s", "memory_mb", "memory_steady_mb", "first_query_ms")

# Display order of modes (experiments/modes.py); modes not listed there follow, alphabetically.
MODE_ORDER: tuple[str, ...] = MODE_NAMES

# Every statistic groups by IDENTITY (experiments.columns, shared with the runner's summary): the columns a
# frame has of it, a blank cell being a value of its own. The sweep identifies a point too, unless sweeps are
# pooled on purpose (``analyze-results --pool-sweeps``).
SWEEP = "sweep"
# Across model counts, projects join through their label with the size taken out (see ``series_of``).
SERIES = "series"
STAT_COLUMNS: tuple[str, ...] = ("metric", "unit", "n", "median", "ci_low", "ci_high")
# Row order of every table: the talk's modes in order, sizes ascending.
_ORDER: tuple[str, ...] = (SWEEP, "server", "database", SERIES, "mode", "models", "project", "workers")

_MISSING_NUMBERS = frozenset({"", "nan", "na", "n/a", "none", "null"})


# --------------------------------------------------------------------------------------------- loading


def load_results(paths: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Read one or many result CSVs into one typed DataFrame.

    Old column names are upgraded (``RENAMED_COLUMNS``), registry columns are cast to their type
    (str -> ``str``, int -> nullable ``Int64``, float -> ``float64``; blank cells become NA), registry
    columns absent from a file are added as NA, unknown extra columns are kept as text. Raises
    ``ExperimentError`` naming the file when it cannot be read, lacks a required column, or holds a
    value that does not fit its column's type, or when one file is given twice.

    A row of a later file that repeats a row of an earlier one (same sweep, ``run_id`` and ``started_at``: the
    same run, from a copy of a CSV) is dropped; their number is ``df.attrs["duplicates"]``. Rows of one run id
    with other start times are other measurements (a failed run retried, a sweep run again) and are kept.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    paths = [Path(p) for p in paths]
    _refuse_repeats(paths)
    frames = [_load_one(p) for p in paths]
    if not frames:
        raise ExperimentError("no result CSV given")
    duplicates = 0
    if len(frames) > 1:
        seen: set[tuple] = set()
        for index, frame in enumerate(frames):
            columns = (frame["sweep"], frame["run_id"], frame["started_at"])
            records = [tuple(_text(v) for v in values) for values in zip(*columns, strict=True)]
            keep = [not record[1] or record not in seen for record in records]
            duplicates += keep.count(False)
            frames[index] = frame[keep]
            seen.update(records)
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    extras = [c for c in df.columns if c not in BY_NAME]
    df = df[list(COLUMN_NAMES) + extras]
    df.attrs["duplicates"] = duplicates
    return df


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def _refuse_repeats(paths: list[Path]) -> None:
    """One file given twice (also through another path or a link) would count every run twice."""
    seen: dict[tuple[int, int], Path] = {}
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue  # reported by the loader, with the reason
        key = (info.st_dev, info.st_ino)
        if key in seen:
            raise ExperimentError(f"{path}: given twice (also as {seen[key]}); give each CSV once")
        seen[key] = path


def _load_one(path: Path) -> pd.DataFrame:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), None)
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    except FileNotFoundError:
        raise ExperimentError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ExperimentError(f"{path}: is a directory, not a CSV file") from None
    except PermissionError:
        raise ExperimentError(f"{path}: permission denied") from None
    except UnicodeDecodeError:
        raise ExperimentError(f"{path}: not a UTF-8 text file") from None
    except pd.errors.EmptyDataError:
        raise ExperimentError(f"{path}: empty file, expected a CSV header") from None
    except (pd.errors.ParserError, csv.Error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExperimentError(f"{path}: not a valid CSV ({first})") from None
    if not header:
        raise ExperimentError(f"{path}: empty file, expected a CSV header")
    names = [h.strip() for h in header]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ExperimentError(f"{path}: duplicate column(s) {', '.join(duplicates)}")
    raw.columns = names

    raw = _upgrade_columns(raw)
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise ExperimentError(
            f"{path}: missing required column(s) {', '.join(missing)} (found: {', '.join(raw.columns)})"
        )

    out = {}
    for name in COLUMN_NAMES:
        column = BY_NAME[name]
        if name not in raw.columns and name in ADDED_COLUMNS:
            out[name] = pd.Series(ADDED_COLUMNS[name], index=raw.index, dtype=_dtype(column.type))
        elif name not in raw.columns:
            out[name] = pd.Series(
                pd.NA if column.type is int else np.nan, index=raw.index, dtype=_dtype(column.type)
            )
        elif column.type is str:
            out[name] = raw[name].astype("str")
        else:
            out[name] = _to_number(raw[name], column.type, path, name)
    for name in raw.columns:
        if name not in out:
            out[name] = raw[name].astype("str")
    df = pd.DataFrame(out, index=raw.index)
    df["mode"] = df["mode"].str.strip()
    df["status"] = df["status"].str.strip()

    ok = df["status"] == "ok"
    for name in ("mode", "models", "workers"):
        blank = df[name].isna() | (df[name] == "") if name == "mode" else df[name].isna()
        bad = (ok & blank).to_numpy().nonzero()[0]
        if bad.size:
            raise ExperimentError(f"{path}: row {bad[0] + 1}: {name} is empty in a run with status ok")
    return df


def _upgrade_columns(raw: pd.DataFrame) -> pd.DataFrame:
    for old, new in RENAMED_COLUMNS.items():
        if old not in raw.columns:
            continue
        if new in raw.columns:  # both present: the new name wins, the old one fills its blanks
            raw[new] = raw[new].where(raw[new].str.strip() != "", raw[old])
            raw = raw.drop(columns=[old])
        else:
            raw = raw.rename(columns={old: new})
    return raw


def _dtype(kind: type) -> str:
    return {str: "str", int: "Int64", float: "float64"}[kind]


def _to_number(raw: pd.Series, kind: type, path: Path, name: str) -> pd.Series:
    text = raw.str.strip()
    blank = text.str.lower().isin(_MISSING_NUMBERS)
    numbers = pd.to_numeric(text.where(~blank, None), errors="coerce").astype("float64")
    bad = numbers.isna() & ~blank
    if kind is int:
        bad |= numbers.notna() & (numbers % 1 != 0)
    where = bad.to_numpy().nonzero()[0]
    if where.size:
        i = where[0]
        raise ExperimentError(
            f"{path}: row {i + 1}: column {name} expects {kind.__name__}, got {raw.iloc[i]!r}"
        )
    return numbers.astype("Int64") if kind is int else numbers


# ------------------------------------------------------------------------------------------- statistics


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that count: ``status == "ok"``."""
    return df[df["status"] == "ok"]


def mode_sort_key(mode: str) -> tuple[int, str]:
    """Sort key putting the talk's modes first, in the talk's order."""
    return (MODE_ORDER.index(mode), "") if mode in MODE_ORDER else (len(MODE_ORDER), mode)


def ordered_modes(modes: Iterable[str]) -> list[str]:
    return sorted(set(modes), key=mode_sort_key)


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


def _present_metrics(df: pd.DataFrame, metrics: Iterable[str] | None) -> list[str]:
    if metrics is None:
        return [m for m in METRICS if m in df.columns and df[m].notna().any()]
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in df.columns]
    if unknown:
        raise ExperimentError(f"unknown metric(s): {', '.join(unknown)}")
    return metrics


def _unit(metric: str) -> str:
    return BY_NAME[metric].unit if metric in BY_NAME else ""


def identity(df: pd.DataFrame, pool_sweeps: bool = False) -> list[str]:
    """The identity columns of ``df`` in ``IDENTITY`` order, the sweep first unless ``pool_sweeps``."""
    names = ([] if pool_sweeps else [SWEEP]) + list(IDENTITY)
    return [name for name in names if name in df.columns]


def series_of(project, models) -> str:
    """The label a project shares with its other sizes: ``realistic-m300-s0`` → ``realistic-m*-s0``.

    Generated projects name their size in their label; any other label is a series of its own, so a fit
    across model counts never pools a real project with its twin, nor two unrelated projects.
    """
    label = "" if project is None or pd.isna(project) else str(project)
    if models is None or pd.isna(models):
        return label
    return label.replace(f"-m{int(models)}-", "-m*-", 1)


def with_series(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out[SERIES] = [series_of(p, m) for p, m in zip(out["project"], out["models"], strict=True)]
    return out


def _plain(value):
    """A group key as a plain Python value (NA → None) for the rows of a result frame."""
    if value is None or pd.isna(value):
        return None
    return int(value) if isinstance(value, np.integer | int) and not isinstance(value, bool) else value


def _groups(frame: pd.DataFrame, keys: Sequence[str]):
    """(dict of key values, group) per distinct value of ``keys``; blanks are a value, not dropped."""
    keys = list(keys)
    if not keys:
        yield {}, frame
        return
    for key, group in frame.groupby(keys, sort=False, dropna=False):
        values = key if isinstance(key, tuple) else (key,)
        yield {k: _plain(v) for k, v in zip(keys, values, strict=True)}, group


def _sort_value(column: str, value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return (0, "")
    if column == "mode":
        return (1, mode_sort_key(value))
    return (1, value)


def _ordered(out: pd.DataFrame, tail: Sequence[str] = (), order: Sequence[str] = _ORDER) -> pd.DataFrame:
    """``out`` sorted by its identity columns (in ``order``), then by ``tail``."""
    if out.empty:
        return out.reset_index(drop=True)
    by = [c for c in order if c in out.columns] + list(tail)
    key = out.apply(lambda r: tuple(_sort_value(c, r[c]) for c in by), axis=1)
    return out.loc[key.sort_values().index].reset_index(drop=True)


def distinguishing(frame: pd.DataFrame, shown: Sequence[str], candidates: Sequence[str]) -> list[str]:
    """The ``candidates`` a table of ``frame`` must show beside ``shown`` to tell its rows apart: each one
    whose value differs between rows that agree on the columns shown so far (e.g. ``project`` as soon as two
    projects share a model count)."""
    chosen: list[str] = []
    for column in candidates:
        if column not in frame.columns or column in shown or frame.empty:
            continue
        by = [c for c in [*shown, *chosen] if c in frame.columns]
        spread = (
            frame.groupby(by, dropna=False)[column].nunique(dropna=False).max()
            if by
            else frame[column].nunique(dropna=False)
        )
        if spread > 1:
            chosen.append(column)
    return chosen


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
    for point, group in _groups(ok, keys):
        for metric in metrics:
            values = group[metric].dropna().to_numpy(dtype=float)
            if values.size == 0:
                continue
            low, high = bootstrap_ci(values, confidence=confidence, n_resamples=n_resamples, seed=seed)
            rows.append(
                {
                    **point,
                    "metric": metric,
                    "unit": _unit(metric),
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
    return _ordered(out, ["_metric"]).drop(columns="_metric")


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
    for values, group in _groups(point, keys):
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
    return _ordered(
        pd.DataFrame(rows, columns=columns), order=(SWEEP, "server", "database", "project", "mode")
    )


# ------------------------------------------------------------------------------------------------ fits


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
    for point, group in _groups(ok, by):
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
    return _ordered(out.rename(columns={"x_min": "workers_min", "x_max": "workers_max"}))


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
            rows.append({**row, "metric": metric, "unit": _unit(metric)})
    cols = [*by, "metric", "unit", *FIT_COLUMNS]
    out = pd.DataFrame(rows, columns=cols).rename(columns={"x_min": "models_min", "x_max": "models_max"})
    if out.empty:
        return out
    out["_metric"] = out["metric"].map({m: i for i, m in enumerate(metrics)})
    return _ordered(out, ["_metric"]).drop(columns="_metric")


# ---------------------------------------------------------------------------------------------- bundle


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
