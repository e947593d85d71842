"""The calibration table: medians per role, ratios, the ±30 % verdict, and its Markdown."""

import pandas as pd
import pytest

from experiments.analysis.calibration import TOLERANCE, comparison_rows, run_medians, table_lines


def _runs(startup: float, first: float, memory: float, *, mode: str = "lazy", n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mode": [mode] * n + ["prefork"],
            "status": ["ok"] * n + ["ok"],
            "workers": [4] * (n + 1),
            "startup_s": [startup * (1 + 0.1 * i) for i in range(n)] + [99.0],
            "first_query_ms": [first] * n + [5.0],
            "memory_mb": [memory] * n + [1.0],
        }
    )


def _profile(seconds: float, mb: float) -> dict:
    return {
        "baseline_rss_mb": 10.0,
        "setup": {"seconds": seconds, "rss_mb": 10.0 + mb, "modules": 900},
        "first_request": {"seconds": seconds / 2},
    }


def test_run_medians_take_the_mode_and_divide_memory_by_workers():
    medians = run_medians(_runs(2.0, 300.0, 400.0))
    assert medians[("startup_s", "lazy")] == pytest.approx(2.2)
    assert medians[("memory_per_worker_mb", "lazy")] == 100.0
    assert medians[("first_query_ms", "prefork")] == 5.0


def test_failed_runs_are_left_out():
    runs = _runs(2.0, 300.0, 400.0)
    runs.loc[0, "status"] = "failed"
    runs.loc[0, "startup_s"] = 1000.0
    assert run_medians(runs)[("startup_s", "lazy")] == pytest.approx(2.3)


def test_verdict_follows_the_tolerance_on_deciding_rows_only():
    real = run_medians(_runs(2.0, 300.0, 400.0))
    close = run_medians(_runs(2.0 * (1 + TOLERANCE - 0.01), 300.0, 400.0))
    far = run_medians(_runs(2.0 * (1 + TOLERANCE + 0.05), 300.0, 400.0))
    good = comparison_rows("good", [real], [close], [_profile(1, 50)], [_profile(5, 500)])
    bad = comparison_rows("bad", [real], [far], [], [])
    assert all(row["within_30pct"] for row in good if row["decides"])
    assert [row["metric"] for row in bad if row["decides"] and not row["within_30pct"]] == [
        "startup_s (lazy)"
    ]
    assert all(row["within_30pct"] is None for row in good if not row["decides"])  # inspection rows inform
    lines = table_lines(pd.DataFrame(good + bad))
    assert "### good: PASS" in lines and "### bad: FAIL" in lines
    assert any("**no**" in line and "startup_s (lazy)" in line for line in lines)


def test_several_real_projects_reduce_to_their_median():
    small, large = run_medians(_runs(1.0, 100.0, 200.0)), run_medians(_runs(3.0, 900.0, 1000.0))
    rows = comparison_rows("median", [small, large], [small, large], [], [])
    first = next(row for row in rows if row["metric"] == "first_query_ms (lazy)")
    assert first["real"] == first["synthetic"] == 500.0 and first["ratio"] == 1.0


def test_the_committed_table_regenerates_from_the_committed_results(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    results = Path(__file__).resolve().parent.parent / "results" / "calibration"
    done = subprocess.run(
        [
            sys.executable,
            str(results.parent.parent / "calibration" / "table.py"),
            "--no-inspect",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for name in ("table.md", "table.csv"):
        assert (tmp_path / name).read_text() == (results / name).read_text(), name
    assert "### --like twin of oscarshop: PASS" in (results / "table.md").read_text()
