"""Run a command beside Nautobot's database: the lab's throwaway PostgreSQL cluster with Nautobot's prepared dump.

    python calibration/nautobot_db.py -- run-experiments experiments/sweeps/calibration-nautobot.yaml
    python calibration/nautobot_db.py -- python calibration/table.py

Nautobot runs on PostgreSQL only (its migrations refuse SQLite), and a deployment's database is a server, not a
file in the project: `calibration/prepare.py nautobot` migrates it once and keeps it as ``nautobot.dump``
beside the project. This starts the cluster every sweep uses (experiments/databases/cluster.py: ours, on a
unix socket, gone when we are), restores the dump, turns durability back on as a production server has it,
points Nautobot's own NAUTOBOT_DB_* variables at it for the command, and stops it all when the command ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from experiments.databases.cluster import BUILD_SETTINGS, SUPERUSER, Cluster, find_programs  # noqa: E402
from experiments.databases.postgresql import RELOAD_TIMEOUT_S  # noqa: E402

DUMP = REPO / "generated" / "calibration" / "nautobot" / "nautobot.dump"
DATABASE = "nautobot"


def _sql(cluster: Cluster, statement: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(
        host=str(cluster.socket_dir), user=SUPERUSER, dbname="postgres", autocommit=True
    ) as db:
        cursor = db.execute(statement)
        return cursor.fetchall() if cursor.description else []


def _durability_on(cluster: Cluster) -> None:
    """Turn durability back on and wait until the server runs with it (the reload is a signal, not a call)
    before the checkpoint that writes what the restore left unsynced."""
    for setting in BUILD_SETTINGS:
        _sql(cluster, f"ALTER SYSTEM SET {setting} = on")
    _sql(cluster, "SELECT pg_reload_conf()")
    deadline = time.monotonic() + RELOAD_TIMEOUT_S
    while any(_sql(cluster, f"SHOW {setting}") != [("on",)] for setting in BUILD_SETTINGS):
        if time.monotonic() > deadline:
            raise SystemExit(f"Error: PostgreSQL did not take durability back on in {RELOAD_TIMEOUT_S} s")
        time.sleep(0.01)
    _sql(cluster, "CHECKPOINT")


def client_program(name: str) -> Path:
    """pg_dump or pg_restore of the server's own version (beside ``postgres``, which PATH may only link to)."""
    return Path(os.path.realpath(find_programs() / "postgres")).parent / name


def database_env(cluster: Cluster) -> dict[str, str]:
    """Nautobot's variables for the database ``nautobot`` of ``cluster``."""
    return {
        "NAUTOBOT_DB_HOST": str(cluster.socket_dir),
        "NAUTOBOT_DB_USER": SUPERUSER,
        "NAUTOBOT_DB_NAME": DATABASE,
        "NAUTOBOT_DB_PORT": "",
    }


@contextlib.contextmanager
def nautobot_database(dump: Path | None = DUMP) -> Iterator[dict[str, str]]:
    """A running cluster holding the database ``nautobot`` (restored from ``dump``, else empty); yields the
    variables that point Nautobot at it. Durability is on unless the database is being built (no dump)."""
    if dump is not None and not dump.is_file():
        raise SystemExit(f"Error: {dump} is missing: run `python calibration/prepare.py nautobot` first")
    cluster = Cluster.start()
    try:
        _sql(cluster, f"CREATE DATABASE {DATABASE}")
        if dump is not None:
            subprocess.run(
                [client_program("pg_restore"), "-h", cluster.socket_dir, "-U", SUPERUSER, "-d", DATABASE,
                 "--no-owner", "--exit-on-error", dump],
                check=True, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            _durability_on(cluster)
        yield database_env(cluster)
    finally:
        cluster.stop()


def dump_database(env: dict[str, str], target: Path) -> None:
    """Write the database ``env`` points at to ``target`` (pg_dump's custom format), via a file beside it."""
    partial = target.with_suffix(".partial")
    subprocess.run(
        [client_program("pg_dump"), "-h", env["NAUTOBOT_DB_HOST"], "-U", SUPERUSER, "-Fc", "-f", partial,
         env["NAUTOBOT_DB_NAME"]],
        check=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    partial.replace(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump", type=Path, default=DUMP)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS …]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required after --")
    with nautobot_database(args.dump) as env:
        return subprocess.run(command, env={**os.environ, **env}).returncode


if __name__ == "__main__":
    sys.exit(main())
