"""Real uWSGI servers on small projects: every mode, an existing project, a broken one, resume, timeouts."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import pytest
from runner_support import BROKEN, TINY, processes_with, tiny_project, write_sweep

from experiments import cli
from experiments.databases.cluster import PREFIX as CLUSTER_PREFIX
from experiments.measure.executor import RUN_DIR_PREFIX, UwsgiExecutor, become_subreaper
from experiments.projects import default_cache_dir
from experiments.runner import run_sweep
from experiments.sweep import MODES, load_sweep

pytestmark = pytest.mark.slow


@pytest.fixture
def run_dirs(tmp_path, monkeypatch):
    """Run directories of this test under tmp_path: their path marks the test's uWSGI processes."""
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(runs))
    become_subreaper()  # like the CLI: the workers of each killed master are reaped at once
    yield f"{runs}/{RUN_DIR_PREFIX}"
    assert processes_with(f"{runs}/{RUN_DIR_PREFIX}") == [], "a uWSGI process outlived its run"
    assert os.listdir(runs) == [], "a run directory was left behind"


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_mode_on_a_generated_project(tmp_path, run_dirs):
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            {
                "name": "modes",
                "warmup_runs": 0,
                "project": {"models": 10, "rows_per_model": 3},
                "server": {"modes": list(MODES), "workers": 2},
                "traffic": {"requests_per_worker": 5},
            },
        )
    )
    details = {}
    outcome = run_sweep(
        sweep,
        UwsgiExecutor(),
        cache_dir=default_cache_dir(),
        on_run=lambda run, m: details.setdefault(run.mode, (m, run)),
    )
    table = {r["mode"]: r for r in rows(sweep.output)}
    assert outcome.failed == 0, [r["error"] for r in table.values()]
    assert set(table) == set(MODES)
    for mode, row in table.items():
        measurement, run = details[mode]
        assert row["status"] == "ok" and row["error"] == ""
        assert row["models"] == "10" and int(row["url_patterns"]) > 10 and int(row["apps"]) >= 1
        for column in (
            "startup_s",
            "startup_cpu_s",
            "first_query_ms",
            "first_request_ms_mean",
            "steady_ms_median",
            "memory_mb",
        ):
            assert float(row[column]) > 0, (mode, column)
        assert float(row["first_request_ms_max"]) >= float(row["first_request_ms_mean"])
        assert float(row["rss_mb"]) >= float(row["memory_mb"]) >= float(row["uss_mb"])
        # every worker served its own first request, marked by the wrapper
        assert measurement.details["first_workers"] == measurement.details["workers"]
        assert len(measurement.details["workers"]) == 2
        assert measurement.details["ready_latency_ms"] < 50
    # what the wrapper did before fork, per mode
    assert details["lazy"][0].details["loaded_in"] == "worker"
    assert details["prefork"][0].details["loaded_in"] == "master"
    assert details["prefork"][0].details["warmed"] == 0
    for mode in ("prewarm", "prewarm-freeze"):
        measurement, run = details[mode]
        assert measurement.details["warmed"] >= 1
        assert all(int(s) < 500 for s in measurement.details["warmup_statuses"].split(","))
    assert details["prewarm"][0].details["frozen"] == 0
    assert details["prewarm-freeze"][0].details["frozen"] > 1000
    # a lazy master never imports Django: far smaller than a preforking one
    assert float(table["lazy"]["master_pss_mb"]) < float(table["prefork"]["master_pss_mb"])


def test_existing_project_by_relative_path_through_the_cli(tmp_path, run_dirs, capsys):
    relative = os.path.relpath(TINY, tmp_path)
    path = write_sweep(
        tmp_path,
        {
            "name": "tiny",
            "repetitions": 2,
            "warmup_runs": 0,
            "project": {
                "path": relative,
                "wsgi": "tinysite.wsgi:application",
                "env": {"DJANGO_SETTINGS_MODULE": "tinysite.settings"},
                "urls": ["/", "/notes/3/"],
            },
            "server": {"modes": ["prewarm"], "workers": [1]},
            "traffic": {"requests_per_worker": 5},
            "output": "results/tiny.csv",
        },
    )
    assert cli.main([str(path)]) == 0
    out = capsys.readouterr().out
    table = rows(tmp_path / "results" / "tiny.csv")
    assert len(table) == 2 and {r["status"] for r in table} == {"ok"}
    # 2 notes models + auth's 3 + contenttypes' 1; 3 apps; 2 URL patterns
    assert {(r["models"], r["apps"], r["url_patterns"]) for r in table} == {("6", "3", "2")}
    assert {r["project"] for r in table} == {"tinyproject"}
    assert "[prewarm] models=6 workers=1" in out
    assert "startup       = " in out and "memory        = " in out and "first_query   = " in out
    assert (tmp_path / "results" / "tiny.json").is_file()

    # resume: drop the last row, run again: only that run is redone
    lines = (tmp_path / "results" / "tiny.csv").read_text().splitlines(keepends=True)
    (tmp_path / "results" / "tiny.csv").write_text("".join(lines[:-1]))
    assert cli.main([str(path)]) == 0
    err = capsys.readouterr().err
    assert "1 of 2 runs already done" in err
    again = rows(tmp_path / "results" / "tiny.csv")
    assert len(again) == 2 and {r["run_id"] for r in again} == {r["run_id"] for r in table}
    # nothing left to do: no server started, same file
    assert cli.main([str(path)]) == 0
    assert rows(tmp_path / "results" / "tiny.csv") == again


