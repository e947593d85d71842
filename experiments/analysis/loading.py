"""Loading result CSVs into one typed DataFrame: old column names upgraded, columns added since filled, every
registry column cast to its type, repeated runs of a copied CSV dropped. The one place that reads a CSV for the
analysis."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.analysis.tables import cell_text
from experiments.columns import BY_NAME, COLUMN_NAMES
from experiments.environment import LEGACY_PYTHON, legacy_python, read_sidecar
from experiments.errors import ExperimentError

# Old column name -> current name. load_results() is the one place that upgrades them.
RENAMED_COLUMNS: dict[str, str] = {
    "first_request_ms": "first_query_ms",
    "pss_mb": "memory_mb",
}

# Columns added after CSVs were written, and the value every row written before them had: every run was on
# uWSGI and SQLite, one thread per worker, no worker recycled, on Python 3.11, before servers, databases,
# threads, recycling and the interpreter became sweep axes. load_results() fills them in one place; the
# interpreter (and its build) from the CSV's sidecar where it records the runner's (environment.legacy_python).
ADDED_COLUMNS: dict[str, str | int] = {
    "server": "uwsgi",
    "database": "sqlite",
    "threads": 1,
    "recycling": "off",
    "python": LEGACY_PYTHON,
}

# A CSV without one of these cannot be analysed; every other registry column is optional (filled with NA).
REQUIRED_COLUMNS: tuple[str, ...] = ("mode", "workers", "models", "status")


_MISSING_NUMBERS = frozenset({"", "nan", "na", "n/a", "none", "null"})


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
            records = [tuple(cell_text(v) for v in values) for values in zip(*columns, strict=True)]
            keep = [not record[1] or record not in seen for record in records]
            duplicates += keep.count(False)
            frames[index] = frame[keep]
            seen.update(records)
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    extras = [c for c in df.columns if c not in BY_NAME]
    df = df[list(COLUMN_NAMES) + extras]
    df.attrs["duplicates"] = duplicates
    return df


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

    df = _typed(raw, path)
    df["mode"] = df["mode"].str.strip()
    df["status"] = df["status"].str.strip()

    ok = df["status"] == "ok"
    for name in ("mode", "models", "workers"):
        blank = df[name].isna() | (df[name] == "") if name == "mode" else df[name].isna()
        bad = (ok & blank).to_numpy().nonzero()[0]
        if bad.size:
            raise ExperimentError(f"{path}: row {bad[0] + 1}: {name} is empty in a run with status ok")
    return df


def _typed(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Every registry column cast to its type, those the file lacks filled (``ADDED_COLUMNS``, the sidecar's
    interpreter) or NA; unknown extra columns kept as text."""
    added = (
        {**ADDED_COLUMNS, **legacy_python(read_sidecar(path))}
        if "python" not in raw.columns
        else ADDED_COLUMNS
    )
    out = {}
    for name in COLUMN_NAMES:
        column = BY_NAME[name]
        if name not in raw.columns and name in added:
            out[name] = pd.Series(added[name], index=raw.index, dtype=_dtype(column.type))
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
    return pd.DataFrame(out, index=raw.index)


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
