"""Resolve the project a run measures: generated ones built once per option set, or existing ones.

Either way the project's bytecode is compiled before any measurement, so no run pays for compilation.
"""

from __future__ import annotations

import compileall
import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from experiments.errors import ExperimentError
from experiments.sweep import ProjectSpec, TrafficSpec, _short_hash
from generator.api import choose_urls

__all__ = ["PreparedProject", "choose_urls", "count_existing"]

CACHE_ENV = "PREFORK_LAB_CACHE"
COUNT_TIMEOUT_S = 300


@dataclass(frozen=True)
class PreparedProject:
    spec: ProjectSpec
    root: Path  # put first on uWSGI's python path; uWSGI's working directory
    wsgi: str  # "module:callable"
    env: dict[str, str]
    urls: tuple[str, ...]  # warm-up and traffic URLs
    models: int | None = (
        None  # outside django.contrib, as gen-project's --models counts them (the CSV's models)
    )
    apps: int | None = None  # outside django.contrib, defining at least one model (the CSV's apps)
    url_patterns: int | None = None
    python: str = ""  # the interpreter whose servers run it; empty: ours


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
    name = f"{options['profile']}-m{options['models']}-s{options['seed']}-{_short_hash(options, 8)}"
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
    if manifest.get("options") != spec.options_dict:
        return None
    database = manifest.get("database")
    if database and not (path / database).is_file():
        return None
    return manifest


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def compile_tree(root: Path) -> bool:
    """Byte-compile every module under ``root``; a file that does not compile is left to fail at run time."""
    return bool(compileall.compile_dir(str(root), quiet=2, workers=1))


def _prepare_generated(spec: ProjectSpec, traffic: TrafficSpec, cache_dir: Path) -> PreparedProject:
    from generator.api import generate_project
    from generator.errors import GeneratorError
    from generator.options import GenOptions

    path = cache_path(spec, cache_dir)
    with _locked(cache_dir / f".{path.name}.lock"):
        manifest = _read_manifest(path, spec)
        if manifest is None:
            try:
                manifest = generate_project(GenOptions(**spec.options_dict), path, build_db=True, force=True)
            except GeneratorError as exc:
                raise ExperimentError(f"cannot generate project {spec.label}: {exc}") from None
        compile_tree(path)
    counts = manifest.get("counts", {})
    module = manifest.get("settings_module", "config.settings")
    urls = traffic.urls or spec.urls or choose_urls(list(manifest.get("urls", [])), traffic.max_urls)
    return PreparedProject(
        spec=spec,
        root=path,
        wsgi=manifest.get("wsgi", "config.wsgi:application"),
        env={"DJANGO_SETTINGS_MODULE": module},
        urls=tuple(urls),
        models=counts.get("models"),
        apps=counts.get("apps"),
        url_patterns=counts.get("url_patterns"),
    )


def count_existing(root: Path, wsgi: str, env: dict[str, str], python: str = "") -> dict[str, int]:
    """Models, apps and URL patterns of a project, counted by the probe (generator/probe.py) in a child
    interpreter that imports ``wsgi`` as the server does; empty when that fails.

    ``models`` and ``apps`` count what a generated project's manifest counts, so a real project and its twin
    line up: models outside django.contrib, and apps outside it that define one. ``all_models`` counts every model.
    """
    from generator.errors import GeneratorError
    from generator.probe import ProbeTarget, count_structure

    try:
        structure = count_structure(
            ProbeTarget(root, tuple(env.items()), wsgi, python), timeout=COUNT_TIMEOUT_S
        )
    except (GeneratorError, OSError):
        return {}
    return {
        "models": structure.own_models,
        "all_models": structure.models,
        "apps": structure.own_apps,
        "url_patterns": structure.url_patterns,
    }


def _prepare_existing(spec: ProjectSpec, traffic: TrafficSpec) -> PreparedProject:
    root = Path(spec.path)
    env = dict(spec.env)
    compile_tree(root)
    counts = count_existing(root, spec.wsgi, env, spec.python)
    return PreparedProject(
        spec=spec,
        root=root,
        wsgi=spec.wsgi,
        env=env,
        urls=tuple(traffic.urls or spec.urls or ("/",)),
        models=counts.get("models"),
        apps=counts.get("apps"),
        url_patterns=counts.get("url_patterns"),
        python=spec.python,
    )


def prepare(spec: ProjectSpec, traffic: TrafficSpec, cache_dir: Path | None = None) -> PreparedProject:
    """Build (or reuse) and compile the project of ``spec``; ExperimentError when it cannot be built."""
    if spec.kind == "generated":
        return _prepare_generated(spec, traffic, cache_dir or default_cache_dir())
    return _prepare_existing(spec, traffic)
