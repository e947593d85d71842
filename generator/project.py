"""Options → spec → files → database, written so that a failure leaves nothing behind."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from generator import __version__
from generator import database as db
from generator.errors import GeneratorError, OutputDirError
from generator.options import GenOptions
from generator.render import count_url_patterns, render_project, sample_urls
from generator.spec import ProjectSpec, build_spec

GENERATOR_ID = "django-prefork-lab gen-project"
MANIFEST = "manifest.json"
DATABASE = "db.sqlite3"


def content_hash(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return "sha256:" + digest.hexdigest()


def count_lines(files: dict[str, str]) -> int:
    return sum(
        1
        for path, text in files.items()
        if path.endswith(".py")
        for line in text.splitlines()
        if line.strip()
    )


def build_manifest(
    spec: ProjectSpec, files: dict[str, str], *, with_db: bool, target: db.Target | None = None
) -> dict:
    realistic = spec.realistic
    models = spec.models
    return {
        "generator": GENERATOR_ID,
        "generator_version": __version__,
        "options": spec.options.as_dict(),
        "counts": {
            "apps": len(spec.apps),
            "models": len(models),
            "fields": sum(len(m.fields) for m in models),
            "relations": len(spec.edges),
            "url_patterns": count_url_patterns(spec),
            "views": 1 + (4 * len(models) if realistic else len(spec.apps)),
            "templates": sum(1 for path in files if path.endswith(".html")),
            "lines_of_code": count_lines(files),
            "files": len(files),
        },
        "content_hash": content_hash(files),
        "settings_module": "config.settings",
        "wsgi": "config.wsgi:application",
        "database": DATABASE if with_db and target is None else None,  # the SQLite file in the project
        "database_url": db.redact(target.url) if with_db and target is not None else None,
        "urls": sample_urls(spec),
    }


def read_manifest(directory: Path) -> dict | None:
    """The manifest if ``directory`` holds one written by this generator, else None."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("generator") == GENERATOR_ID else None


def _check_output(output: Path, force: bool) -> None:
    """Refuse an output we may not write, before any work is done; changes nothing."""
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise OutputDirError(f"--output: {output} exists and is not a directory")
    if not output.exists() or not any(output.iterdir()):
        return
    if not force:
        raise OutputDirError(f"--output: {output} is not empty (use --force to replace a generated project)")
    if read_manifest(output) is None:
        raise OutputDirError(
            f"--output: {output} holds no manifest.json from gen-project; --force refuses to replace it"
        )


def _prepare_output(output: Path) -> bool:
    """Make a checked ``output`` an empty directory; returns whether we created it."""
    if output.exists():
        _empty(output)
        return False
    try:
        output.mkdir(parents=True)
    except OSError as exc:
        raise OutputDirError(f"--output: cannot create {output}: {exc.strerror}") from None
    return True


def _empty(directory: Path) -> None:
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def write_files(output: Path, files: dict[str, str]) -> None:
    made: set[str] = set()
    for path, text in files.items():
        parent = os.path.dirname(path)
        if parent not in made:
            (output / parent).mkdir(parents=True, exist_ok=True)
            made.add(parent)
        with open(output / path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)


def build_database(output: Path, options: GenOptions, env: dict[str, str] | None = None) -> None:
    """Build the project's database in a fresh interpreter running inside the project (its settings, its
    apps): its SQLite file, or the database ``env`` names (``DATABASE_URL``)."""
    # Unset in ours, the project's database variables must not come from the caller's shell either.
    unset = {db.URL_ENV: "", db.CONN_MAX_AGE_ENV: "0", db.POOL_ENV: "0"}
    env = {
        **os.environ,
        **unset,
        **(env or {}),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [
        sys.executable,
        "-m",
        "generator.dbbuild",
        "--rows",
        str(options.rows_per_model),
        "--seed",
        str(options.seed),
    ]
    result = subprocess.run(command, cwd=output, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = " | ".join(result.stderr.strip().splitlines()[-3:])
        raise GeneratorError(f"building the database failed: {tail}")


def write_project(
    options: GenOptions,
    output: Path,
    *,
    build_db: bool = True,
    force: bool = False,
    like: dict | None = None,
    database_url: str | None = None,
) -> dict:
    _check_output(output, force)
    target = db.resolve_database("postgresql", database_url) if database_url else None
    if target is not None and build_db:
        db.check_target(target, force)
    spec = build_spec(options)
    files = render_project(spec)
    manifest = build_manifest(spec, files, with_db=build_db, target=target)
    if like is not None:
        manifest["like"] = like
    created = _prepare_output(output)
    try:
        write_files(output, files)
        if build_db and target is not None:
            with db.created(target, force):
                build_database(output, options, target.env())
        elif build_db:
            build_database(output, options)
        staging = output / (MANIFEST + ".partial")
        staging.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        staging.replace(output / MANIFEST)
    except BaseException:
        if created:
            shutil.rmtree(output, ignore_errors=True)
        else:
            _empty(output)
        raise
    return manifest
