"""Real uWSGI and gunicorn servers on small projects: every mode, an existing project, a broken one, resume,
timeouts, steady state, and what must not reach the server from outside (a project's own server config).
granian, lazy only, has its own module (test_runner_granian.py) and joins here where a test runs lazy modes."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from runner_support import BROKEN, TINY, tiny_project, write_sweep

from experiments import cli
from experiments.databases.cluster import PREFIX as CLUSTER_PREFIX
from experiments.errors import error_cause
from experiments.measure.executor import ServerExecutor
from experiments.modes import MODE_NAMES, get_mode
from experiments.projects import default_cache_dir
from experiments.runner import run_sweep
from experiments.servers import SERVER_NAMES, supports_preload
from experiments.sweep import load_sweep

pytestmark = pytest.mark.slow

PRELOADING = tuple(name for name in SERVER_NAMES if supports_preload(name))
# What servers say while all goes well: a failed run's error never carries it.
BANNERS = (
    "Starting uWSGI",
    "spawned uWSGI",
    "Python version",
    "Operational MODE",
    "Booting worker with pid",
    "Listening at",
    "Spawning worker",
)


def assert_no_banner(error: str) -> None:
    assert not [banner for banner in BANNERS if banner in error], error


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.timing
@pytest.mark.parametrize("backend", PRELOADING)
def test_every_mode_on_a_generated_project(tmp_path, run_dirs, backend):
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            {
                "name": "modes",
                "warmup_runs": 0,
                "project": {"models": 10, "rows_per_model": 3},
                "server": {"backend": backend, "modes": list(MODE_NAMES), "workers": 2},
                "traffic": {"requests_per_worker": 5},
            },
        )
    )
    details = {}
    outcome = run_sweep(
        sweep,
        ServerExecutor(),
        cache_dir=default_cache_dir(),
        on_run=lambda run, m: details.setdefault(run.mode, (m, run)),
    )
    table = {r["mode"]: r for r in rows(sweep.output)}
    assert outcome.failed == 0, [r["error"] for r in table.values()]
    assert set(table) == set(MODE_NAMES)
    for mode, row in table.items():
        measurement, run = details[mode]
        assert row["status"] == "ok" and row["error"] == ""
        assert row["server"] == backend and row["server_version"][0].isdigit() and row["threads"] == "1"
        assert row["models"] == "10" and int(row["url_patterns"]) > 10 and int(row["apps"]) >= 1
        for column in (
            "startup_s",
            "startup_cpu_s",
            "first_query_ms",
            "first_request_ms_mean",
            "steady_ms_median",
            "memory_mb",
            "memory_steady_mb",
            "worker_uss_steady_mb_mean",
            "collect_ms_mean",
        ):
            assert float(row[column]) > 0, (mode, column)
        assert float(row["fork_span_ms"]) >= 0 and float(row["worker_gen2_collections_mean"]) >= 0
        assert float(row["first_request_ms_max"]) >= float(row["first_request_ms_mean"])
        assert float(row["rss_mb"]) >= float(row["memory_mb"]) >= float(row["uss_mb"])
        # every worker served its own first request, marked by the wrapper, and collected once
        assert measurement.details["first_workers"] == measurement.details["workers"]
        assert len(measurement.details["workers"]) == 2
        assert sorted(measurement.details["collections_since_ready"]) == measurement.details["workers"]
        assert measurement.details["ready_latency_ms"] < 50
        # what the wrapper did, per mode
        expected = get_mode(mode)
        assert measurement.details["loaded_in"] == ("master" if expected.preload else "worker"), mode
        warmed = expected.warm_before_fork or expected.warm_after_fork
        assert (measurement.details["warmed"] >= 1) == warmed, mode
        assert (measurement.details["frozen"] > 1000) == expected.freeze, mode
        # where the time went: the named loading steps explain most of loading (the models import the
        # generated library), and a worker's private memory splits by mapping into exactly its USS
        named = sum(
            float(row[f"phase_{p}_s"]) for p in ("settings", "apps_import", "models", "ready", "middleware")
        )
        loads = measurement.details["startup_phases"]
        assert len(loads) == (1 if expected.preload else 2), mode
        assert 0.5 * measurement.details["load_s"] < named <= measurement.details["load_s"] * 1.01, mode
        assert (float(row["phase_warmup_s"] or 0) > 0) == warmed, mode
        assert sorted(measurement.details["first_request_phases"]) == measurement.details["workers"]
        split = sum(
            float(row[f"worker_private_{kind}_mb_mean"]) for kind in ("heap", "anon", "file", "other")
        )
        assert split == pytest.approx(float(row["worker_uss_mb_mean"]), rel=0.02), mode
    # a lazy master never imports Django: far smaller than a preforking one
    assert float(table["lazy"]["master_pss_mb"]) < float(table["prefork"]["master_pss_mb"])
    # a cold worker's first request imports the URLconf; a warmed one finds it imported
    assert float(table["lazy"]["phase_urlconf_ms"]) > 10 * float(table["prewarm"]["phase_urlconf_ms"] or 0.01)
    # warming each worker after fork makes its first query fast, as warming the master does
    for mode in ("lazy-warm", "prefork-warm", "prewarm"):
        assert float(table[mode]["first_query_ms"]) < float(table["lazy"]["first_query_ms"]) / 2, mode
    # steady state: without freeze, the full collection writes to every inherited object and makes its pages
    # private; frozen objects are left alone
    prewarm = float(table["prewarm"]["worker_uss_steady_mb_mean"])
    for mode in ("prewarm-freeze", "prewarm-freeze-nocollect"):
        frozen = float(table[mode]["worker_uss_steady_mb_mean"])
        assert prewarm > 1.5 * frozen, (mode, prewarm, frozen)


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
    # notes' 2 models in 1 app (auth's 3 and contenttypes' 1 are django.contrib's, as --models counts); 2 URL patterns
    assert {(r["models"], r["apps"], r["url_patterns"]) for r in table} == {("2", "1", "2")}
    assert {r["project"] for r in table} == {"tinyproject"}
    assert "models=2 workers=1" in out
    assert "first_query ms" in out and "\nprewarm " in out and "  memory steady MB: " in out
    assert (tmp_path / "results" / "tiny.csv.env.json").is_file()

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


@pytest.mark.parametrize("backend", SERVER_NAMES)
def test_a_broken_project_gives_failed_rows_and_the_sweep_goes_on(tmp_path, run_dirs, backend):
    modes = ["prefork", "lazy"] if supports_preload(backend) else ["lazy"]
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            {
                "warmup_runs": 0,
                "project": {"path": [str(TINY), str(BROKEN)], "wsgi": "tinysite.wsgi:application"},
                "server": {"backend": backend, "modes": modes, "workers": 2, "timeout": 60},
                "traffic": {"requests_per_worker": 2},
            },
        )
    )
    outcome = run_sweep(sweep, ServerExecutor())
    table = rows(sweep.output)
    assert len(table) == 2 * len(modes) and outcome.failed == len(modes)
    for row in table:
        if row["project"] == "brokenproject":
            assert row["status"] == "failed"
            assert error_cause(row["error"]) == (
                "the app failed to load: RuntimeError: brokenproject fails on purpose"
            )
            assert_no_banner(row["error"])
            assert float(row["duration_s"]) < 30  # noticed at once, not at the timeout
        else:
            assert row["status"] == "ok", row["error"]


@pytest.mark.parametrize("backend", SERVER_NAMES)
def test_a_server_too_slow_to_start_times_out_without_its_banner(tmp_path, run_dirs, backend):
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            {
                "warmup_runs": 0,
                "project": tiny_project(env={"TINY_SLEEP": 30}),
                "server": {"backend": backend, "modes": ["lazy"], "workers": 2, "timeout": 1.5},
            },
        )
    )
    outcome = run_sweep(sweep, ServerExecutor())
    (row,) = rows(sweep.output)
    assert outcome.failed == 1 and row["status"] == "timeout"
    assert error_cause(row["error"]) == "timeout: 0 of 2 workers ready after 1.5 s"
    assert_no_banner(row["error"])
    assert float(row["duration_s"]) < 5


@pytest.mark.parametrize("backend", PRELOADING)
def test_error_pages_are_not_measurements(tmp_path, run_dirs, backend):
    """A URL that answers 404, in the warm-up or in the traffic, fails the run unless the sweep allows it; the
    error names the status and the URL first, and no banner of the server's."""
    project = tiny_project(urls=["/", "/no-such-page/"])
    runs = {}
    for name, traffic in (
        ("refused", {"requests_per_worker": 2}),
        ("allowed", {"requests_per_worker": 2, "allowed_statuses": {"/no-such-page/": [404]}}),
    ):
        sweep = load_sweep(
            write_sweep(
                tmp_path,
                {
                    "name": name,
                    "warmup_runs": 0,
                    "project": project,
                    "server": {"backend": backend, "modes": ["prewarm", "prefork"], "workers": 1},
                    "traffic": traffic,
                },
                name=f"{name}.yaml",
            )
        )
        run_sweep(sweep, ServerExecutor())
        runs[name] = {r["mode"]: r for r in rows(sweep.output)}
    refused = runs["refused"]
    assert refused["prewarm"]["status"] == "failed"
    assert error_cause(refused["prewarm"]["error"]) == (
        "warm-up GET /no-such-page/: HTTP 404 (an error page is not a measurement)"
    )
    assert refused["prefork"]["status"] == "failed"
    assert error_cause(refused["prefork"]["error"]).startswith("warm traffic: GET /no-such-page/: HTTP 404 (")
    for row in refused.values():
        assert_no_banner(row["error"])
    assert {r["status"] for r in runs["allowed"].values()} == {"ok"}


