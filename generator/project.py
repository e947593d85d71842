"""Options → spec → files → database, written so that a failure leaves nothing behind.

The tree is built in a staging directory beside the output and renamed into place when complete
(generator.output); the database is built by a child interpreter that dies with us.
"""

from __future__ import annotations

import contextlib
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
from generator.output import (
    GENERATOR_ID,
    MANIFEST,
    check_output,
    content_hash,
    install,
    make_staging,
    read_manifest,
    remove_stale,
)
from generator.process import die_with_parent, signals_held
from generator.render import count_url_patterns, render_project, sample_urls
from generator.spec import ProjectSpec, build_spec

__all__ = ["GENERATOR_ID", "MANIFEST", "read_manifest", "write_project"]

DATABASE = "db.sqlite3"


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
    apps): its SQLite file, or the database ``env`` names (``DATABASE_URL``).

    The child stays in our process group (Ctrl-C reaches it too), dies with us, and is killed and reaped in
    ``finally`` whatever interrupts the wait.
    """
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
    process = subprocess.Popen(
        command,
        cwd=output,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent(),
    )
    try:
        _out, err = process.communicate()
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        process.wait()
    if process.returncode != 0:
        tail = " | ".join(err.strip().splitlines()[-3:])
        raise GeneratorError(f"building the database failed: {tail}")


def _make_parent(output: Path) -> list[Path]:
    """Create the missing parents of ``output``; returns them, deepest first, to remove on failure."""
    missing = []
    parent = output.parent
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputDirError(f"--output: cannot create {output.parent}: {exc.strerror}") from None
    return missing


def write_project(
    options: GenOptions,
    output: Path,
    *,
    build_db: bool = True,
    force: bool = False,
    like: dict | None = None,
    database_url: str | None = None,
) -> dict:
    """Write the project into ``output``: absent, empty, or (``force``) an unmodified generated project."""
    output = Path(os.path.abspath(output))
    remove_stale(output)  # only our own directories, of killed processes: before the check counts them
    check_output(output, force)
    target = db.resolve_database("postgresql", database_url) if database_url else None
    if target is not None and build_db:
        db.check_target(target, force)
    spec = build_spec(options)
    files = render_project(spec)
    manifest = build_manifest(spec, files, with_db=build_db, target=target)
    if like is not None:
        manifest["like"] = like
    created = _make_parent(output)
    staging = aside = None
    installed = False
    try:
        staging = make_staging(output)
        try:
            write_files(staging, files)
        except OSError as exc:
            raise OutputDirError(f"--output: writing the project failed: {exc.strerror}") from None
        if build_db and target is not None:
            with db.created(target, force):
                build_database(staging, options, target.env())
        elif build_db:
            build_database(staging, options)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        with signals_held():  # a signal held here is raised on exit, with the new project in place
            aside = install(staging, output)
            installed = True
    except BaseException:
        if not installed:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            for parent in created:
                with contextlib.suppress(OSError):
                    parent.rmdir()
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    return manifest
