"""The calibration table: medians per cell, the pass rule, verdicts over every cell, and the profiles' positions."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from experiments.analysis.calibration import (
    CELLS,
    comparison_rows,
    passes,
    position,
    position_rows,
    ratio_intervals,
    rhythm_rows,
    run_medians,
    run_values,
    table_lines,
)

REPO = Path(__file__).resolve().parent.parent


def _runs(scale: float = 1.0, *, n: int = 3) -> pd.DataFrame:
    """n ok runs per mode with every cell's metric, the values growing 10 % per run; one failed run."""
    rows = []
    for mode in ("lazy", "prefork", "prewarm", "prewarm-freeze"):
        for i in range(n):
            grow = scale * (1 + 0.1 * i)
            rows.append(
                {
                    "mode": mode,
                    "status": "ok",
                    "workers": 4,
                    "startup_s": 2.0 * grow,
                    "memory_mb": 400.0 * grow,
                    "first_query_ms": 300.0 * grow,
                    "worker_uss_mb_mean": 80.0 * grow,
                    "memory_steady_mb": 500.0 * grow,
                    "worker_uss_steady_mb_mean": 100.0 * grow,
                    "worker_gen2_collections_mean": {"lazy": 3.0, "prefork": 1.0}.get(mode, 0.0) * (i + 1),
                }
            )
    rows.append({**rows[0], "status": "failed", "startup_s": 1000.0})
    return pd.DataFrame(rows)


def test_run_medians_take_every_cell_and_leave_failed_runs_out():
    medians = run_medians(_runs())
    rhythm = {("worker_gen2_collections_mean", mode) for mode in ("lazy", "prefork", "prewarm")}
    assert set(medians) == {(metric, mode) for metric, _unit, mode, _decides in CELLS} | rhythm
    assert medians[("startup_s", "lazy")] == pytest.approx(2.2)
    assert medians[("worker_uss_steady_mb_mean", "prewarm")] == pytest.approx(110.0)


def test_rows_written_before_steady_state_have_no_steady_cells():
    old = _runs().drop(columns=["memory_steady_mb", "worker_uss_steady_mb_mean"])
    assert ("memory_steady_mb", "lazy") not in run_medians(old)


@pytest.mark.parametrize(
    ("real", "synthetic", "unit", "expected"),
    [
        (100.0, 129.0, "MB", True),
        (100.0, 131.0, "MB", False),
        (100.0, 69.0, "MB", False),
        (20.0, 29.0, "MB", True),  # 45 % off, but within 10 MB
        (20.0, 31.0, "MB", False),
        (5.0, 14.0, "ms", True),
        (5.0, 16.0, "ms", False),
        (1.0, 1.31, "s", False),
    ],
)
def test_a_cell_passes_within_30_percent_or_a_small_absolute_margin(real, synthetic, unit, expected):
    assert passes(real, synthetic, unit) is expected


def test_every_cell_decides_after_traffic_and_at_steady_state():
    real = run_medians(_runs())
    close = run_medians(_runs(1.25))
    far = run_medians(_runs(1.25)) | {
        ("first_query_ms", "prewarm"): 1000.0,
        ("memory_steady_mb", "lazy"): 9e3,
    }
    steady_only = run_medians(_runs(1.25)) | {("worker_uss_steady_mb_mean", "prewarm"): 20.0}
    good = comparison_rows("good", real, close)
    bad = comparison_rows("bad", real, far)
    assert sum(row["decides"] for row in good) == 18 and len(good) == 18
    assert all(row["passes"] for row in good)
    assert [(r["metric"], r["mode"]) for r in bad if not r["passes"]] == [
        ("first_query_ms", "prewarm"),
        ("memory_steady_mb", "lazy"),
    ]
    lines = table_lines(pd.DataFrame(good + bad + comparison_rows("steady", real, steady_only)))
    assert "### good: PASS (18/18)" in lines and "### bad: FAIL (16/18)" in lines
    assert "### steady: FAIL (17/18)" in lines  # a miss at steady state alone fails the twin
    assert any("| prewarm | first_query_ms |" in line and "**no**" in line for line in lines)
    assert any("| lazy | memory_steady_mb |" in line and "| **no** |" in line for line in lines)


def test_probe_figures_are_shown_without_deciding():
    rows = comparison_rows(
        "probe",
        {("load_s", "lazy"): 1.0},
        {("load_s", "lazy"): 2.0},
        decides=False,
        cells=(("load_s", "s", "lazy", False),),
    )
    lines = table_lines(pd.DataFrame(rows))
    assert "### probe" in lines and "| lazy | load_s | 1.00 s | 2.00 s | 2.00 | (**no**) |" in lines