def test_what_would_configure_the_server_behind_our_back_stays_out(tmp_path, run_dirs, monkeypatch):
    """A project's own gunicorn.conf.py, GUNICORN_CMD_ARGS and UWSGI_* variables change nothing we measure."""
    project = tmp_path / "project"
    shutil.copytree(TINY, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "gunicorn.conf.py").write_text("raise SystemExit('the project config was read')\n")
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--workers 5")
    monkeypatch.setenv("UWSGI_PROCESSES", "5")
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            {
                "warmup_runs": 0,
                "project": {"path": str(project), "wsgi": "tinysite.wsgi:application", "urls": ["/"]},
                "server": {"backend": list(PRELOADING), "modes": ["prefork"], "workers": 2},
                "traffic": {"requests_per_worker": 2, "steady_state": False},
            },
        )
    )
    details = {}
    outcome = run_sweep(
        sweep, ServerExecutor(), on_run=lambda run, m: details.setdefault(run.server.backend, m)
    )
    assert outcome.failed == 0, [r["error"] for r in rows(sweep.output)]
    for measurement in details.values():
        assert len(measurement.details["workers"]) == 2
        assert measurement.memory_steady_mb is None and measurement.collect_ms_mean is None  # turned off


@pytest.mark.parametrize("backend", PRELOADING)
def test_a_connection_opened_while_loading_is_closed_before_fork_or_fails_when_strict(
    tmp_path, run_dirs, backend
):
    """Opened while the app is imported in the master, every worker would share it: the wrapper closes it
    before fork, as a careful deployment does, and says so in the row; ``strict_fork`` leaves it open and the
    run fails. Lazy workers load for themselves: nothing to close."""
    project = tiny_project(env={"TINY_CONNECT": 1, "TINY_DB": str(tmp_path / "tiny.sqlite3")})
    tables = {}
    for strict in (False, True):
        sweep = load_sweep(
            write_sweep(
                tmp_path,
                {
                    "name": f"strict-{strict}",
                    "warmup_runs": 0,
                    "project": project,
                    "server": {
                        "backend": backend,
                        "modes": ["prefork", "prewarm", "lazy"],
                        "workers": 2,
                        "strict_fork": strict,
                    },
                    "traffic": {"requests_per_worker": 2, "steady_state": False},
                },
                name=f"strict-{strict}.yaml",
            )
        )
        run_sweep(sweep, ServerExecutor())
        tables[strict] = {r["mode"]: r for r in rows(sweep.output)}
    closing = tables[False]
    for mode in ("prefork", "prewarm", "lazy"):
        assert closing[mode]["status"] == "ok", closing[mode]["error"]
    assert closing["prefork"]["db_closed_before_fork"] == closing["prewarm"]["db_closed_before_fork"] == "1"
    assert closing["lazy"]["db_closed_before_fork"] == ""
    from experiments.summary import fork_warnings

    (warning,) = fork_warnings(list(closing.values()))
    assert "opens 1 database connection(s) while it loads" in warning and "close_all()" in warning
    strict = tables[True]
    assert strict["prefork"]["status"] == "failed"
    assert "inherited across fork: default (sqlite connection)" in strict["prefork"]["error"]
    assert strict["prewarm"]["status"] == "ok", strict["prewarm"][
        "error"
    ]  # the warm-up recipe closes it anyway


