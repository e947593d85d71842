"""Build a generated project's SQLite database: schema by the fast path, then seeded Faker rows.

Run inside the project's own interpreter state, never imported by the generator itself::

    cd PROJECT && python -m generator.dbbuild --rows 20 --seed 0

The schema comes from ``migrate --run-syncdb`` with the project's migration modules switched off (one pass of
CREATE TABLEs, seconds for thousands of models, where applying migration files takes many minutes), then every
project migration is recorded as applied, so a later ``migrate`` is a no-op and the migration files stay real.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import uuid
from decimal import Decimal

POOL_SIZE = 200


def _project_labels() -> list[str]:
    from django.conf import settings

    return [entry.split(".")[0] for entry in settings.INSTALLED_APPS if not entry.startswith("django.")]


def build_schema(labels: list[str]) -> None:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    settings.MIGRATION_MODULES = {label: None for label in labels}
    call_command("migrate", run_syncdb=True, interactive=False, verbosity=0)
    recorder = MigrationRecorder(connection)
    recorder.ensure_schema()
    recorder.migration_qs.bulk_create(recorder.Migration(app=label, name="0001_initial") for label in labels)


class ValueMaker:
    """Seeded values for every field type; Faker fills pools once, then picks are plain random calls."""

    def __init__(self, seed: int):
        from faker import Faker

        fake = Faker("en_US")
        fake.seed_instance(seed)
        self.rng = random.Random(f"{seed}:rows")
        self.words = [fake.word() for _ in range(POOL_SIZE)]
        self.phrases = [fake.catch_phrase() for _ in range(POOL_SIZE)]
        self.names = [fake.name() for _ in range(POOL_SIZE)]
        self.paragraphs = [fake.paragraph(nb_sentences=3) for _ in range(POOL_SIZE // 4)]
        self.start = dt.date(2021, 1, 1)

    def value(self, field, row: int, unique: bool):
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
            text = f"{rng.choice(self.words)}-{row}" if unique else rng.choice(self.phrases + self.names)
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
            return self.start + dt.timedelta(days=rng.randint(0, 1500))
        if isinstance(field, models.UUIDField):
            return uuid.UUID(int=rng.getrandbits(128), version=4)
        if isinstance(field, models.JSONField):
            return {"source": rng.choice(self.words), "score": rng.randint(0, 100)}
        return None


def _unique_field_names(model) -> set[str]:
    from django.db import models

    names = {f.name for f in model._meta.concrete_fields if f.unique}
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            names.update(constraint.fields)
    return names


def insert_rows(labels: list[str], rows: int, seed: int) -> int:
    """Insert ``rows`` rows per model (ids 1..rows) in model order; returns the number of rows written."""
    from django.apps import apps
    from django.db import models, transaction

    maker = ValueMaker(seed)
    project_models = [m for label in labels for m in apps.get_app_config(label).get_models()]
    written = 0
    with transaction.atomic():
        for model in project_models:
            unique = _unique_field_names(model)
            objects = []
            for row in range(1, rows + 1):
                values = {"pk": row}
                for field in model._meta.concrete_fields:
                    if field.primary_key:
                        continue
                    if isinstance(field, models.OneToOneField):
                        values[field.attname] = row
                    elif isinstance(field, models.ForeignKey):
                        nullable = field.null and maker.rng.random() < 0.2
                        values[field.attname] = None if nullable else maker.rng.randint(1, rows)
                    else:
                        values[field.attname] = maker.value(field, row, field.name in unique)
                objects.append(model(**values))
            model.objects.bulk_create(objects)
            written += len(objects)
        for model in project_models:
            for field in model._meta.local_many_to_many:
                through = field.remote_field.through
                source, target = field.m2m_field_name(), field.m2m_reverse_field_name()
                links = []
                for row in range(1, rows + 1):
                    for other in maker.rng.sample(range(1, rows + 1), min(rows, maker.rng.randint(1, 3))):
                        links.append(through(**{f"{source}_id": row, f"{target}_id": other}))
                through.objects.bulk_create(links)
                written += len(links)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, os.getcwd())
    labels = _project_labels()
    import django

    django.setup()
    build_schema(labels)
    written = insert_rows(labels, args.rows, args.seed)
    print(f"{written} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
