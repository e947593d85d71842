"""Generated projects are real Django projects: they pass `check`, build their DB and serve every URL,
on SQLite and on PostgreSQL (a throwaway cluster the session starts)."""

import itertools
import subprocess
import sys

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.api import build_database, generate_project, resolve_options

_names = itertools.count(1)


@st.composite
def small_projects(draw, profile):
    models = draw(st.integers(1, 24))
    apps = draw(st.integers(1, min(models, 4)))
    seed = draw(st.integers(0, 10**6))
    rows = draw(st.integers(1, 6))
    # The library's weight is exercised by the mid-size test below; here only its shape varies, kept small.
    library = {
        "library_loc": draw(st.integers(0, 2_000)),
        "view_library_loc": draw(st.integers(0, 2_000)),
        "library_work": draw(st.sampled_from([0.0, 0.5, 1.0, 1.5])),
        "view_touch_share": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "worker_init_work": draw(st.sampled_from([0, 300])),
        "request_objects": draw(st.sampled_from([0, 1_000])),
        "view_first_work": draw(st.sampled_from([0, 50])),
        "first_request_work": draw(st.sampled_from([0, 50])),
        "urlconf_at_load": draw(st.booleans()),
    }
    return resolve_options(models, apps=apps, profile=profile, seed=seed, rows_per_model=rows, **library)


def _assert_healthy(report: dict, expected_urls: int) -> None:
    assert report["problems"] == []
    assert report["failures"] == {}
    assert report["checked"] == expected_urls


def _sequences_behind(url: str) -> list[str]:
    """Tables whose id sequence would hand out an id that a seeded row already has."""
    behind = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'id' AND is_identity = 'YES'"
        ).fetchall()
        for (table,) in tables:
            (highest,) = conn.execute(f'SELECT coalesce(max(id), 0) FROM "{table}"').fetchone()
            sequence = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (f'"{table}"',)).fetchone()[0]
            last, called = conn.execute(f"SELECT last_value, is_called FROM {sequence}").fetchone()
            if (last if called else last - 1) < highest:
                behind.append(table)
    return behind


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("profile", ["minimal", "realistic"])
def test_property_generated_projects_check_build_and_serve(
    profile, database, tmp_path_factory, probe, request
):
    server = request.getfixturevalue("postgres") if database == "postgresql" else None

    @settings(max_examples=4 if server is None else 2, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(options=small_projects(profile))
    def check(options):
        out = tmp_path_factory.mktemp(profile) / "p"
        url = server.url_of(f"property_{next(_names)}") if server else None
        manifest = generate_project(options, out, database_url=url)
        assert manifest["counts"]["models"] == options.models
        assert (manifest["database"], manifest["database_url"]) == (
            (None, url) if url else ("db.sqlite3", None)
        )
        _assert_healthy(probe(out, {"DATABASE_URL": url} if url else None), len(manifest["urls"]))
        assert not url or _sequences_behind(url) == []

    check()


@pytest.mark.slow
def test_manage_py_check_and_a_mid_size_project(tmp_path, probe):
    options = resolve_options(60, seed=42, rows_per_model=4)
    manifest = generate_project(options, tmp_path / "p")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=tmp_path / "p", capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    report = probe(tmp_path / "p")
    _assert_healthy(report, len(manifest["urls"]))
    assert report["posted"] == 5


@pytest.mark.slow
def test_a_run_on_postgresql_serves_a_copy_of_the_template_database(tmp_path, probe, postgres):
    """The runner's path: one source tree, its database built once as a template, each run on a copy."""
    options = resolve_options(24, seed=42, rows_per_model=4, library_loc=0, view_library_loc=0)
    manifest = generate_project(options, tmp_path / "p", build_db=False)
    template = postgres.build_template("mid", lambda env: build_database(tmp_path / "p", options, env))
    with postgres.database_for_run(template) as run:
        report = probe(tmp_path / "p", run.env)
        _assert_healthy(report, len(manifest["urls"]))
        assert report["posted"] == 5
        assert _sequences_behind(run.env["DATABASE_URL"]) == []
    assert not (tmp_path / "p" / "db.sqlite3").exists()
