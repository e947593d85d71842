"""The throwaway PostgreSQL cluster's start and stop, and a project's DB build on PostgreSQL beside SQLite.

    .venv/bin/python benchmarks/bench_databases.py            # cluster start/stop; builds at 300 and 3,000 models
    .venv/bin/python benchmarks/bench_databases.py --quick    # small sizes, a smoke run

Each build is a full ``build_database`` (a fresh interpreter inside the project: django.setup, schema, rows) of
a realistic project's tree written beforehand, on SQLite (its file) and on PostgreSQL (a template database in
the throwaway cluster), one after the other so both see the same machine; then the time to copy that template
for a run. Wall clocks on a machine that may be shared: read the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from experiments.databases import open_for_sweep
from generator.api import build_database, generate_project, resolve_options

CLUSTER_STARTS = 5
SIZES = (300, 3_000)
QUICK_SIZES = (30, 100)


def cluster_figures(starts: int) -> list[str]:
    started, stopped = [], []
    for _ in range(starts):
        t = time.perf_counter()
        server = open_for_sweep("postgresql").__enter__()
        started.append(time.perf_counter() - t)
        t = time.perf_counter()
        server.close()
        stopped.append(time.perf_counter() - t)
    return [
        f"cluster start (initdb + postmaster ready + first connection), {starts} times: "
        f"median {statistics.median(started):.2f} s, max {max(started):.2f} s",
        f"cluster stop (fast shutdown, directory removed), {starts} times: "
        f"median {statistics.median(stopped):.2f} s, max {max(stopped):.2f} s",
    ]


def build_figures(models: int, workdir: Path) -> list[str]:
    options = resolve_options(models)
    tree = workdir / f"m{models}"
    generate_project(options, tree, build_db=False)
    t = time.perf_counter()
    build_database(tree, options)
    sqlite_s = time.perf_counter() - t
    sqlite_mb = (tree / "db.sqlite3").stat().st_size / 1e6
    with open_for_sweep("postgresql") as server:
        t = time.perf_counter()
        template = server.build_template(f"m{models}", lambda env: build_database(tree, options, env))
        postgresql_s = time.perf_counter() - t
        size = server.admin.execute("SELECT pg_database_size(%s)", (template,)).fetchone()[0] / 1e6
        server.end_build()
        t = time.perf_counter()
        with server.database_for_run(template):
            copy_s = time.perf_counter() - t
            t = time.perf_counter()
        drop_s = time.perf_counter() - t
    return [
        f"{models} models, realistic, 20 rows/model: SQLite {sqlite_s:.1f} s ({sqlite_mb:.0f} MB), "
        f"PostgreSQL {postgresql_s:.1f} s ({size:.0f} MB): {postgresql_s / sqlite_s:.2f}× SQLite",
        f"{models} models: a run's copy of the template {copy_s:.2f} s, dropping it {drop_s:.2f} s",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--models", type=int, action="append", help="only builds, at these sizes")
    args = parser.parse_args()
    if not args.models:
        for line in cluster_figures(2 if args.quick else CLUSTER_STARTS):
            print(line, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-db-") as tmp:
        for models in args.models or (QUICK_SIZES if args.quick else SIZES):
            for line in build_figures(models, Path(tmp)):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