def test_a_twin_that_runs_another_number_of_full_collections_fails_on_the_rhythm_alone():
    real = run_medians(_runs())
    twin = run_medians(_runs()) | {("worker_gen2_collections_mean", "prewarm"): 1.0}
    rhythm = rhythm_rows("twin", real, twin)
    assert [(r["mode"], r["real"], r["synthetic"]) for r in rhythm] == [
        ("lazy", 6.0, 6.0),  # the median of 3, 6 and 9 per worker; the failed run left out
        ("prefork", 2.0, 2.0),
        ("prewarm", 0.0, 1.0),
    ]
    assert [r["passes"] for r in rhythm] == [True, True, False] and not any(r["decides"] for r in rhythm)
    table = pd.DataFrame(comparison_rows("twin", real, twin) + rhythm)
    lines = table_lines(table)
    assert "### twin: FAIL (18/18; rhythm 2/3)" in lines  # every cell within, one mode off the rhythm
    shown = lines[lines.index("| mode | real | synthetic | kept |") :]
    assert shown[2:] == [
        "| lazy | 6.00 | 6.00 | yes |",
        "| prefork | 2.00 | 2.00 | yes |",
        "| prewarm | 0.00 | 1.00 | **no** |",
    ]
    half = twin | {("worker_gen2_collections_mean", "prewarm"): 0.5}  # within half a collection: kept
    kept = table_lines(pd.DataFrame(comparison_rows("twin", real, half) + rhythm_rows("twin", real, half)))
    assert "### twin: PASS (18/18; rhythm 3/3)" in kept
    older = _runs().drop(columns=["worker_gen2_collections_mean"])
    assert rhythm_rows("old", run_medians(older), twin) == []


def test_each_ratio_shows_how_far_the_runs_noise_moves_it_without_changing_the_verdict():
    real, twin = run_values(_runs(n=5)), run_values(_runs(1.25, n=5))
    intervals = ratio_intervals(real, twin)
    low, high = intervals[("startup_s", "lazy")]
    assert low < 1.25 < high  # the runs spread ±20 %: the ratio of medians moves with them
    steady = run_values(_runs(1.25, n=5)) | {("startup_s", "lazy"): (2.5,) * 5}
    assert ratio_intervals(run_values(_runs(n=5)) | {("startup_s", "lazy"): (2.0,) * 5}, steady)[
        ("startup_s", "lazy")
    ] == (1.25, 1.25)
    rows = comparison_rows(
        "twin", run_medians(_runs(n=5)), run_medians(_runs(1.25, n=5)), intervals=intervals
    )
    lines = table_lines(pd.DataFrame(rows))
    assert "| mode | metric | real | synthetic | synthetic / real | 90% interval | within |" in lines
    assert f"| lazy | startup_s | 2.40 s | 3.00 s | 1.25 | {low:.2f}–{high:.2f} | yes |" in lines
    assert "### twin: PASS (18/18)" in lines
    plain = table_lines(pd.DataFrame(comparison_rows("twin", run_medians(_runs()), run_medians(_runs()))))
    assert "| mode | metric | real | synthetic | synthetic / real | within |" in plain


def test_a_profile_is_placed_among_the_real_projects():
    real = {"wiki": 50.0, "oscar": 60.0, "pretix": 250.0}
    assert position(55.0, real) == (2, "between wiki and oscar")
    assert position(10.0, real) == (1, "below wiki")
    assert position(300.0, real) == (4, "above pretix")
    rows = position_rows(
        {name: {("memory_mb", "lazy"): v} for name, v in real.items()},
        {"realistic": {("memory_mb", "lazy"): 100.0}},
    )
    assert rows == [
        {
            "metric": "memory_mb",
            "mode": "lazy",
            "unit": "MB",
            "real:wiki": 50.0,
            "real:oscar": 60.0,
            "real:pretix": 250.0,
            "profile:realistic": 100.0,
            "rank:realistic": 3,
            "where:realistic": "between oscar and pretix",
        }
    ]


def test_the_committed_table_regenerates_from_the_committed_results(tmp_path):
    results = REPO / "results" / "calibration"
    done = subprocess.run(
        [sys.executable, str(REPO / "calibration" / "table.py"), "--no-inspect", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for name in ("table.md", "table.csv", "positions.csv"):
        assert (tmp_path / name).read_text() == (results / name).read_text(), name
