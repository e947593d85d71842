"""experiments.analysis.stats on small fixture CSVs with known answers (fixtures/analysis/make_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.analysis import stats as analysis
from experiments.analysis.stats import (
    bootstrap_ci,
    linear_fit,
    load_results,
    per_worker_memory,
    ratio_ci,
    scaling,
    seed_table,
    summarize,
)
from experiments.columns import COLUMN_NAMES
from experiments.errors import ExperimentError

FIXTURES = Path(__file__).parent / "fixtures" / "analysis"
SWEEP = FIXTURES / "sweep.csv"
SEED = FIXTURES / "seed.csv"


@pytest.fixture(scope="module")
def sweep() -> pd.DataFrame:
    return load_results(SWEEP)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def frame(rows: list[dict], directory: Path) -> pd.DataFrame:
    """A typed frame from row dicts, through the real loader (CSV round trip)."""
    path = directory / "rows.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return load_results(path)


# ---------------------------------------------------------------------------------------------- loading


def test_load_types_columns_and_keeps_failed_rows_and_extras(sweep):
    assert len(sweep) == 3 * 7 * 3 + 2
    assert list(sweep.columns[: len(COLUMN_NAMES)]) == list(COLUMN_NAMES)
    assert "host" in sweep.columns and set(sweep["host"]) == {"fixture-box"}
    assert str(sweep["workers"].dtype) == "Int64" and str(sweep["models"].dtype) == "Int64"
    assert sweep["startup_s"].dtype == np.float64 and sweep["memory_mb"].dtype == np.float64
    assert pd.api.types.is_string_dtype(sweep["mode"])
    assert sorted(sweep["status"].unique()) == ["failed", "ok", "timeout"]
    failed = sweep[sweep["status"] == "failed"].iloc[0]
    assert np.isnan(failed["memory_mb"])
    assert failed["error"].splitlines()[1] == '*** "no app loaded", see log ***'  # multi-line quoted cell


def test_load_many_files_fills_absent_optional_columns(sweep):
    both = load_results([SWEEP, SEED])
    assert len(both) == len(sweep) + 12
    from_seed = both.iloc[len(sweep) :]
    assert from_seed["run_id"].isna().all() and from_seed["url_patterns"].isna().all()
    assert from_seed["host"].isna().all()  # a registry column the older file lacks


def test_old_column_names_are_upgraded():
    df = load_results(FIXTURES / "old_columns.csv")
    assert "first_request_ms" not in df.columns and "pss_mb" not in df.columns
    assert df["first_query_ms"].tolist()[:2] == [4.25, 4.75]
    assert df["memory_mb"].tolist()[:2] == [210.5, 211.5]
    assert np.isnan(df["memory_mb"].iloc[2])
    assert analysis.RENAMED_COLUMNS["pss_mb"] == "memory_mb"


def test_new_name_wins_over_old_and_old_fills_blanks(tmp_path):
    path = write_csv(
        tmp_path / "both.csv",
        "mode,models,workers,status,memory_mb,pss_mb\nlazy,1,1,ok,10,99\nlazy,1,1,ok,,20\n",
    )
    assert load_results(path)["memory_mb"].tolist() == [10.0, 20.0]


def test_missing_required_column_is_a_clear_error():
    with pytest.raises(ExperimentError, match=r"missing_column\.csv: missing required column\(s\) workers"):
        load_results(FIXTURES / "missing_column.csv")


def test_bad_value_names_file_column_row_and_value():
    with pytest.raises(ExperimentError) as info:
        load_results(FIXTURES / "bad_value.csv")
    message = str(info.value)
    assert (
        "bad_value.csv" in message and "row 2" in message and "memory_mb" in message and "'lots'" in message
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("mode,models,workers,status\nlazy,10,2.5,ok\n", "workers expects int"),
        ("mode,models,workers,status\nlazy,,2,ok\n", "models is empty in a run with status ok"),
        ("mode,models,workers,status,mode\nlazy,1,2,ok,x\n", "duplicate column"),
        ("", "empty file"),
    ],
)
def test_bad_csv_content(tmp_path, text, match):
    path = write_csv(tmp_path / "bad.csv", text)
    with pytest.raises(ExperimentError, match=match) as info:
        load_results(path)
    assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ExperimentError, match="nope.csv: no such file"):
        load_results(tmp_path / "nope.csv")
    with pytest.raises(ExperimentError, match="is a directory"):
        load_results(tmp_path)


def test_failed_row_may_leave_identity_blank_and_header_only_file_loads(tmp_path):
    path = write_csv(tmp_path / "f.csv", "mode,models,workers,status\nlazy,,,failed\n")
    assert len(load_results(path)) == 1
    empty = load_results(write_csv(tmp_path / "h.csv", "mode,models,workers,status\n"))
    assert len(empty) == 0 and summarize(empty).empty and seed_table(empty).empty


# ------------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_single_value_collapses_and_is_deterministic():
    assert bootstrap_ci([3.5]) == (3.5, 3.5)
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    values = np.random.default_rng(5).normal(0, 1, size=40)
    assert bootstrap_ci(values) == bootstrap_ci(values)
    assert bootstrap_ci(values, seed=1) != bootstrap_ci(values, seed=2)
    # five values: the median of a resample is the minimum ~6 % of the time, so the 95 % CI reaches it
    assert bootstrap_ci([1.0, 5.0, 2.0, 8.0, 3.0]) == (1.0, 8.0)


def test_bootstrap_ci_contains_true_median_and_narrows_with_n():
    rng = np.random.default_rng(12)
    wide = bootstrap_ci(rng.normal(50, 5, size=15))
    narrow = bootstrap_ci(rng.normal(50, 5, size=400))
    assert wide[0] < 50 < wide[1]
    assert narrow[0] < 50 < narrow[1]
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    assert narrow[1] - narrow[0] < 2.5  # ~ 2 * 1.96 * 1.25 * 5 / sqrt(400)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=25))
def test_bootstrap_ci_brackets_the_sample_median(values):
    low, high = bootstrap_ci(values, n_resamples=400)
    median = float(np.median(values))
    assert low <= median + 1e-9 * max(1.0, abs(median))
    assert high >= median - 1e-9 * max(1.0, abs(median))
    assert min(values) <= low <= high <= max(values)


def test_ratio_ci_brackets_the_ratio_of_medians_and_narrows_with_runs():
    rng = np.random.default_rng(3)
    few = ratio_ci(rng.normal(120, 20, size=5), rng.normal(100, 20, size=5))
    many = ratio_ci(rng.normal(120, 20, size=200), rng.normal(100, 20, size=200))
    assert few[0] < many[0] < 1.2 < many[1] < few[1]
    assert many[1] - many[0] < 0.15
    assert ratio_ci([2.0, 2.0], [1.0, 1.0]) == (2.0, 2.0)
    assert ratio_ci([3.0, 1.0, 2.0], [1.0, 2.0]) == ratio_ci([3.0, 1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="each side"):
        ratio_ci([1.0], [float("nan")])


# ------------------------------------------------------------------------------------------- summarize


def test_summarize_median_ci_and_filtering(sweep):
    s = summarize(sweep)
    assert list(s.columns) == [
        "sweep",
        "server",
        "python",
        "database",
        "project",
        "models",
        "mode",
        "workers",
        "threads",
        "recycling",
        *analysis.STAT_COLUMNS,
    ]
    assert list(dict.fromkeys(s["mode"])) == ["lazy", "prefork", "prewarm"]
    prewarm = s[(s["mode"] == "prewarm") & (s["models"] == 800) & (s["workers"] == 4)]
    memory = prewarm[prewarm["metric"] == "memory_mb"].iloc[0]
    assert memory["n"] == 3  # the timeout row (99999 MB) is not counted
    assert memory["ci_low"] <= memory["median"] <= memory["ci_high"] < 1000
    assert abs(memory["median"] - (50 + 6 * 8 + 12 * 4)) < 0.01 * 146
    assert memory["unit"] == "MB"
    # metrics without any value (uss_mb, ...) have no rows
    assert set(s["metric"]) == {"startup_s", "first_query_ms", "memory_mb", "memory_ready_mb"}


def test_summarize_ci_contains_true_median(tmp_path):
    rng = np.random.default_rng(7)
    rows = [
        {"mode": "prefork", "models": 10, "workers": 2, "status": "ok", "startup_s": v}
        for v in rng.uniform(90, 110, size=101)
    ] + [{"mode": "prefork", "models": 10, "workers": 2, "status": "failed", "startup_s": 1e9}]
    s = summarize(frame(rows, tmp_path), ["startup_s"])
    assert len(s) == 1
    row = s.iloc[0]
    assert row["n"] == 101 and row["ci_low"] < 100 < row["ci_high"] and row["ci_high"] - row["ci_low"] < 10


# ------------------------------------------------------------------------------------------- seed table


def test_seed_table_defaults_to_largest_point_and_known_medians():
    table = seed_table(load_results(SEED))
    assert table["mode"].tolist() == ["lazy", "prefork", "prewarm"]
    assert set(table["models"]) == {300} and set(table["workers"]) == {4}
    assert table["n"].tolist() == [3, 3, 3]  # lazy: failed run and workers=2 run left out
    prewarm = table.set_index("mode").loc["prewarm"]
    assert (prewarm["startup_s"], prewarm["memory_mb"], prewarm["first_query_ms"]) == (0.46, 74.0, 11.0)
    assert prewarm["startup_s_ci_low"] <= 0.46 <= prewarm["startup_s_ci_high"]


def test_seed_table_explicit_point():
    df = load_results(SEED)
    only_lazy = seed_table(df, models=300, workers=2)
    assert only_lazy["mode"].tolist() == ["lazy"] and only_lazy["memory_mb"].tolist() == [100.0]
    assert seed_table(df, models=100)["mode"].tolist() == ["prewarm"]
    assert seed_table(df, models=999, workers=4).empty


# ------------------------------------------------------------------------------------------------- fits


def test_linear_fit_exact_line():
    fit = linear_fit([1, 2, 3, 4], [5, 8, 11, 14])
    assert fit.slope == pytest.approx(3) and fit.intercept == pytest.approx(2)
    assert fit.r2 == pytest.approx(1) and fit.n == 4 and fit.slope_se == pytest.approx(0, abs=1e-9)
    assert fit(10) == pytest.approx(32)
    assert linear_fit([1, 2], [3, 3]).r2 == 1.0
    with pytest.raises(ValueError):
        linear_fit([2, 2, 2], [1, 2, 3])


@settings(max_examples=50, deadline=None)
@given(
    st.floats(-1e3, 1e3),
    st.floats(-1e3, 1e3),
    st.lists(st.integers(0, 64), min_size=2, max_size=20, unique=True),
)
def test_linear_fit_recovers_any_line(slope, intercept, xs):
    fit = linear_fit(xs, [slope * x + intercept for x in xs])
    assert fit.slope == pytest.approx(slope, abs=1e-6) and fit.intercept == pytest.approx(intercept, abs=1e-6)


def test_per_worker_memory_known_slope_from_brief(tmp_path):
    """memory_mb = 100 + 25 * workers + noise -> 25 MB per extra worker."""
    rng = np.random.default_rng(3)
    rows = [
        {"mode": m, "models": 300, "workers": w, "status": "ok", "memory_mb": 100 + 25 * w + rng.normal(0, 2)}
        for m in ("prewarm",)
        for w in (1, 2, 3, 4, 6, 8)
        for _ in range(3)
    ]
    fits = per_worker_memory(frame(rows, tmp_path))
    assert len(fits) == 1
    fit = fits.iloc[0]
    assert fit["slope"] == pytest.approx(25, abs=1.0)
    assert fit["intercept"] == pytest.approx(100, abs=5)
    assert fit["r2"] > 0.99 and fit["n"] == 18
    assert (fit["workers_min"], fit["workers_max"]) == (1, 8)


def test_per_worker_memory_per_mode(sweep):
    fits = per_worker_memory(sweep).set_index("mode")
    assert fits.index.tolist() == ["lazy", "prefork", "prewarm"]
    assert set(fits["models"]) == {400}  # only models=400 varies workers
    for mode, slope in {"lazy": 60, "prefork": 25, "prewarm": 12}.items():
        assert fits.loc[mode, "slope"] == pytest.approx(slope, rel=0.03), mode
        assert fits.loc[mode, "r2"] > 0.99


def test_scaling_per_100_models(sweep):
    s = scaling(sweep)
    # the fixture predates the steady-state reading: a metric without values gets no fit
    assert set(s["workers"]) == {4} and set(s["metric"]) == set(analysis.SEED_METRICS) - {"memory_steady_mb"}
    got = s.set_index(["mode", "metric"])["slope"]
    assert got["prefork", "startup_s"] == pytest.approx(1.2, rel=0.03)
    assert got["lazy", "first_query_ms"] == pytest.approx(25, rel=0.03)
    assert got["prewarm", "memory_mb"] == pytest.approx(6, rel=0.05)
    assert (s["r2"] > 0.98).all()
    per_model = scaling(sweep, ["startup_s"], per=1).set_index("mode")["slope"]
    assert per_model["prefork"] == pytest.approx(0.012, rel=0.03)


def test_no_fit_without_two_x_values():
    df = load_results(FIXTURES / "old_columns.csv")
    assert per_worker_memory(df).empty and scaling(df).empty


def test_analyze_bundle_and_plot_slices(sweep):
    a = analysis.analyze(sweep, n_resamples=200)
    assert (a.seed_models, a.seed_workers) == (800, 4)
    assert (a.models_plot_workers, a.workers_plot_models) == (4, 400)
    assert a.modes == ["lazy", "prefork", "prewarm"]
    assert analysis.ordered_modes(["zeta", "prewarm", "lazy", "prewarm-freeze"]) == [
        "lazy",
        "prewarm",
        "prewarm-freeze",
        "zeta",
    ]
