"""What a point is, and the order of things: the identity columns every statistic groups by, a project's series
across its sizes, groups with blanks kept, and the talk's order of modes and rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from experiments.columns import IDENTITY
from experiments.modes import MODE_NAMES, mode_rank

# Display order of modes (experiments/modes.py); modes not listed there follow, alphabetically.
MODE_ORDER: tuple[str, ...] = MODE_NAMES

# Every statistic groups by IDENTITY (experiments.columns, shared with the runner's summary): the columns a
# frame has of it, a blank cell being a value of its own. The sweep identifies a point too, unless sweeps are
# pooled on purpose (``analyze-results --pool-sweeps``).
SWEEP = "sweep"
# Across model counts, projects join through their label with the size taken out (see ``series_of``).
SERIES = "series"
# Row order of every table: the talk's modes in order, sizes ascending.
_ORDER: tuple[str, ...] = (
    SWEEP,
    "server",
    "database",
    SERIES,
    "mode",
    "python",
    "models",
    "project",
    "workers",
)


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that count: ``status == "ok"``."""
    return df[df["status"] == "ok"]


def mode_sort_key(mode: str) -> tuple[int, str]:
    """Sort key putting the registry's modes first, in its order (``modes.mode_rank``); others after, by name."""
    rank = mode_rank(mode)
    return (rank, "") if rank < len(MODE_ORDER) else (rank, mode)


def ordered_modes(modes: Iterable[str]) -> list[str]:
    return sorted(set(modes), key=mode_sort_key)


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


def groups(frame: pd.DataFrame, keys: Sequence[str]):
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
    if column == "python":
        return (1, version_sort_key(value))
    return (1, value)


def version_sort_key(version: str) -> tuple:
    """3.9 before 3.10; a free-threaded 3.13.0t right after 3.13.0."""
    text = str(version)
    parts = text.rstrip("t").split(".")
    return (*(int(p) if p.isdigit() else 0 for p in parts), text.endswith("t"))


def ordered(out: pd.DataFrame, tail: Sequence[str] = (), order: Sequence[str] = _ORDER) -> pd.DataFrame:
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
