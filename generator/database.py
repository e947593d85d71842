"""Where a generated project's database lives, and the variables its settings read to find it.

A project's settings (``config/settings/database.py``) read ``DATABASE_URL`` and friends from the environment,
so one source tree runs on SQLite (its own ``db.sqlite3``, the default) or on PostgreSQL. On PostgreSQL,
``gen-project`` builds into the database the URL names: it creates it when missing, refuses one that holds
tables unless gen-project built it (then ``--force`` replaces it), and drops what it created if the build fails.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from generator.errors import OptionError

KINDS = ("sqlite", "postgresql")
URL_ENV = "DATABASE_URL"
CONN_MAX_AGE_ENV = "DATABASE_CONN_MAX_AGE"
POOL_ENV = "DATABASE_POOL"
MARK = "built by django-prefork-lab gen-project"  # COMMENT ON DATABASE: what --force may replace
CONNECT_TIMEOUT_S = 10


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo.partition(':')[0]}:***@{hostport}"))


def one_line(exc: BaseException) -> str:
    """An error (psycopg's often span several lines) as one line, for a message."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


@dataclass(frozen=True)
class Target:
    """A PostgreSQL database to build into: its URL, its name, and the URL of the server's maintenance DB."""

    url: str
    name: str
    admin_url: str

    def env(self) -> dict[str, str]:
        return {URL_ENV: self.url}


def resolve_database(kind: str, url: str | None) -> Target | None:
    """Check ``--database`` / ``--database-url`` without touching any server; None means SQLite."""
    if kind not in KINDS:
        raise OptionError("--database", f"unknown database {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "sqlite":
        if url:
            raise OptionError(
                "--database-url", "only with --database postgresql (SQLite is the project's file)"
            )
        return None
    if not url:
        raise OptionError("--database-url", "required with --database postgresql: the database to build")
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if parts.scheme not in ("postgresql", "postgres") or not name:
        raise OptionError(
            "--database-url", f"expected postgresql://[user@]host[:port]/DBNAME, got {redact(url)!r}"
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise OptionError("--database-url", f"{redact(url)!r}: {exc}") from None
    return Target(url=url, name=name, admin_url=urlunsplit(parts._replace(path="/postgres")))


@contextlib.contextmanager
def _admin(target: Target):
    import psycopg

    try:
        connection = psycopg.connect(target.admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise OptionError(
            "--database-url", f"cannot connect to {redact(target.url)}: {one_line(exc)}"
        ) from None
    with connection:
        yield connection


def check_target(target: Target, force: bool) -> None:
    """Refuse a database that holds tables, unless gen-project built it and ``force``; changes nothing."""
    import psycopg

    with _admin(target) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (target.name,)
        ).fetchone()
        if row is None or (force and row[0] == MARK):
            return
        try:
            with psycopg.connect(target.url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                tables = conn.execute(
                    "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                ).fetchone()[0]
        except psycopg.Error as exc:
            raise OptionError(
                "--database-url", f"cannot connect to {redact(target.url)}: {one_line(exc)}"
            ) from None
    if tables:
        hint = "--force replaces it" if row[0] == MARK else "name a new or empty database"
        raise OptionError("--database-url", f"database {target.name!r} holds {tables} tables; {hint}")


@contextlib.contextmanager
def created(target: Target, force: bool):
    """The target database, made ready for a build; dropped again if the build fails and we created it."""
    from psycopg import sql

    name = sql.Identifier(target.name)
    with _admin(target) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (target.name,)
        ).fetchone()
        if row is not None and force and row[0] == MARK:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))
            row = None
        ours = row is None
        if ours:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
        try:
            yield target
            admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(name, sql.Literal(MARK)))
        except BaseException:
            if ours:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            raise


@contextlib.contextmanager
def scratch(target: Target, suffix: str = "_like_fit"):
    """A database of our own beside ``target`` on its server, for a build that must not land in the user's one
    (``--like`` fits its twin there); dropped again whatever happens. A database of that name we did not build
    is refused."""
    from psycopg import sql

    parts = urlsplit(target.url)
    name = target.name + suffix
    side = Target(urlunsplit(parts._replace(path="/" + name)), name, target.admin_url)
    check_target(side, force=True)
    try:
        yield side
    finally:
        with _admin(side) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
