"""``run-experiments advise`` end to end, with real servers: a small generated project gets a preloading mode and
files that hold within 10 % when started without the lab; a project that cannot be preloaded gets a lazy mode and
the reason; bad input is one line naming the option, before anything runs; --dry-run runs nothing.

The plans are cut to what each test needs (two modes, 1 and 2 workers, short long traffic) so that each runs in
seconds; the pure parts are tested hard in tests/test_advice_units.py."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from runner_support import FIXTURES, TINY, processes_with

from experiments import cli

IMPORTDB = FIXTURES / "importdbproject"
QUICK = [
    "--cores",
    "1",
    "--modes",
    "lazy,prewarm-freeze",
    "--measure-workers",
    "1,2",
    "--lifecycle-requests",
    "100",
]


@pytest.fixture(scope="module")
def small_project(tmp_path_factory) -> Path:
    from generator.api import generate_project
    from generator.options import resolve_options

    path = tmp_path_factory.mktemp("generated") / "shop"
    generate_project(resolve_options(10, profile="minimal"), path, build_db=True)
    return path


def advise(capsys, *args) -> tuple[int, str, str]:
    try:
        status = cli.main(["advise", *map(str, args)])
    except SystemExit as exc:  # argparse's own errors (an unknown choice)
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def verified(out: str) -> tuple[float, float]:
    """(measured, predicted) total PSS at steady state from the answer's verification line."""
    found = re.search(r"steady ([\d,.]+) MB, predicted ([\d,.]+) MB", out)
    assert found, out
    return tuple(float(value.replace(",", "")) for value in found.groups())


@pytest.mark.timing
def test_a_generated_project_gets_a_preloading_mode_whose_files_hold_within_ten_percent(
    small_project, tmp_path, run_dirs, capsys
):
    output = tmp_path / "advice"
    status, out, err = advise(capsys, small_project, "--memory", "1GiB", *QUICK, "--output", output)
    assert status == 0, out + err
    assert "recommended: prewarm-freeze with 3 workers (2 × 1 core + 1;" in out
    assert "why (memory decided): steady at 3 workers" in out
    measured, predicted = verified(out)
    assert abs(measured / predicted - 1) <= 0.10 and "the advice holds" in out
    assert {"gunicorn.conf.py", "prefork_warmup.py", "report.md", "memory.png", "advise.csv"} <= {
        p.name for p in output.iterdir()
    }
    config = (output / "gunicorn.conf.py").read_text()
    assert "preload_app = True" in config and "workers = 3" in config and "def when_ready" in config
    with open(output / "advise.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["sweep"], r["status"]) for r in rows} == {("advise", "ok"), ("advise-lifecycle", "ok")}
    assert len([r for r in rows if r["sweep"] == "advise"]) == 2 * 2 * 3
    assert "## Every mode" in (output / "report.md").read_text()
    assert processes_with(str(output)) == [], "the verified server outlived advise"


@pytest.mark.timing
def test_a_project_that_cannot_be_preloaded_gets_a_lazy_mode_and_the_reason(
    tmp_path, run_dirs, capsys, monkeypatch
):
    """It keeps using the cursor it opened at import: every preloading run fails (the connection is closed before
    fork, as it must be), and the answer says so; its uwsgi.ini lets each worker load the app."""
    monkeypatch.setenv("IMPORTDB_DB", str(tmp_path / "rates.sqlite3"))
    output = tmp_path / "advice"
    status, out, err = advise(
        capsys, IMPORTDB, "--memory", "512MiB", "--server", "uwsgi", *QUICK, "--output", output
    )
    assert status == 0, out + err
    assert "recommended: lazy with 3 workers" in out
    assert "why (the only mode that ran without failure within the budget)" in out
    assert "not prewarm-freeze: failed 6 of 6 runs: GET /: HTTP 500" in out
    assert "It opens 1 database connection(s) while it loads" in out and "on first use" in out
    assert "lazy-apps = true" in (output / "uwsgi.ini").read_text()
    measured, predicted = verified(out)
    assert abs(measured / predicted - 1) <= 0.10
    assert processes_with(str(output)) == []


@pytest.mark.timing
def test_the_verification_reaches_steady_state_by_a_full_collection_in_every_worker(
    small_project, tmp_path, run_dirs, capsys
):
    """prewarm's workers share what they inherited until their first full collection: without one in each
    worker the verified total would be far below the prediction. Under uWSGI a worker runs Python (and the
    collection) only while it serves, which the verification must arrange."""
    output = tmp_path / "advice"
    args = ["--cores", "1", "--modes", "prewarm", "--measure-workers", "1,2", "--lifecycle-requests", "100"]
    status, out, err = advise(
        capsys, small_project, "--memory", "1GiB", "--server", "uwsgi", *args, "-o", output
    )
    assert status == 0, out + err
    measured, predicted = verified(out)
    after = float(re.search(r"after traffic, before the collection: ([\d,.]+) MB", out).group(1))
    assert abs(measured / predicted - 1) <= 0.10 and after < 0.8 * measured
    assert processes_with(str(output)) == []


def test_on_postgresql_the_connections_are_counted_against_max_connections(
    tmp_path, run_dirs, capsys, postgres
):
    """The project reads DATABASE_URL; advise gives it --database-url (to the measured runs too: measured on
    its SQLite fallback instead, the files' verification on PostgreSQL came out 11 % above the prediction), and
    asks the server its limit."""
    from generator import cli as gen

    url = postgres.url_of("advise_shop")
    project = tmp_path / "shop"
    options = ["--models", "3", "--profile", "minimal", "--rows-per-model", "2", "--output", project]
    assert gen.main([*map(str, options), "--database", "postgresql", "--database-url", url]) == 0
    limit = int(postgres.setting("max_connections"))
    output = tmp_path / "advice"
    args = [
        "--cores",
        "1",
        "--modes",
        "prewarm-freeze",
        "--measure-workers",
        "1,2",
        "--lifecycle-requests",
        "100",
    ]
    status, out, err = advise(capsys, project, "--memory", "1GiB", "--database-url", url, *args, "-o", output)
    assert status == 0, out + err
    share = f"{3 / limit:.0%}"
    assert (
        f"database: postgresql: 3 workers × 1 connection = 3 at most of max_connections {limit} ({share})"
        in out
    )
    sweep = (output / "advise.yaml").read_text()
    assert url not in sweep and "DATABASE_URL" not in sweep  # the URL may hold a password: never written
    assert processes_with(str(output)) == []


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, capsys):
    output = tmp_path / "advice"
    status, out, err = advise(
        capsys, TINY, "--memory", "4GiB", "--cores", "4", "--dry-run", "--output", output
    )
    assert status == 0 and err == ""
    assert "steady plan: 63 runs = 7 modes" in out and "workers 1, 2, 4 × 3 repetitions" in out
    assert "lifecycle window: 7 runs" in out and "4 workers × 2,000 requests" in out
    assert "budget 4GiB, 4 cores" in out and "estimated time:" in out
    assert not output.exists()


