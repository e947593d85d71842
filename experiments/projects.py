"""Resolve the project a run measures: generated ones built once per option set, or existing ones.

Either way the project's bytecode is compiled before any measurement, so no run pays for compilation. All
bytecode goes to a directory of ours (``<cache>/bytecode``, through ``PYTHONPYCACHEPREFIX`` in the compile
step and in the environment of every process that imports the project), never into the project: an existing
project is measured unchanged. A project run on an interpreter of the sweep's python axis is compiled by that
interpreter into a directory of its own (``<cache>/bytecode-cpython-3.12.1-<hash>``): one interpreter's bytecode
is never another's. With a prefix Python no longer reads the ``__pycache__`` beside Django or the
standard library, so the project is then imported once in a child with bytecode writing on: the modules it
loads at start-up and with its URLconf are compiled there too, not in the first measured server.

A cache entry appears only once complete (experiments/cache_entry.py); an entry without a matching manifest is
ours to replace.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from experiments.cache_entry import put_in_place, remove_dead_builds, scratch_beside
from experiments.errors import ExperimentError
from experiments.hashing import short_hash
from experiments.interpreters import Interpreter, ask
from experiments.runtimes import Runtime
from experiments.sweep import ProjectSpec, TrafficSpec
from generator.api import choose_urls

__all__ = ["PreparedProject", "choose_urls", "count_existing"]

CACHE_ENV = "PREFORK_LAB_CACHE"
COUNT_TIMEOUT_S = 300
PYCACHE_ENV = "PYTHONPYCACHEPREFIX"
NO_BYTECODE_ENV = "PYTHONDONTWRITEBYTECODE"  # empty turns writing back on, now that it lands in our prefix
BYTECODE_DIR = "bytecode"  # in the cache directory; mirrors the absolute paths of the sources


@dataclass(frozen=True)
class PreparedProject:
    spec: ProjectSpec
    root: Path  # put first on uWSGI's python path; uWSGI's working directory
    wsgi: str  # "module:callable"
    env: dict[str, str]
    urls: tuple[str, ...]  # warm-up and traffic URLs
    models: int | None = None  # outside django.contrib, as --models counts them (the CSV's models)
    apps: int | None = None
    url_patterns: int | None = None
    python: str = ""  # the interpreter whose servers run it; empty: ours
    database_template: str | None = None  # what the sweep's database server copies for each run
    interpreter: Interpreter | None = None  # what ``python`` is; None: ours


def default_cache_dir() -> Path:
    """``$PREFORK_LAB_CACHE``, else ``generated/cache`` of this checkout, else of the working directory."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser().resolve()
    repo = Path(__file__).resolve().parent.parent
    if (repo / "pyproject.toml").is_file() and (repo / "generator").is_dir() and os.access(repo, os.W_OK):
        return repo / "generated" / "cache"
    return Path.cwd() / "generated" / "cache"


def cache_path(spec: ProjectSpec, cache_dir: Path) -> Path:
    options = spec.options_dict
    name = f"{options['profile']}-m{options['models']}-s{options['seed']}-{short_hash(options, 8)}"
    return cache_dir / name


def is_built(spec: ProjectSpec, cache_dir: Path) -> bool:
    if spec.kind != "generated":
        return True
    return _read_manifest(cache_path(spec, cache_dir), spec) is not None


def _read_manifest(path: Path, spec: ProjectSpec) -> dict | None:
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    from generator import __version__

    # Another generator version wrote another tree (0.2.0's settings ignore DATABASE_URL, for one): rebuild.
    if manifest.get("options") != spec.options_dict or manifest.get("generator_version") != __version__:
        return None
    database = manifest.get("database")
    if database and not (path / database).is_file():
        return None
    return manifest


def bytecode_dir(cache_dir: Path, interpreter: Interpreter | None = None) -> Path:
    """Where bytecode goes: ``<cache>/bytecode``, or a directory per interpreter of the python axis."""
    if interpreter is None:
        return cache_dir / BYTECODE_DIR
    return cache_dir / f"{BYTECODE_DIR}-{interpreter.cache_name}"


def bytecode_dirs(cache_dir: Path) -> list[Path]:
    """Every interpreter's bytecode directory in the cache."""
    return [bytecode_dir(cache_dir), *sorted(cache_dir.glob(f"{BYTECODE_DIR}-*"))]


def bytecode_env(
    cache_dir: Path, env: dict[str, str], interpreter: Interpreter | None = None
) -> dict[str, str]:
    """``env`` with bytecode read and written in our prefix; a sweep that sets either variable wins."""
    return {PYCACHE_ENV: str(bytecode_dir(cache_dir, interpreter)), NO_BYTECODE_ENV: "", **env}


