"""Resolve the project a run measures: generated ones built once per option set, or existing ones.

Either way the project's bytecode is compiled before any measurement, so no run pays for compilation.
The build cache may sit on a file system shared by cluster nodes (NFS, Lustre), where ``flock`` cannot be
trusted: a project is built in a private directory and renamed into place, which is atomic everywhere.
"""

from __future__ import annotations

import compileall
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from experiments.errors import ExperimentError
from experiments.sweep import ProjectSpec, TrafficSpec, _short_hash

CACHE_ENV = "PREFORK_LAB_CACHE"
COUNT_TIMEOUT_S = 300


@dataclass(frozen=True)
class PreparedProject:
    spec: ProjectSpec
    root: Path  # put first on uWSGI's python path; uWSGI's working directory
    wsgi: str  # "module:callable"
    env: dict[str, str]
    urls: tuple[str, ...]  # warm-up and traffic URLs
    models: int | None = None
    apps: int | None = None
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


def choose_urls(manifest_urls: list[str], max_urls: int) -> tuple[str, ...]:
    """First URL of each app (first path segment) in manifest order, up to ``max_urls``; "/" first."""
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


def compile_tree(root: Path) -> bool:
    """Byte-compile every module under ``root``; a file that does not compile is left to fail at run time."""
    return bool(compileall.compile_dir(str(root), quiet=2, workers=1))


def _build(spec: ProjectSpec, path: Path) -> dict:
    """Generate and compile the project beside ``path``, then rename it into place. Two builders race
    harmlessly: the first rename wins and the other one's copy is removed."""
    from generator.api import generate_project
    from generator.errors import GeneratorError
    from generator.options import GenOptions

    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{socket.gethostname()}-{os.getpid()}.building")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        try:
            manifest = generate_project(GenOptions(**spec.options_dict), scratch, build_db=True, force=True)
        except GeneratorError as exc:
            raise ExperimentError(f"cannot generate project {spec.label}: {exc}") from None
        compile_tree(scratch)
        if path.exists() and _read_manifest(path, spec) is None:  # an earlier build that did not finish
            _remove_aside(path)
        try:
            os.rename(scratch, path)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            manifest = _read_manifest(path, spec)  # another builder was first
            if manifest is None:
                raise ExperimentError(f"cannot build project {spec.label}: {path} is in the way") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return manifest


def _remove_aside(path: Path) -> None:
    """Rename ``path`` out of the way first (atomic), then delete it at leisure."""
    aside = path.with_name(f".{path.name}.{socket.gethostname()}-{os.getpid()}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _prepare_generated(spec: ProjectSpec, traffic: TrafficSpec, cache_dir: Path) -> PreparedProject:
    path = cache_path(spec, cache_dir)
    manifest = _read_manifest(path, spec)
    if manifest is None:
        manifest = _build(spec, path)
    else:
        compile_tree(path)  # a no-op when up to date; bytecode is written atomically
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


_COUNT_SCRIPT = r"""
import importlib, json, sys
module, _, attr = sys.argv[1].partition(":")
getattr(importlib.import_module(module), attr or "application")
from django.apps import apps
from django.urls import URLResolver, get_resolver

def count(resolver):
    return sum(count(p) if isinstance(p, URLResolver) else 1 for p in resolver.url_patterns)

print(json.dumps({"models": len(apps.get_models()), "apps": len(apps.get_app_configs()),
                  "url_patterns": count(get_resolver())}))
"""


def count_existing(root: Path, wsgi: str, env: dict[str, str], python: str = "") -> dict[str, int]:
    """Models, apps and URL patterns of a project, counted in a subprocess; empty when that fails."""
    child_env = {**os.environ, **env}
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))
    try:
        done = subprocess.run(
            [python or sys.executable, "-c", _COUNT_SCRIPT, wsgi],
            cwd=root,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=COUNT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if done.returncode != 0:
        return {}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}


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
