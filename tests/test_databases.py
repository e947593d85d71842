"""Databases of a sweep: the throwaway PostgreSQL cluster's lifetime, a user's server, and their errors."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from runner_support import REPO, wait_for

from experiments.databases import open_for_sweep
from experiments.databases.cluster import BINDIR_ENV, PREFIX, processes_in
from experiments.errors import ExperimentError
from generator.database import redact


def _fill(env: dict) -> None:
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE note (id int PRIMARY KEY, text varchar(20))")
        conn.execute("INSERT INTO note VALUES (1, 'template')")


def _rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM note ORDER BY id").fetchall()


def test_each_run_gets_an_identical_copy_of_the_template_dropped_afterwards(postgres):
    template = postgres.build_template("copies", _fill)
    for _ in range(2):
        with postgres.database_for_run(template) as run:
            assert _rows(run.env["DATABASE_URL"]) == [(1, "template")]
            with psycopg.connect(run.env["DATABASE_URL"], autocommit=True) as conn:
                conn.execute("INSERT INTO note VALUES (2, 'changed by a run')")
                run_db = conn.info.dbname
                assert run.name == run_db and postgres.count_connections(run_db) == 1
            # a backend exits a moment after its client hangs up
            assert wait_for(lambda db=run_db: postgres.count_connections(db) == 0, timeout=5)
        names = [r[0] for r in postgres.admin.execute("SELECT datname FROM pg_database").fetchall()]
        assert run_db not in names and template in names


def test_a_failed_template_build_leaves_no_database(postgres):
    def broken(env):
        _fill(env)
        raise RuntimeError("build failed")

    before = postgres.admin.execute("SELECT count(*) FROM pg_database").fetchone()[0]
    with pytest.raises(RuntimeError):
        postgres.build_template("broken", broken)
    assert postgres.admin.execute("SELECT count(*) FROM pg_database").fetchone()[0] == before


def test_the_cluster_is_private_unprivileged_and_durable_only_after_the_build(postgres):
    cluster = postgres.cluster
    assert postgres.setting("listen_addresses") == ""  # no TCP port at all
    # room for the locks of a 3,000-model build in one transaction
    assert int(postgres.setting("max_locks_per_transaction")) >= 1024
    assert Path(postgres.setting("unix_socket_directories")) == cluster.socket_dir
    assert cluster.socket_dir.is_relative_to(cluster.root)
    pids = processes_in(cluster.root)
    assert cluster.process.pid in pids and len(pids) >= 3  # postmaster and its background processes
    if os.geteuid() == 0:
        postgres_uid = pwd.getpwnam("postgres").pw_uid
        assert {os.stat(f"/proc/{pid}").st_uid for pid in pids} == {postgres_uid}
    # The session's cluster may already be past its build (another test ended it): compare with a fresh one.
    with open_for_sweep("postgresql") as fresh:
        assert [fresh.setting(s) for s in ("fsync", "synchronous_commit", "full_page_writes")] == ["off"] * 3
        fresh.end_build()
        assert [fresh.setting(s) for s in ("fsync", "synchronous_commit", "full_page_writes")] == ["on"] * 3
        root = fresh.cluster.root
    assert not root.exists() and processes_in(root) == []


def test_a_users_server_is_used_as_given_never_stopped_and_cleaned_of_our_databases(postgres):
    with open_for_sweep("postgresql", postgres.url) as given:
        assert given.cluster is None
        template = given.build_template("users", _fill)
        with given.database_for_run(template) as run:
            assert _rows(run.env["DATABASE_URL"]) == [(1, "template")]
        given.end_build()  # changes nothing on a server that is not ours
    names = [r[0] for r in postgres.admin.execute("SELECT datname FROM pg_database").fetchall()]
    assert template not in names
    assert postgres.cluster.process.poll() is None


@pytest.mark.parametrize(
    ("kind", "url", "expected"),
    [
        ("postgresql", "mysql://u@h/db", "expected postgresql://"),
        ("postgresql", "postgresql://u@h:port/db", "database URL 'postgresql://u@h:port/db'"),
        ("postgresql", "postgresql://u:secret@/db?host=/nonexistent/dir", "cannot connect"),
        ("postgresql", "postgresql://u@/db?bogus_option=1", "bogus_option"),
        ("sqlite", "postgresql://u@/db", "only for postgresql"),
        ("oracle", None, "unknown kind 'oracle'"),
    ],
)
def test_bad_url_or_unreachable_server_is_one_clear_line(kind, url, expected):
    with pytest.raises(ExperimentError) as caught, open_for_sweep(kind, url):
        pass
    message = str(caught.value)
    assert expected in message and "\n" not in message and "secret" not in message


def test_missing_server_programs_are_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv(BINDIR_ENV, str(tmp_path))
    before = sorted(Path("/tmp").glob(f"{PREFIX}{os.getpid()}-*"))  # ours: others may run clusters meanwhile
    with pytest.raises(ExperimentError) as caught, open_for_sweep("postgresql"):
        pass
    assert str(caught.value).startswith("PostgreSQL server programs (initdb, postgres) not found in")
    assert str(tmp_path) in str(caught.value) and "\n" not in str(caught.value)
    assert sorted(Path("/tmp").glob(f"{PREFIX}{os.getpid()}-*")) == before


def test_redact_hides_only_the_password():
    assert (
        redact("postgresql://me:pw@db:5432/x?sslmode=require")
        == "postgresql://me:***@db:5432/x?sslmode=require"
    )
    assert redact("postgresql://me@db/x") == "postgresql://me@db/x"


OWNER = textwrap.dedent(
    """
    import sys, time, psycopg
    from experiments.databases import open_for_sweep
    server = open_for_sweep("postgresql").__enter__()
    busy = psycopg.connect(server.url)  # a client backend too, not only the background processes
    print(server.cluster.root, flush=True)
    time.sleep(120)
    """
)


@pytest.mark.slow
def test_no_server_process_outlives_a_sigkilled_owner_and_the_next_cluster_sweeps_its_leftovers():
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    root = Path(owner.stdout.readline().strip())
    try:
        assert root.name.startswith(PREFIX) and len(processes_in(root)) >= 4
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        gone = wait_for(lambda: not processes_in(root), timeout=10)
        assert gone, f"PostgreSQL processes outlived their owner: {processes_in(root)}"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        for pid in processes_in(root):  # do not leak into other tests, even when failing
            os.kill(pid, signal.SIGKILL)
    assert root.exists()  # a SIGKILLed owner cleans nothing: the next cluster does
    with open_for_sweep("postgresql"):
        assert not root.exists()