def compile_tree(root: Path, prefix: Path, python: str = "") -> bool:
    """Byte-compile every module under ``root`` into ``prefix`` (as ``PYTHONPYCACHEPREFIX`` would place it),
    by ``python`` (default: this interpreter); a file that does not compile is left to fail at run time."""
    if python:
        done = subprocess.run(
            [python, "-m", "compileall", "-q", str(root)],
            env={**os.environ, PYCACHE_ENV: str(prefix)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            timeout=COUNT_TIMEOUT_S,
        )
        return done.returncode == 0
    previous = sys.pycache_prefix
    sys.pycache_prefix = str(prefix)
    try:
        return bool(compileall.compile_dir(str(root), quiet=2, workers=1))
    finally:
        sys.pycache_prefix = previous


def _build(spec: ProjectSpec, path: Path) -> dict:
    """Generate the project beside ``path``, then rename it into place (experiments/cache_entry.py)."""
    from generator.api import generate_project
    from generator.errors import GeneratorError
    from generator.options import GenOptions

    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_builds(path)
    scratch = scratch_beside(path)
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        try:
            manifest = generate_project(GenOptions(**spec.options_dict), scratch, build_db=True)
        except GeneratorError as exc:
            raise ExperimentError(f"cannot generate project {spec.label}: {exc}") from None

        def complete() -> bool:
            return _read_manifest(path, spec) is not None

        if not put_in_place(scratch, path, complete, f"project {spec.label}"):
            manifest = _read_manifest(path, spec)  # another builder was first
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return manifest


def _prepare_generated(
    spec: ProjectSpec, traffic: TrafficSpec, cache_dir: Path, runtime: Runtime | None
) -> PreparedProject:
    path = cache_path(spec, cache_dir)
    manifest = _read_manifest(path, spec) or _build(spec, path)
    python, interpreter = (runtime.python, runtime.interpreter) if runtime else ("", None)
    # after the rename: bytecode is keyed by the source's path
    compile_tree(path, bytecode_dir(cache_dir, interpreter), python)
    counts = manifest.get("counts", {})
    settings = manifest.get("settings_module", "config.settings")
    env = bytecode_env(cache_dir, {"DJANGO_SETTINGS_MODULE": settings, **spec.database.env()}, interpreter)
    wsgi = manifest.get("wsgi", "config.wsgi:application")
    count_existing(path, wsgi, env, python)  # imports it once, filling our bytecode prefix
    urls = traffic.urls or spec.urls or choose_urls(list(manifest.get("urls", [])), traffic.max_urls)
    return PreparedProject(
        spec=spec,
        root=path,
        wsgi=wsgi,
        env=env,
        urls=tuple(urls),
        models=counts.get("models"),
        apps=counts.get("apps"),
        url_patterns=counts.get("url_patterns"),
        python=python,
        interpreter=interpreter,
    )


def count_existing(root: Path, wsgi: str, env: dict[str, str], python: str = "") -> dict[str, int]:
    """Models, apps and URL patterns of a project, counted by the probe (generator/probe.py) in a child
    interpreter that imports ``wsgi`` and its URLconf as the server does; empty when that fails (the runs then
    fail with the reason). With ``env`` from ``bytecode_env`` the child also fills our bytecode prefix, so that
    no measured run pays for compiling.

    ``models`` and ``apps`` count what a generated project's manifest counts, so a real project and its twin
    line up: models outside django.contrib, and apps outside it that define one. ``all_models`` counts every model.
    ``wsgi`` is the settings' WSGI_APPLICATION as a server names it; on failure only ``error`` (why) is set.
    """
    from generator.errors import GeneratorError
    from generator.probe import ProbeTarget, count_structure

    try:
        structure = count_structure(
            ProbeTarget(root, tuple(env.items()), wsgi, python), timeout=COUNT_TIMEOUT_S
        )
    except (GeneratorError, OSError) as exc:
        return {"error": str(exc)}
    return {
        "models": structure.own_models,
        "all_models": structure.models,
        "apps": structure.own_apps,
        "url_patterns": structure.url_patterns,
        "wsgi": structure.wsgi,
    }


def _prepare_existing(
    spec: ProjectSpec, traffic: TrafficSpec, cache_dir: Path, runtime: Runtime | None
) -> PreparedProject:
    root = Path(spec.path)
    if runtime is not None:
        python, interpreter = runtime.python, runtime.interpreter
    else:  # its own interpreter, asked what it is for the rows; or ours
        python, interpreter = spec.python, ask(spec.python) if spec.python else None
    env = bytecode_env(cache_dir, dict(spec.env), interpreter if runtime else None)
    compile_tree(root, Path(env[PYCACHE_ENV]), python if runtime else "")
    # without a wsgi the probe loads Django's own WSGI handler, and reads the settings' WSGI_APPLICATION
    counts = count_existing(root, spec.wsgi, env, python)
    wsgi = spec.wsgi or counts.get("wsgi", "")
    if not wsgi:
        why = counts.get("error") or "its settings name no WSGI_APPLICATION"
        raise ExperimentError(f"project {spec.label}: no wsgi given, and {why}")
    return PreparedProject(
        spec=spec,
        root=root,
        wsgi=wsgi,
        env=env,
        urls=tuple(traffic.urls or spec.urls or ("/",)),
        models=counts.get("models"),
        apps=counts.get("apps"),
        url_patterns=counts.get("url_patterns"),
        python=python,
        interpreter=interpreter,
    )


def build_project_database(project: PreparedProject, env: dict[str, str]) -> None:
    """Build a generated project's database where ``env`` points (a sweep's template database)."""
    from generator.api import build_database
    from generator.errors import GeneratorError
    from generator.options import GenOptions

    try:
        build_database(project.root, GenOptions(**project.spec.options_dict), env)
    except GeneratorError as exc:
        raise ExperimentError(f"cannot build the database of {project.spec.label}: {exc}") from None


def prepare(
    spec: ProjectSpec, traffic: TrafficSpec, cache_dir: Path | None = None, runtime: Runtime | None = None
) -> PreparedProject:
    """Build (or reuse) and compile the project of ``spec``, for ``runtime`` when it runs on one of the python
    axis (experiments/runtimes.py); ExperimentError when it cannot be built."""
    cache_dir = cache_dir or default_cache_dir()
    if spec.kind == "generated":
        return _prepare_generated(spec, traffic, cache_dir, runtime)
    return _prepare_existing(spec, traffic, cache_dir, runtime)
