"""The database server a sweep's projects run on: one interface for SQLite and PostgreSQL.

A sweep opens one server per kind of database it needs (``open_for_sweep``), builds each project's database
once as a *template*, and gives every run a database of its own made from that template, so each run starts
from identical data. A run learns where its database is through environment variables only
(``DATABASE_URL`` …, read by the generated project's settings).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from generator.api import CONN_MAX_AGE_ENV, POOL_ENV  # what a generated project's settings read
from generator.api import KINDS as KINDS  # the databases it runs on: generator/database.py's list


@dataclass(frozen=True)
class DatabaseSettings:
    """What a project runs on: the kind of database and how Django holds its connections.

    ``conn_max_age``: seconds a connection outlives its request (0: closed after each, None: for ever);
    ``pool``: Django's psycopg pool (PostgreSQL, conn_max_age 0): False, True (psycopg's default size) or N.
    """

    kind: str = "sqlite"
    conn_max_age: int | None = 0
    pool: bool | int = False

    def changed(self) -> dict:
        """The settings that differ from the defaults (a run measured before they existed had those)."""
        return {name: value for name, value in vars(self).items() if value != getattr(DEFAULTS, name)}

    def env(self) -> dict[str, str]:
        """The variables that give a generated project these connection settings (not the URL: per run),
        defaults included, so that none comes from the runner's own environment."""
        return {
            CONN_MAX_AGE_ENV: "none" if self.conn_max_age is None else str(self.conn_max_age),
            POOL_ENV: "true" if self.pool is True else str(int(self.pool)),
        }

    def tag(self) -> str:
        """A short label: "" for the defaults, else e.g. "pg", "pg-age600", "pg-pool4", "age-none"."""
        parts = ["pg"] if self.kind == "postgresql" else []
        if self.conn_max_age != 0:
            parts.append(f"age{'-none' if self.conn_max_age is None else self.conn_max_age}")
        if self.pool is not False:
            parts.append("pool" if self.pool is True else f"pool{self.pool}")
        return "-".join(parts)


DEFAULTS = DatabaseSettings()


@dataclass
class RunDatabase:
    """One run's database: the variables that point the project at it, and its name (None for SQLite)."""

    env: dict[str, str] = field(default_factory=dict)
    name: str | None = None


class DatabaseServer:
    """A context manager: entering starts what must run (if anything), leaving stops it and drops what we made."""

    kind: str

    def __enter__(self) -> DatabaseServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Drop what we created and stop what we started; safe to call twice."""

    def build_template(self, name: str, build: Callable[[dict[str, str]], None]) -> str:
        """Create the template database ``name`` by calling ``build(env)`` with the variables that point a
        project at it (unless the kind builds it with the project); returns the name to give
        ``database_for_run``. A failed build leaves nothing behind."""
        raise NotImplementedError

    def end_build(self) -> None:
        """Every template is built: from now on the server runs as it would in production."""

    def database_for_run(self, template: str) -> contextlib.AbstractContextManager[RunDatabase]:
        """A context manager yielding one run's own copy of ``template`` (dropped on exit)."""
        raise NotImplementedError

    def count_connections(self, database: str) -> int | None:
        """Client connections open to ``database`` now; None where the notion does not apply (SQLite)."""
        return None
