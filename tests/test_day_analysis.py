"""analyze-results on runs that sent long traffic: the day table, its verdicts and figures, and a timeline read
only for the runs that succeeded."""

from __future__ import annotations

from pathlib import Path

from report_support import assert_every_table_described

from experiments.analysis import cli
from experiments.analysis.day import analyze_day
from experiments.analysis.stats import load_results
from experiments.export_csv import ResultsCsv
from experiments.export_timeline import TimelineCsv


def row(run_id: str, mode: str, recycling: str, **figures) -> dict:
    base = {
        "sweep": "day",
        "run_id": run_id,
        "repetition": 1,
        "mode": mode,
        "workers": 2,
        "project": "tiny",
        "models": 2,
        "status": "ok",
        "started_at": f"t-{run_id}",
        "server": "uwsgi",
        "database": "sqlite",
        "threads": 1,
        "recycling": recycling,
        "requests_per_worker": 100,
        "startup_s": 1.0,
        "memory_mb": 50.0,
        "first_query_ms": 5.0,
        "requests_per_s": 100.0,
        "latency_p50_ms": 2.0,
        "latency_p99_ms": 9.0,
        "requests_failed": 0,
    }
    return {**base, **figures}


def readings(peak_worker_mb: float, gen2: list[int]) -> list[dict]:
    found = []
    for step, worker_mb in enumerate((10.0, peak_worker_mb, peak_worker_mb - 1)):
        requests = step * 100
        common = {"requests": requests, "seconds": step * 1.0, "window_p50_ms": 2.0, "window_p99_ms": 9.0}
        found.append(
            {**common, "process": "master", "pid": 1, "worker_requests": 0, "pss_mb": 20.0, "uss_mb": 5.0}
        )
        for pid in (2, 3):
            found.append(
                {
                    **common,
                    "process": "worker",
                    "pid": pid,
                    "worker_requests": requests // 2,
                    "pss_mb": worker_mb,
                    "uss_mb": worker_mb,
                    "gen0": step * 10,
                    "gen1": step,
                    "gen2": gen2[step],
                }
            )
    return found


def write(tmp_path: Path) -> Path:
    output = tmp_path / "day.csv"
    results, timeline = ResultsCsv(output), TimelineCsv(output)
    results.prepare()
    runs = [
        (row("a", "lazy", "off", memory_peak_mb=80.0), readings(30.0, [0, 1, 1])),
        (row("b", "prewarm", "off", memory_peak_mb=60.0), readings(20.0, [0, 0, 1])),
        (
            row(
                "c",
                "prewarm",
                "max_requests 100",
                memory_peak_mb=55.0,
                recycles=4,
                recycle_unavailable_ms_mean=120.0,
                recycle_first_request_ms_mean=6.0,
                recycle_worker_uss_mb_mean=3.0,
            ),
            readings(18.0, [0, 0, 0]),
        ),
        (row("d", "lazy", "off", status="failed", error="boom"), readings(99.0, [0, 0, 0])),
    ]
    for values, lines in runs:
        timeline.append(values["run_id"], values["started_at"], lines)
        results.append(values)
    timeline.append("e", "t-e", readings(77.0, [0, 0, 0]))  # a run cut short: no row
    return output


def test_the_day_keeps_ok_runs_and_names_the_lighter_mode(tmp_path):
    output = write(tmp_path)
    day = analyze_day([output], load_results(output))
    assert set(day.timeline["run_id"]) == {"a", "b", "c"}  # the failed run and the one cut short are left out
    assert day.keys == ["recycling"]
    table = day.table.set_index(["recycling", "mode"])
    assert table.loc[("off", "lazy"), "memory_peak_mb"] == 80.0
    assert table.loc[("max_requests 100", "prewarm"), "recycles"] == 4


def test_analyze_results_adds_the_day_section_and_figures(tmp_path):
    output = write(tmp_path)
    out = tmp_path / "analysis"
    assert cli.main([str(output), "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    section = report[report.index("## A day in a worker's life") :]
    assert (
        "- off: least memory over the traffic in **prewarm** (60 MB at its peak), most in lazy (80 MB)."
        in section
    )
    assert "one recycle: prewarm 120 ms without a worker, then a 6.00 ms first request" in section
    assert "- *peak*: highest total PSS of master and workers read during the traffic (MB)" in section
    assert_every_table_described(report)  # the day's table too: its identity columns, mode and runs
    for figure in ("memory_over_requests", "recycle_cost"):
        assert (out / f"{figure}.png").stat().st_size > 10_000
        assert f"({figure}.png)" in section


def test_recycling_without_readings_still_makes_a_day(tmp_path):
    output = tmp_path / "recycled.csv"
    results = ResultsCsv(output)
    results.prepare()
    results.append(row("a", "lazy", "max_requests 100", recycles=3, recycle_unavailable_ms_mean=900.0))
    results.append(row("b", "prewarm", "max_requests 100", memory_mb=40.0, recycles=3))
    out = tmp_path / "analysis"
    assert cli.main([str(output), "--out", str(out)]) == 0
    section = (out / "report.md").read_text().split("## A day in a worker's life", 1)[1]
    assert "least memory over the traffic in **prewarm** (40 MB" in section


def test_without_long_traffic_the_report_has_no_day(tmp_path):
    """Every run's traffic has a rate and latencies; without readings during it or recycling, no day."""
    output = tmp_path / "plain.csv"
    results = ResultsCsv(output)
    results.prepare()
    results.append(row("a", "lazy", "off"))
    results.append(row("b", "prewarm", "off"))
    out = tmp_path / "analysis"
    assert cli.main([str(output), "--out", str(out)]) == 0
    assert "A day in a worker's life" not in (out / "report.md").read_text()
