"""Databases a sweep's projects run on. ``open_for_sweep`` is the one entry point; imports stay light."""

from __future__ import annotations

from experiments.databases.base import KINDS, DatabaseServer, DatabaseSettings, RunDatabase
from experiments.errors import ExperimentError

__all__ = ["KINDS", "DatabaseServer", "DatabaseSettings", "RunDatabase", "open_for_sweep"]


def open_for_sweep(kind: str, url: str | None = None) -> DatabaseServer:
    """The server of ``kind`` for one sweep, to use as a context manager: entering starts the throwaway
    PostgreSQL cluster (when no ``url`` is given) or checks that the server at ``url`` answers; leaving stops
    the cluster, or drops every database made on the user's server (which is never stopped).

    ExperimentError, one line: unknown kind, bad or unreachable URL, server programs missing.
    """
    if kind == "sqlite":
        if url:
            raise ExperimentError("database URL: only for postgresql (SQLite uses each project's own file)")
        from experiments.databases.sqlite import SqliteServer

        return SqliteServer()
    if kind == "postgresql":
        from experiments.databases.postgresql import PostgresServer

        return PostgresServer(url)
    raise ExperimentError(f"database: unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
