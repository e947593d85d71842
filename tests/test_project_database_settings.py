"""A generated project's settings read its database from the environment: the parser as rendered."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from generator.options import resolve_options
from generator.render import render_project
from generator.spec import build_spec

SQLITE = "django.db.backends.sqlite3"
POSTGRESQL = "django.db.backends.postgresql"


@pytest.fixture(scope="module")
def database_from_env():
    files = render_project(build_spec(resolve_options(3, profile="minimal")))
    namespace: dict = {}
    exec(compile(files["config/settings/database.py"], "database.py", "exec"), namespace)
    return lambda environ: namespace["database_from_env"](environ, "/p/db.sqlite3")


def test_without_a_url_the_projects_own_sqlite_file(database_from_env):
    assert database_from_env({}) == {"ENGINE": SQLITE, "NAME": "/p/db.sqlite3", "CONN_MAX_AGE": 0}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////abs/x.db", {"ENGINE": SQLITE, "NAME": "/abs/x.db"}),
        ("sqlite:///rel.db", {"ENGINE": SQLITE, "NAME": "rel.db"}),
        ("postgresql://me:p%40ss@db.example:5433/shop?sslmode=require",
         {"ENGINE": POSTGRESQL, "NAME": "shop", "USER": "me", "PASSWORD": "p@ss", "HOST": "db.example",
          "PORT": "5433", "OPTIONS": {"sslmode": "require"}}),
        ("postgres://postgres@/run_1?host=/tmp/Lab%20Dir/socket",
         {"ENGINE": POSTGRESQL, "NAME": "run_1", "USER": "postgres", "PASSWORD": "", "HOST": "/tmp/Lab Dir/socket",
          "PORT": "", "OPTIONS": {}}),
        ("postgresql://%2FVar%2Frun/x", {"HOST": "/Var/run", "USER": "", "NAME": "x"}),
        ("postgresql://u@[::1]:6000/x", {"HOST": "::1", "PORT": "6000"}),
    ],
)  # fmt: skip
def test_urls(database_from_env, url, expected):
    database = database_from_env({"DATABASE_URL": url})
    assert {key: database.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    ("environ", "conn_max_age", "pool"),
    [
        ({"DATABASE_CONN_MAX_AGE": "600"}, 600, None),
        ({"DATABASE_CONN_MAX_AGE": "none"}, None, None),
        ({"DATABASE_POOL": "true"}, 0, True),
        ({"DATABASE_POOL": "2"}, 0, {"min_size": 2, "max_size": 2}),
        ({"DATABASE_POOL": "0"}, 0, None),
    ],
)
def test_connection_options(database_from_env, environ, conn_max_age, pool):
    database = database_from_env({"DATABASE_URL": "postgresql://u@h/x", **environ})
    assert database["CONN_MAX_AGE"] == conn_max_age
    assert database["OPTIONS"].get("pool") == pool


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"DATABASE_URL": "mysql://u@h/x"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite://"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u@h:port/x"}, "DATABASE_URL"),
        ({"DATABASE_CONN_MAX_AGE": "ten"}, "DATABASE_CONN_MAX_AGE"),
        ({"DATABASE_POOL": "lots"}, "DATABASE_POOL"),
        ({"DATABASE_POOL": "true"}, "DATABASE_POOL"),  # SQLite has no pool
    ],
)
def test_bad_values_name_their_variable(database_from_env, environ, variable):
    with pytest.raises(ImproperlyConfigured, match=f"^{variable}: "):
        database_from_env(environ)
