"""Real projects against their synthetic counterparts: the calibration table of `--like` twins and the profiles.

Pure functions over the runner's results (one DataFrame per project) and the probes' figures; the script
calibration/table.py does the reading and writing.

Every cell the lab reports decides, in both readings: lazy / prefork / prewarm × start-up, memory (total PSS after
traffic), first query and mean worker USS, and memory and mean worker USS at steady state (after one full
collection in every worker): 18 cells (median over repetitions, 4 workers). A twin passes a cell when it lies
within ±30 % of the real project, or within an absolute margin where values are small (10 ms, 10 MB). Beside the
cells, per mode, the full collections a worker ran on its own within the traffic (the collector's rhythm), judged
apart: the twin keeps it when its workers run as many (within half a collection). The profiles (`realistic` and
the presets) are placed among the real projects, cell by cell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.analysis.grouping import ok_rows
from experiments.analysis.stats import ratio_ci
from experiments.columns import BY_NAME

TOLERANCE = 0.30
ABSOLUTE = {"s": 0.01, "ms": 10.0, "MB": 10.0}  # a difference this small passes whatever the ratio
MODES = ("lazy", "prefork", "prewarm")
# (metric, its unit in the column registry)
METRICS = tuple(
    (name, BY_NAME[name].unit) for name in ("startup_s", "memory_mb", "first_query_ms", "worker_uss_mb_mean")
)
STEADY_METRICS = tuple(
    (name, BY_NAME[name].unit) for name in ("memory_steady_mb", "worker_uss_steady_mb_mean")
)
# (metric, unit, mode, decides)
CELLS: tuple[tuple[str, str, str, bool], ...] = tuple(
    [(metric, unit, mode, True) for mode in MODES for metric, unit in METRICS]
    + [(metric, unit, mode, True) for mode in MODES for metric, unit in STEADY_METRICS]
)
# Whether a worker's own first full collection falls within the traffic decides how much of what it inherited it
# keeps private after traffic: a twin must run as many, per worker, as its real project.
RHYTHM = "worker_gen2_collections_mean"
RHYTHM_MARGIN = 0.5  # collections per worker (a mean over workers, median over runs)
INTERVAL = 0.90  # the confidence of the interval shown beside each ratio


def run_values(results: pd.DataFrame) -> dict[tuple[str, str], tuple[float, ...]]:
    """{(metric, mode): the values of the successful runs} for one project's results."""
    ok = ok_rows(results)
    values: dict[tuple[str, str], tuple[float, ...]] = {}
    for metric, _unit, mode, _decides in (*CELLS, *((RHYTHM, "", mode, False) for mode in MODES)):
        if metric not in ok:
            continue
        runs = ok.loc[ok["mode"] == mode, metric].dropna()
        if not runs.empty:
            values[(metric, mode)] = tuple(float(v) for v in runs)
    return values


def run_medians(results: pd.DataFrame) -> dict[tuple[str, str], float]:
    """{(metric, mode): median over the successful runs} for one project's results."""
    return {key: float(np.median(runs)) for key, runs in run_values(results).items()}


def ratio_intervals(
    real: dict[tuple[str, str], tuple[float, ...]], synthetic: dict[tuple[str, str], tuple[float, ...]]
) -> dict[tuple[str, str], tuple[float, float]]:
    """Per cell both sides ran: the 90 % bootstrap interval of synthetic / real (medians of runs). How far the
    machine's noise alone moves a ratio: a cell whose interval straddles ±30 % is decided by that noise."""
    return {
        key: ratio_ci(synthetic[key], real[key], confidence=INTERVAL)
        for key in real.keys() & synthetic.keys()
        if min(real[key]) > 0
    }


def passes(real: float, synthetic: float, unit: str) -> bool:
    """Within ±30 % of the real value, or within the unit's absolute margin."""
    difference = abs(synthetic - real)
    return difference <= TOLERANCE * abs(real) or difference <= ABSOLUTE.get(unit, 0.0)


def comparison_rows(
    comparison: str,
    real: dict[tuple[str, str], float],
    synthetic: dict[tuple[str, str], float],
    *,
    decides: bool = True,
    cells: tuple[tuple[str, str, str, bool], ...] = CELLS,
    intervals: dict[tuple[str, str], tuple[float, float]] | None = None,
) -> list[dict]:
    """One row per cell both sides measured; with ``decides`` false none decides (shown for information).
    ``intervals`` (from ``ratio_intervals``) adds each ratio's interval; the verdict stays on the medians."""
    rows = []
    for metric, unit, mode, deciding in cells:
        key = (metric, mode)
        if key not in real or key not in synthetic:
            continue
        r, s = real[key], synthetic[key]
        low, high = (intervals or {}).get(key, (float("nan"), float("nan")))
        rows.append(
            {
                "comparison": comparison,
                "metric": metric,
                "mode": mode,
                "unit": unit,
                "real": r,
                "synthetic": s,
                "ratio": s / r if r else float("nan"),
                "ratio_low": low,
                "ratio_high": high,
                "decides": decides and deciding,
                "passes": passes(r, s, unit),
            }
        )
    return rows


def rhythm_rows(comparison: str, real: dict[tuple[str, str], float], synthetic: dict[tuple[str, str], float]):
    """Per mode both sides measured: the full collections a worker ran within the traffic, real and synthetic;
    kept when they differ by at most ``RHYTHM_MARGIN``. Judged apart from the cells (``decides`` false)."""
    return [
        {
            "comparison": comparison,
            "metric": RHYTHM,
            "mode": mode,
            "unit": "",
            "real": real[(RHYTHM, mode)],
            "synthetic": synthetic[(RHYTHM, mode)],
            "ratio": synthetic[(RHYTHM, mode)] / real[(RHYTHM, mode)]
            if real[(RHYTHM, mode)]
            else float("nan"),
            "decides": False,
            "passes": abs(synthetic[(RHYTHM, mode)] - real[(RHYTHM, mode)]) <= RHYTHM_MARGIN,
        }
        for mode in MODES
        if (RHYTHM, mode) in real and (RHYTHM, mode) in synthetic
    ]