@pytest.mark.parametrize(
    "args, option",
    [
        ([TINY], "--memory: required"),
        ([TINY, "--memory", "4"], "--memory: 4 has no unit"),
        ([TINY, "--memory", "4GiB", "--cores", "0"], "--cores: must be from 1"),
        ([TINY, "--memory", "4GiB", "--url", "notes"], "--url: expected a path"),
        ([TINY, "--memory", "4GiB", "--modes", "lazy,bogus"], "--modes: unknown mode 'bogus'"),
        ([TINY, "--memory", "4GiB", "--repetitions", "2"], "--repetitions: must be from 3"),
        ([TINY, "--memory", "4GiB", "--measure-workers", "2"], "--measure-workers: at least two"),
        (
            [TINY, "--memory", "4GiB", "--lifecycle-requests", "50"],
            "--lifecycle-requests: 0 (none) or from 100",
        ),
        (
            [TINY, "--memory", "4GiB", "--database-url", "mysql://db/x"],
            "--database-url: expected postgresql://",
        ),
        ([TINY, "--memory", "4GiB", "--python", "/no/python"], "--python: no executable interpreter"),
        ([TINY, "--memory", "4GiB", "--wsgi", "not a module"], "--wsgi: expected module:callable"),
        ([TINY, "--memory", "4GiB", "--server", "waitress"], "argument --server: invalid choice"),
        ([FIXTURES / "brokenproject", "--memory", "4GiB"], "PROJECT: "),
        ([TINY, "--memory", "4GiB", "--url", "/missing/"], "--url: GET /missing/ answered 404"),
    ],
)
def test_bad_input_is_one_line_naming_the_option_before_anything_runs(tmp_path, capsys, args, option):
    output = tmp_path / "advice"
    status, out, err = advise(capsys, *args, "--output", output)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"Error: {option}"), err
    assert not output.exists()


def test_an_output_directory_holding_a_users_file_is_refused(tmp_path, capsys):
    output = tmp_path / "advice"
    output.mkdir()
    (output / "gunicorn.conf.py").write_text("# mine\n")
    status, out, err = advise(capsys, TINY, "--memory", "4GiB", "--output", output)
    assert status == 2 and err.startswith("Error: --output: ") and "was not written by advise" in err
    assert (output / "gunicorn.conf.py").read_text() == "# mine\n"


def test_sigterm_while_the_files_are_verified_stops_everything(small_project, tmp_path, run_dirs):
    """advise started as a user would; SIGTERM once it is verifying: the server it started goes with it, the
    finished runs stay (a second advise resumes them), exit status 128 + 15."""
    import os
    import signal
    import subprocess
    import sys

    output = tmp_path / "advice"
    args = [
        "--modes",
        "prewarm-freeze",
        "--measure-workers",
        "1,2",
        "--lifecycle-requests",
        "100",
        "--cores",
        "1",
    ]
    command = [sys.executable, "-m", "experiments", "advise", str(small_project), "--memory", "1GiB", *args]
    env = {**os.environ, "TMPDIR": str(tmp_path / "runs")}  # its run directories where run_dirs checks them
    advise = subprocess.Popen([*command, "-o", str(output)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in advise.stderr:
            seen.append(line)
            if line.startswith("verifying:"):
                break
        server = wait_for_server(output)
        advise.send_signal(signal.SIGTERM)
        rest = advise.stderr.read()
        assert advise.wait(30) == 128 + signal.SIGTERM, "".join(seen) + rest
    finally:
        if advise.poll() is None:
            advise.kill()
            advise.wait()
    assert "terminated by signal 15" in rest and server
    assert wait_until_gone(output), "the verified server outlived advise"
    with open(output / "advise.csv", newline="") as handle:
        assert sum(row["status"] == "ok" for row in csv.DictReader(handle)) == 2 * 3 + 1


def wait_for_server(output: Path, timeout: float = 30.0) -> list[int]:
    from runner_support import wait_for

    return wait_for(lambda: processes_with(str(output)), timeout)


def wait_until_gone(output: Path, timeout: float = 10.0) -> bool:
    from runner_support import reap_orphans, wait_for

    def gone() -> bool:
        reap_orphans()
        return processes_with(str(output)) == []

    return wait_for(gone, timeout)