def _venv_sharing_our_packages(path: Path) -> Path:
    """A project's own virtualenv, made cheaply: our site-packages through a .pth file, our servers linked in."""
    import site
    import subprocess
    import sys
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    purelib = Path(
        subprocess.run(
            [str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (purelib / "ours.pth").write_text("\n".join([sysconfig.get_paths()["purelib"], *site.getsitepackages()]))
    (path / "bin" / "uwsgi").symlink_to(Path(sys.executable).parent / "uwsgi")
    gunicorn = path / "bin" / "gunicorn"
    gunicorn.write_text(f"#!{path / 'bin' / 'python'}\nfrom gunicorn.app.wsgiapp import run\nrun()\n")
    gunicorn.chmod(0o755)
    return path / "bin" / "python"


def test_a_project_in_its_own_virtualenv_runs_on_that_environment_s_servers(tmp_path, run_dirs, capsys):
    python = _venv_sharing_our_packages(tmp_path / "venv")
    project = tiny_project(python=str(python))
    sweep_path = write_sweep(
        tmp_path,
        {
            "warmup_runs": 0,
            "project": project,
            "server": {"backend": list(PRELOADING), "modes": ["prefork"], "workers": 1},
            "traffic": {"requests_per_worker": 2, "steady_state": False},
        },
    )
    details = {}
    outcome = run_sweep(
        load_sweep(sweep_path), ServerExecutor(), on_run=lambda r, m: details.setdefault(r.server.backend, m)
    )
    assert outcome.failed == 0, [m.error for m in details.values()]
    for backend, measurement in details.items():
        assert measurement.details["command"][0] == str(tmp_path / "venv" / "bin" / backend)
    (tmp_path / "venv" / "bin" / "gunicorn").unlink()
    assert cli.main([str(sweep_path), "--fresh"]) == 2
    assert f"gunicorn not found next to {python}" in capsys.readouterr().err


@pytest.mark.parametrize("backend", PRELOADING)
def test_one_interleaved_sweep_on_sqlite_and_postgresql(tmp_path, run_dirs, monkeypatch, backend):
    """Each PostgreSQL run gets its own copy of the project's template in the sweep's throwaway cluster (a
    pool included: prewarm closes it before fork); the runner's own DATABASE_URL and friends reach no project;
    the connections each run left open are counted."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@/nowhere?host=/nonexistent")
    monkeypatch.setenv("DATABASE_POOL", "true")
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            {
                "name": "databases",
                "warmup_runs": 0,
                "project": [
                    {
                        "models": 10,
                        "rows_per_model": 3,
                        "library_loc": 0,
                        "view_library_loc": 0,
                        "database": ["sqlite", "postgresql"],
                    },
                    {
                        "models": 10,
                        "rows_per_model": 3,
                        "library_loc": 0,
                        "view_library_loc": 0,
                        "database": "postgresql",
                        "pool": 2,
                    },
                ],
                "server": {"backend": backend, "modes": ["prefork", "prewarm"], "workers": 2},
                "traffic": {"requests_per_worker": 3},
            },
        )
    )
    clusters_before = set(Path("/tmp").glob(f"{CLUSTER_PREFIX}{os.getpid()}-*"))
    seen = {}

    class Spy(ServerExecutor):
        def run(self, run, project, after_traffic=None):
            seen[(run.project.label, run.mode)] = project.env.get("DATABASE_URL")
            return super().run(run, project, after_traffic)

    outcome = run_sweep(sweep, Spy(), cache_dir=default_cache_dir())
    table = rows(sweep.output)
    assert outcome.failed == 0, [r["error"] for r in table]
    sqlite, postgresql, pooled = sweep.projects
    assert postgresql.label == sqlite.label + "-pg" and pooled.label == sqlite.label + "-pg-pool2"
    assert {(r["project"], r["database"]) for r in table} == {
        (sqlite.label, "sqlite"),
        (postgresql.label, "postgresql"),
        (pooled.label, "postgresql"),
    }
    for (label, _mode), url in seen.items():
        assert (url == "") if label == sqlite.label else url.startswith("postgresql://postgres@/lab_")
    assert len({url for url in seen.values() if url}) == 4  # a database of its own per run
    for row in table:  # CONN_MAX_AGE 0 closes each request's connection; a pool keeps its own open
        expected = {sqlite.label: "", postgresql.label: "0"}.get(row["project"])
        if expected is None:
            assert int(row["db_connections"]) >= 1, row
        else:
            assert row["db_connections"] == expected, row
    assert set(Path("/tmp").glob(f"{CLUSTER_PREFIX}{os.getpid()}-*")) == clusters_before  # cluster gone
