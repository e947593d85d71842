"""Public entry point for other packages (the runner): build a project from options, return its manifest."""

from __future__ import annotations

from pathlib import Path

from generator.options import GenOptions, default_output, resolve_options

__all__ = ["GenOptions", "choose_urls", "default_output", "generate_project", "resolve_options"]


def generate_project(
    options: GenOptions,
    output: Path,
    *,
    build_db: bool = True,
    force: bool = False,
    like: dict | None = None,
) -> dict:
    """Write the project for ``options`` into ``output`` (and its SQLite DB unless ``build_db`` is false).

    Returns the manifest dict, also written to ``output/manifest.json``. Keys:
    generator, generator_version, options, counts{apps, models, fields, relations, url_patterns, views,
    templates, lines_of_code}, content_hash, settings_module ("config.settings"), wsgi ("config.wsgi:application"),
    urls (one concrete path per generated URL pattern, e.g. "/billing/invoice/1/"), database ("db.sqlite3" or None),
    and ``like`` (the inspected project and the fit) when given.
    Raises generator.errors.GeneratorError (OutputDirError when ``output`` is not ours to replace).
    """
    from generator.project import write_project

    return write_project(options, Path(output), build_db=build_db, force=force, like=like)


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
