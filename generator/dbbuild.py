"""Build a generated project's database: schema by the fast path, then seeded Faker rows.

Run inside the project's own interpreter state, never imported by the generator itself::

    cd PROJECT && python -m generator.dbbuild --rows 20 --seed 0

The database is the one the project's settings name (``DATABASE_URL``; default its SQLite file). The schema
comes straight from the models (one pass of CREATE TABLEs: seconds for thousands of models, where applying
migration files takes many minutes), then every migration is recorded as applied, so a later ``migrate`` is a
no-op and the migration files stay real. On PostgreSQL the whole build is one transaction (DDL included):
a failure leaves the database as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import queue
import random
import sys
import threading
import time
import uuid
from decimal import Decimal

POOL_SIZE = 200


def _project_labels() -> list[str]:
    from django.conf import settings

    return [entry.split(".")[0] for entry in settings.INSTALLED_APPS if not entry.startswith("django.")]


DDL_BATCH = 500  # PostgreSQL: statements sent in one round trip


def _sqlite_execute(database: str):
    def execute(statements) -> None:
        """Run DDL in one transaction on a sqlite3 connection of its own."""
        import sqlite3

        db = sqlite3.connect(database, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous = OFF")  # a build, not a service: durability can wait for COMMIT
            db.execute("PRAGMA journal_mode = MEMORY")
            db.execute("BEGIN")
            for statement in statements:
                db.execute(statement)
            db.execute("COMMIT")
        finally:
            db.close()

    return execute


def _postgresql_execute(raw):
    def execute(statements) -> None:
        """Run DDL in batches on ``raw``, Django's own connection, inside the transaction of the build."""
        batch: list[str] = []
        for statement in statements:
            batch.append(statement.rstrip().rstrip(";"))
            if len(batch) == DDL_BATCH:
                raw.execute(";\n".join(batch))
                batch.clear()
        if batch:
            raw.execute(";\n".join(batch))

    return execute


def _execute_statements(execute, statements: queue.Queue, failure: list) -> None:
    """``execute`` the statements of ``statements`` until None; a failure is kept for the other thread."""
    ended = False

    def until_none():
        nonlocal ended
        while (statement := statements.get()) is not None:
            yield statement
        ended = True

    try:
        execute(until_none())
    except BaseException as exc:
        failure.append(exc)
        while not ended and statements.get() is not None:  # drain, so the producer never blocks
            pass


def _ddl(failure: list):
    """Every CREATE TABLE (with its many-to-many tables), then every index and constraint."""
    from django.apps import apps
    from django.db import connection

    # Not entered as a context manager: SQLite's editor would then lock the file to check constraints.
    editor = connection.schema_editor(collect_sql=True, atomic=False)
    editor.deferred_sql = []
    for model in apps.get_models():
        if failure:
            return
        editor.create_model(model)
        yield from editor.collected_sql
        editor.collected_sql.clear()
    for statement in editor.deferred_sql:
        yield str(statement)


def create_tables(prepare_meanwhile):
    """CREATE every table straight from the models; returns what ``prepare_meanwhile()`` returned.

    Equivalent to ``migrate`` on an empty database (the migration files describe the same models, which the
    tests check with ``makemigrations --check``), without rendering thousands of intermediate model states.
    A second thread executes the SQL while this one prepares rows. On SQLite, whose DDL cost grows with the
    number of tables, it also overlaps writing the SQL; on PostgreSQL the SQL is written first, because
    quoting values uses the connection the other thread then holds.
    """
    from django.db import connection

    statements: queue.Queue = queue.Queue(maxsize=0 if connection.vendor == "postgresql" else 10_000)
    failure: list[BaseException] = []
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        ddl = list(_ddl(failure))
        execute = _postgresql_execute(connection.connection)
    else:
        ddl = _ddl(failure)
        execute = _sqlite_execute(str(connection.settings_dict["NAME"]))
    executor = threading.Thread(target=_execute_statements, args=(execute, statements, failure))
    executor.start()
    try:
        try:
            for statement in ddl:
                statements.put(statement)
        finally:
            statements.put(None)  # end of the DDL, or an abort: either way the executor stops
        prepared = prepare_meanwhile() if not failure else None
    finally:
        executor.join()
    if failure:
        raise failure[0]
    return prepared


