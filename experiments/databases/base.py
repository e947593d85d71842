"""The database server a sweep's projects run on: one interface for SQLite and PostgreSQL.

A sweep opens one server per kind of database it needs (``open_for_sweep``), builds each project's database
once as a *template*, and gives every run a database of its own made from that template, so each run starts
from identical data. A run learns where its database is through environment variables only
(``DATABASE_URL`` …, read by the generated project's settings).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

KINDS = ("sqlite", "postgresql")


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

    def database_for_run(self, template: str) -> contextlib.AbstractContextManager[dict[str, str]]:
        """A context manager yielding the environment variables of one run's own copy of ``template``."""
        raise NotImplementedError

    def count_connections(self, database: str) -> int | None:
        """Client connections open to ``database`` now; None where the notion does not apply (SQLite)."""
        return None
