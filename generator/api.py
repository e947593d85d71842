"""Public entry point for other packages (the runner): build a project from options, return its manifest."""

from __future__ import annotations

from pathlib import Path

from generator.database import CONN_MAX_AGE_ENV, KINDS, POOL_ENV, URL_ENV
from generator.options import GenOptions, default_output, resolve_options

__all__ = [
    "CONN_MAX_AGE_ENV",
    "KINDS",
    "POOL_ENV",
    "URL_ENV",
    "GenOptions",
    "build_database",
    "choose_urls",
    "default_output",
    "generate_project",
    "resolve_options",
]


def generate_project(
    options: GenOptions,
    output: Path,
    *,
    build_db: bool = True,
    force: bool = False,
    like: dict | None = None,
    database_url: str | None = None,
) -> dict:
    """Write the project for ``options`` into ``output`` and build its database unless ``build_db`` is false:
    its SQLite file, or the PostgreSQL database ``database_url`` names (created when missing).

    Returns the manifest dict, also written to ``output/manifest.json``. Keys:
    generator, generator_version, options, counts{apps, models, fields, relations, url_patterns, views,
    templates, lines_of_code}, content_hash, settings_module ("config.settings"), wsgi ("config.wsgi:application"),
    urls (one concrete path per generated URL pattern, e.g. "/billing/invoice/1/"), database ("db.sqlite3" or None),
    database_url (the PostgreSQL database built, password hidden, or None) and ``like`` (the inspected project
    and the fit) when given. The project's settings read ``DATABASE_URL`` (else they use db.sqlite3),
    ``DATABASE_CONN_MAX_AGE`` and ``DATABASE_POOL`` from the environment.
    Raises generator.errors.GeneratorError (OutputDirError when ``output`` is not ours to replace).
    """
    from generator.project import write_project

    return write_project(
        options, Path(output), build_db=build_db, force=force, like=like, database_url=database_url
    )


def build_database(project: Path, options: GenOptions, env: dict[str, str] | None = None) -> None:
    """(Re)build the database of the generated project in ``project``: the one ``env`` points at
    (``{"DATABASE_URL": …}``, an existing empty database), else its SQLite file. Raises GeneratorError."""
    from generator.project import build_database as build

    build(Path(project), options, env)


def choose_urls(manifest_urls: list[str], max_urls: int) -> tuple[str, ...]:
    """The URLs a generated project is served over, by the runner and by `--like`'s probes of a twin: the first
    URL of each app (first path segment) in manifest order, up to ``max_urls``; "/" first."""
    chosen: list[str] = []
    seen: set[str] = set()
    for url in sorted(manifest_urls, key=lambda u: u != "/"):
        group = url.strip("/").split("/", 1)[0]
        if group in seen:
            continue
        seen.add(group)
        chosen.append(url)
        if len(chosen) >= max_urls:
            break
    return tuple(chosen) or ("/",)