def disk_migrations() -> list[tuple[str, str]]:
    """(app, name) of every migration file; reads files only, so it can run while the DDL thread works."""
    from django.db.migrations.loader import MigrationLoader

    return sorted(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def record_migrations(applied: list[tuple[str, str]]) -> None:
    """Mark every migration on disk as applied, then create content types and permissions as migrate does."""
    from django.core.management.sql import emit_post_migrate_signal
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    recorder.ensure_schema()
    recorder.migration_qs.bulk_create(recorder.Migration(app=app, name=name) for app, name in applied)
    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)


class ValueMaker:
    """Seeded values for every field type: Faker fills word pools once, then picks are plain random calls."""

    def __init__(self, seed: int):
        from faker import Faker

        fake = Faker("en_US")
        fake.seed_instance(seed)
        self.rng = random.Random(f"{seed}:rows")
        self.words = [fake.word() for _ in range(POOL_SIZE)]
        self.texts = [fake.catch_phrase() for _ in range(POOL_SIZE)] + [fake.name() for _ in range(POOL_SIZE)]
        self.paragraphs = [fake.paragraph(nb_sentences=3) for _ in range(POOL_SIZE // 4)]

    def value(self, field, row: int, unique: bool):
        """A Python value for ``field`` in row number ``row`` (unique across rows when ``unique``)."""
        from django.db import models

        rng = self.rng
        if field.choices:
            return rng.choice(field.choices)[0]
        if isinstance(field, models.SlugField):
            return f"{field.model._meta.model_name}-{row}"
        if isinstance(field, models.EmailField):
            return f"{rng.choice(self.words)}.{row}@example.com"
        if isinstance(field, models.URLField):
            return f"https://example.com/{rng.choice(self.words)}/{row}"
        if isinstance(field, models.CharField):
            text = f"{rng.choice(self.words)}-{row}" if unique else rng.choice(self.texts)
            return text[: field.max_length]
        if isinstance(field, models.TextField):
            return rng.choice(self.paragraphs)
        if isinstance(field, models.BooleanField):
            return rng.random() < 0.5
        if isinstance(field, models.DecimalField):
            return Decimal(rng.randint(0, 10**6)) / 100
        if isinstance(field, models.FloatField):
            return round(rng.uniform(0, 100), 3)
        if isinstance(field, models.IntegerField):
            return rng.randint(0, 1000)
        if isinstance(field, models.DateTimeField):
            return dt.datetime(2021, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randint(0, 2_000_000))
        if isinstance(field, models.DateField):
            return dt.date(2021, 1, 1) + dt.timedelta(days=rng.randint(0, 1500))
        if isinstance(field, models.UUIDField):
            return uuid.UUID(int=rng.getrandbits(128), version=4)
        if isinstance(field, models.JSONField):
            return {"source": rng.choice(self.words), "score": rng.randint(0, 100)}
        return None

    def column(self, field, rows: int, unique: bool, connection) -> list:
        """Database-ready values of one column for rows 1..rows.

        Values go through the field's own ``get_db_prep_save``; non-unique columns draw from a small pool
        converted once, which keeps thousands of tables fast to fill.
        """
        from django.db import models

        rng = self.rng
        if isinstance(field, models.OneToOneField):
            return list(range(1, rows + 1))
        if isinstance(field, models.ForeignKey):
            return [None if field.null and rng.random() < 0.2 else rng.randint(1, rows) for _ in range(rows)]
        if unique or isinstance(field, models.SlugField | models.EmailField | models.URLField):
            return [
                field.get_db_prep_save(self.value(field, row, True), connection) for row in range(1, rows + 1)
            ]
        pool = [
            field.get_db_prep_save(self.value(field, row, False), connection) for row in range(min(rows, 12))
        ]
        return [rng.choice(pool) for _ in range(rows)]


def _unique_field_names(model) -> set[str]:
    from django.db import models

    names = {f.name for f in model._meta.concrete_fields if f.unique}
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            names.update(constraint.fields)
    return names


def _insert(cursor, table: str, columns: list[str], rows: list[tuple]) -> None:
    """Multi-row INSERTs: one statement per chunk, not per row.

    Tables with AUTOINCREMENT update sqlite_sequence once per statement, and that lookup scans the whole
    (unindexed) table, so with thousands of tables a per-row executemany costs ~0.1 ms a row.
    """
    from django.db import connection

    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES "
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per_statement = max(1, connection.features.max_query_params // len(columns))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        cursor.execute(head + ", ".join([row_sql] * len(chunk)), [value for row in chunk for value in row])


def _copy(cursor, table: str, columns: list[str], rows: list[tuple]) -> None:
    """PostgreSQL's bulk path: one COPY stream per table."""
    from django.db import connection

    quote = connection.ops.quote_name
    with cursor.cursor.copy(
        f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def prepare_rows(labels: list[str], rows: int, seed: int) -> list[tuple[str, list[str], list[tuple]]]:
    """(table, columns, rows) for every project table: ``rows`` rows per model with ids 1..rows, then links."""
    from django.apps import apps
    from django.db import connection

    maker = ValueMaker(seed)
    project_models = [m for label in labels for m in apps.get_app_config(label).get_models()]
    tables = []
    for model in project_models:
        unique = _unique_field_names(model)
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        columns = [list(range(1, rows + 1))] + [
            maker.column(f, rows, f.name in unique, connection) for f in fields
        ]
        names = [model._meta.pk.column] + [f.column for f in fields]
        tables.append((model._meta.db_table, names, list(zip(*columns, strict=True))))
    for model in project_models:
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            links = [
                (row, other)
                for row in range(1, rows + 1)
                for other in maker.rng.sample(range(1, rows + 1), min(rows, maker.rng.randint(1, 3)))
            ]
            source = through._meta.get_field(field.m2m_field_name()).column
            target = through._meta.get_field(field.m2m_reverse_field_name()).column
            tables.append((through._meta.db_table, [source, target], links))
    return tables


def write_rows(tables: list[tuple[str, list[str], list[tuple]]]) -> int:
    """Insert prepared rows in order (every foreign key points at a table filled earlier)."""
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection, transaction

    postgresql = connection.vendor == "postgresql"
    with transaction.atomic(), connection.cursor() as cursor:
        for table, columns, rows in tables:
            (_copy if postgresql else _insert)(cursor, table, columns, rows)
        if (
            postgresql
        ):  # rows came with their ids: move each id sequence past them, as SQLite's AUTOINCREMENT does
            for statement in connection.ops.sequence_reset_sql(no_style(), apps.get_models()):
                cursor.execute(statement)
    return sum(len(rows) for _, _, rows in tables)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, os.getcwd())
    labels = _project_labels()
    import django

    started = time.perf_counter()
    django.setup()
    set_up = time.perf_counter()
    from django.db import connection, transaction

    # On PostgreSQL everything below is one transaction; SQLite's DDL needs the file unlocked.
    with transaction.atomic() if connection.vendor == "postgresql" else contextlib.nullcontext():
        applied, prepared = create_tables(
            prepare_meanwhile=lambda: (disk_migrations(), prepare_rows(labels, args.rows, args.seed))
        )
        record_migrations(applied)
        schema = time.perf_counter()
        written = write_rows(prepared)
    done = time.perf_counter()
    print(
        f"{written} rows; django.setup {set_up - started:.1f} s, schema and row values {schema - set_up:.1f} s, "
        f"inserts {done - schema:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
