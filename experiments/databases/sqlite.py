"""SQLite: no server. Each generated project carries its own database file, built with the project."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from experiments.databases.base import DatabaseServer, RunDatabase
from generator.api import URL_ENV


class SqliteServer(DatabaseServer):
    kind = "sqlite"

    def build_template(self, name: str, build: Callable[[dict[str, str]], None]) -> str:
        # A generated project's file is built with its source tree (db.sqlite3, the settings' default).
        return name

    @contextlib.contextmanager
    def database_for_run(self, template: str) -> Iterator[RunDatabase]:
        # Runs read the project's own file (their traffic is GET only): nothing to copy. An empty URL means
        # that file, whatever DATABASE_URL the runner's own environment holds.
        yield RunDatabase(env={URL_ENV: ""})
