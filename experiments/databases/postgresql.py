"""PostgreSQL: a server named by URL (used as given, never stopped), or else the tool's throwaway cluster.

Every database made here has a name of its own (``lab_<token>_…``, the token random per server), so sweeps
sharing a server never collide, and ``close`` drops all of them. On the throwaway cluster templates are built
with durability off; ``end_build`` turns it back on (and flushes) before the measured runs.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import secrets
import time
from collections.abc import Callable, Iterator
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

from experiments.databases.base import DatabaseServer, RunDatabase
from experiments.databases.cluster import BUILD_SETTINGS, SUPERUSER, Cluster
from experiments.errors import ExperimentError
from generator.api import URL_ENV
from generator.database import CONNECT_TIMEOUT_S, one_line, redact

SCHEMES = ("postgresql", "postgres")
RELOAD_TIMEOUT_S = 10
MAX_NAME = 63  # PostgreSQL's identifier limit (NAMEDATALEN - 1)


def check_url(url: str) -> SplitResult:
    """Parse a user's server URL; ExperimentError (one line, naming the URL) when it is not one."""
    from psycopg import conninfo

    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ExperimentError(
            f"database URL {redact(url)!r}: expected postgresql://[user@]host[:port]/[dbname]"
        )
    try:
        conninfo.conninfo_to_dict(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except Exception as exc:  # psycopg.ProgrammingError, ValueError: a malformed URL
        raise ExperimentError(f"database URL {redact(url)!r}: {one_line(exc)}") from None
    return parts


def with_database(parts: SplitResult, name: str) -> str:
    """The URL of database ``name`` on the server of ``parts``."""
    return urlunsplit(parts._replace(path="/" + quote(name)))


class PostgresServer(DatabaseServer):
    kind = "postgresql"

    def __init__(self, url: str | None = None):
        self.given_url = url
        self.cluster: Cluster | None = None
        self.admin = None  # an autocommit psycopg connection to the URL's own database
        self.token = secrets.token_hex(3)
        self.made: list[str] = []  # databases that exist because of us, dropped on close
        self._runs = itertools.count(1)

    # ----------------------------------------------------------------- lifetime

    def __enter__(self) -> PostgresServer:
        try:
            if self.given_url:
                self.parts = check_url(self.given_url)
            else:
                self.cluster = Cluster.start()
                query = f"host={quote(str(self.cluster.socket_dir), safe='/')}"
                self.parts = SplitResult("postgresql", f"{SUPERUSER}@", "/postgres", query, "")
            self.admin = self._connect(urlunsplit(self.parts))
        except BaseException:
            self.close()
            raise
        return self

    def _connect(self, url: str):
        import psycopg

        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            raise ExperimentError(f"database URL {redact(url)!r}: cannot connect: {one_line(exc)}") from None

    def close(self) -> None:
        try:
            if self.admin is not None and self.cluster is None:  # a cluster of ours vanishes whole
                for name in reversed(self.made):
                    self._drop(name)
        finally:
            if self.admin is not None:
                self.admin.close()
                self.admin = None
            if self.cluster is not None:
                self.cluster.stop()
                self.cluster = None

    # ----------------------------------------------------------------- databases

    @property
    def url(self) -> str:
        """The URL of the server's maintenance database (with its password, if the user gave one)."""
        return urlunsplit(self.parts)

    def url_of(self, database: str) -> str:
        return with_database(self.parts, database)

    def env_of(self, database: str) -> dict[str, str]:
        return {URL_ENV: self.url_of(database)}

    def _name(self, what: str) -> str:
        return re.sub(r"[^a-z0-9_]", "_", f"lab_{self.token}_{what}".lower())[:MAX_NAME]

    def _execute(self, query, params=()):
        import psycopg

        try:
            return self.admin.execute(query, params)
        except psycopg.Error as exc:
            raise ExperimentError(f"PostgreSQL at {redact(self.url)}: {one_line(exc)}") from None

    def _create(self, name: str, template: str = "template0") -> None:
        from psycopg import sql

        self.made.append(name)
        # FILE_COPY checkpoints and flushes the copy: no write-back of it lands in the measurement that follows.
        self._execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )

    def _drop(self, name: str) -> None:
        from psycopg import sql

        self._execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self.made.remove(name)

    def build_template(self, name: str, build: Callable[[dict[str, str]], None]) -> str:
        database = self._name(f"tpl_{name}")
        self._create(database)
        try:
            build(self.env_of(database))
        except BaseException:
            self._drop(database)
            raise
        return database

    def end_build(self) -> None:
        if self.cluster is None:  # a user's server keeps its own settings
            return
        for setting in BUILD_SETTINGS:
            self._execute(f"ALTER SYSTEM SET {setting} = on")
        self._execute("SELECT pg_reload_conf()")
        # The reload is a signal the postmaster relays to every process: once this backend has it, so has the
        # checkpointer, and the CHECKPOINT below runs with fsync on.
        deadline = time.monotonic() + RELOAD_TIMEOUT_S
        while any(self.setting(name) != "on" for name in BUILD_SETTINGS):
            if time.monotonic() > deadline:
                raise ExperimentError(f"PostgreSQL did not take durability back on in {RELOAD_TIMEOUT_S} s")
            time.sleep(0.01)
        self._execute("CHECKPOINT")  # what was built without fsync reaches the disk now

    @contextlib.contextmanager
    def database_for_run(self, template: str) -> Iterator[RunDatabase]:
        database = self._name(f"run_{next(self._runs)}")
        self._create(database, template)
        try:
            yield RunDatabase(env=self.env_of(database), name=database)
        finally:
            self._drop(database)

    def count_connections(self, database: str) -> int:
        row = self._execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
            (database,),
        ).fetchone()
        return int(row[0])

    def setting(self, name: str) -> str:
        return str(self._execute("SELECT current_setting(%s)", (name,)).fetchone()[0])