def verdict(rows: pd.DataFrame, rhythm: pd.DataFrame | None = None) -> str:
    """PASS when every deciding row passes and every mode keeps the rhythm, with the counts:
    "PASS (18/18)", "FAIL (18/18; rhythm 2/3)"."""
    deciding = rows.loc[rows["decides"], "passes"]
    kept = rhythm["passes"].astype(bool) if rhythm is not None and not rhythm.empty else pd.Series(dtype=bool)
    counts = f"{int(deciding.sum())}/{len(deciding)}"
    if not kept.empty:
        counts += f"; rhythm {int(kept.sum())}/{len(kept)}"
    return f"{'PASS' if deciding.all() and kept.all() else 'FAIL'} ({counts})"


def table_lines(table: pd.DataFrame) -> list[str]:
    """The comparisons as Markdown, one section each: the cells after traffic, then at steady state, then the
    full collections within the traffic per mode when the comparison has them."""
    lines: list[str] = []
    for comparison, every in table.groupby("comparison", sort=False):
        rhythm = every[every["metric"] == RHYTHM]
        rows = every[every["metric"] != RHYTHM]
        steady = rows["metric"].isin([metric for metric, _ in STEADY_METRICS])
        title = f"### {comparison}: {verdict(rows, rhythm)}" if rows["decides"].any() else f"### {comparison}"
        spread = "ratio_low" in rows and rows["ratio_low"].notna().any()
        interval = f" {INTERVAL:.0%} interval |" if spread else ""
        lines += [
            "",
            title,
            "",
            f"| mode | metric | real | synthetic | synthetic / real |{interval} within |",
        ]
        lines.append("|---|---|---:|---:|---:|" + ("---:|" if spread else "") + ":---:|")
        lines += [_cell_line(row, spread) for row in pd.concat([rows[~steady], rows[steady]]).itertuples()]
        lines += _rhythm_lines(rhythm)
    return lines


def _cell_line(row, spread: bool) -> str:
    mark = "yes" if row.passes else "**no**"
    cells = [
        row.mode,
        row.metric,
        _fmt(row.real, row.unit),
        _fmt(row.synthetic, row.unit),
        f"{row.ratio:.2f}",
    ]
    if spread:
        cells.append("" if pd.isna(row.ratio_low) else f"{row.ratio_low:.2f}–{row.ratio_high:.2f}")
    cells.append(mark if row.decides else f"({mark})")
    return "| " + " | ".join(cells) + " |"


def _rhythm_lines(rhythm: pd.DataFrame) -> list[str]:
    if rhythm.empty:
        return []
    lines = [
        "",
        "Full collections a worker ran on its own within the traffic (mean per worker, median of runs; kept "
        f"within {RHYTHM_MARGIN:g}):",
        "",
        "| mode | real | synthetic | kept |",
        "|---|---:|---:|:---:|",
    ]
    return lines + [
        f"| {row.mode} | {row.real:.2f} | {row.synthetic:.2f} | {'yes' if row.passes else '**no**'} |"
        for row in rhythm.itertuples()
    ]


def position(value: float, real: dict[str, float]) -> tuple[int, str]:
    """Where ``value`` sits among the real projects' values: its rank (1 = smallest) among them and itself, and
    the neighbours it lies between."""
    ordered = sorted(real.items(), key=lambda item: item[1])
    below = [name for name, v in ordered if v < value]
    above = [name for name, v in ordered if v >= value]
    rank = len(below) + 1
    if not below:
        return rank, f"below {above[0]}"
    if not above:
        return rank, f"above {below[-1]}"
    return rank, f"between {below[-1]} and {above[0]}"


def position_rows(
    real: dict[str, dict[tuple[str, str], float]], profiles: dict[str, dict[tuple[str, str], float]]
) -> list[dict]:
    """Per deciding cell: each real project's value, and each profile's value with its position among them."""
    rows = []
    for metric, unit, mode, decides in CELLS:
        key = (metric, mode)
        if not decides or not all(key in m for m in [*real.values(), *profiles.values()]):
            continue
        reals = {name: m[key] for name, m in real.items()}
        row = {"metric": metric, "mode": mode, "unit": unit, **{f"real:{n}": v for n, v in reals.items()}}
        for name, medians in profiles.items():
            rank, where = position(medians[key], reals)
            row.update({f"profile:{name}": medians[key], f"rank:{name}": rank, f"where:{name}": where})
        rows.append(row)
    return rows


def position_lines(rows: list[dict], real_names: list[str], profile_names: list[str]) -> list[str]:
    """The positions as a Markdown table: real projects, then each profile with "rank r of n: between a and b"."""
    header = ["mode", "metric", *real_names, *profile_names]
    lines = [
        "| " + " | ".join(header) + " |",
        "|---|---|" + "---:|" * len(real_names) + "---|" * len(profile_names),
    ]
    total = len(real_names) + 1
    for row in rows:
        cells = [row["mode"], row["metric"]] + [_fmt(row[f"real:{n}"], row["unit"]) for n in real_names]
        for name in profile_names:
            cells.append(
                f"{_fmt(row[f'profile:{name}'], row['unit'])}: rank {row[f'rank:{name}']} of {total}, "
                f"{row[f'where:{name}']}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _fmt(value: float, unit: str) -> str:
    digits = 2 if unit == "s" else 0 if abs(value) >= 100 else 1
    return f"{value:.{digits}f} {unit}"