def test_a_broken_project_gives_failed_rows_and_the_sweep_goes_on(tmp_path, run_dirs):
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            {
                "warmup_runs": 0,
                "project": {"path": [str(TINY), str(BROKEN)], "wsgi": "tinysite.wsgi:application"},
                "server": {"modes": ["prefork", "lazy"], "workers": 2, "timeout": 60},
                "traffic": {"requests_per_worker": 2},
            },
        )
    )
    outcome = run_sweep(sweep, UwsgiExecutor())
    table = rows(sweep.output)
    assert len(table) == 4 and outcome.failed == 2
    for row in table:
        if row["project"] == "brokenproject":
            assert row["status"] == "failed"
            assert "brokenproject fails on purpose" in row["error"]
            assert float(row["duration_s"]) < 30  # noticed at once, not at the timeout
        else:
            assert row["status"] == "ok", row["error"]


def test_a_server_too_slow_to_start_times_out_with_its_log(tmp_path, run_dirs):
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            {
                "warmup_runs": 0,
                "project": tiny_project(env={"TINY_SLEEP": 30}),
                "server": {"modes": ["lazy"], "workers": 2, "timeout": 1.5},
            },
        )
    )
    outcome = run_sweep(sweep, UwsgiExecutor())
    (row,) = rows(sweep.output)
    assert outcome.failed == 1 and row["status"] == "timeout"
    assert "0 of 2 workers ready" in row["error"] and "spawned uWSGI worker" in row["error"]
    assert float(row["duration_s"]) < 5


def test_one_interleaved_sweep_on_sqlite_and_postgresql(tmp_path, run_dirs, monkeypatch):
    """Each PostgreSQL run gets its own copy of the project's template in the sweep's throwaway cluster;
    the runner's own DATABASE_URL and friends reach no project."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@/nowhere?host=/nonexistent")
    monkeypatch.setenv("DATABASE_POOL", "true")
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            {
                "name": "databases",
                "warmup_runs": 0,
                "project": {
                    "models": 10,
                    "rows_per_model": 3,
                    "library_loc": 0,
                    "view_library_loc": 0,
                    "database": ["sqlite", "postgresql"],
                },
                "server": {"modes": ["prefork", "prewarm"], "workers": 2},
                "traffic": {"requests_per_worker": 3},
            },
        )
    )
    clusters_before = set(Path("/tmp").glob(f"{CLUSTER_PREFIX}{os.getpid()}-*"))
    seen = {}

    class Spy(UwsgiExecutor):
        def run(self, run, project):
            seen[(run.project.database.kind, run.mode)] = project.env.get("DATABASE_URL")
            return super().run(run, project)

    outcome = run_sweep(sweep, Spy(), cache_dir=default_cache_dir())
    table = rows(sweep.output)
    assert outcome.failed == 0, [r["error"] for r in table]
    assert sorted((r["database"], r["mode"]) for r in table) == sorted(seen)
    sqlite, postgresql = sweep.projects
    assert postgresql.label == sqlite.label + "-pg"
    assert {(r["project"], r["database"]) for r in table} == {
        (sqlite.label, "sqlite"),
        (postgresql.label, "postgresql"),
    }
    for (kind, _mode), url in seen.items():
        assert (url == "") if kind == "sqlite" else url.startswith("postgresql://postgres@/lab_")
    assert len({url for url in seen.values() if url}) == 2  # a database of its own per run
    assert (
        set(Path("/tmp").glob(f"{CLUSTER_PREFIX}{os.getpid()}-*")) == clusters_before
    )  # the cluster is gone
