"""Measure an existing Django project's shape and weight: what `gen-project --like` copies.

The project is loaded in a child process with its own directory first on the path (never in this one: its settings
would take over ours). The child reports, as one JSON line, what the WSGI application costs to import (start-up) and
what loading the URLconf adds (the first request of a lazy worker): seconds, resident MB, modules, and source lines of
non-standard-library code, split into Django and everything else; plus the structure the generator can copy: models,
apps, fields and relations per model, URL patterns.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from generator.errors import GeneratorError
from generator.process import die_with_parent

INSPECT_TIMEOUT_S = 600
_SETTINGS_IN_MANAGE = re.compile(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']""")


@dataclass(frozen=True)
class Target:
    """Where and how to load a project: its directory (first on the path) and its settings module."""

    root: Path
    settings_module: str


@dataclass(frozen=True)
class Phase:
    seconds: float
    rss_mb: float
    modules: int
    django_lines: int
    other_lines: int  # neither standard library nor Django: the project and its libraries
    status: int = 0  # HTTP status of the first request


@dataclass(frozen=True)
class ProjectProfile:
    settings_module: str
    models: int  # outside django.contrib: what `--models` counts in a generated project
    apps: int  # apps outside django.contrib that define at least one model
    fields_per_model: float  # concrete fields other than relations and the primary key
    relations_per_model: float  # foreign keys, one-to-ones and many-to-manys
    url_patterns: int
    baseline_rss_mb: float  # the bare interpreter, before the project
    setup: Phase  # importing the WSGI application (django.setup(), app registry, admin autodiscovery)
    first_request: Phase  # then the first request: the URLconf (views, forms…), one view, its templates

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ProjectProfile:
        phases = {name: Phase(**data[name]) for name in ("setup", "first_request")}
        return cls(**{**data, **phases})


def resolve_target(module_or_path: str) -> Target:
    """A project directory (its manage.py names the settings), or a settings module importable from here.

    Raises GeneratorError naming --like when neither works.
    """
    path = Path(module_or_path).expanduser()
    if path.is_dir():
        manage = path / "manage.py"
        if not manage.is_file():
            raise GeneratorError(f"--like: {path} has no manage.py; give the settings module instead")
        found = _SETTINGS_IN_MANAGE.search(manage.read_text(errors="replace"))
        if not found:
            raise GeneratorError(f"--like: {manage} does not name DJANGO_SETTINGS_MODULE")
        return Target(root=path.resolve(), settings_module=found.group(1))
    if re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module_or_path):
        return Target(root=Path.cwd().resolve(), settings_module=module_or_path)
    raise GeneratorError(f"--like: {module_or_path!r} is neither a project directory nor a settings module")


# Runs in the child: standard library and Django only.
_INSPECT_SCRIPT = r"""
import json, os, sys, sysconfig, time

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576

STDLIB = tuple({sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]})

def lines_of(names):
    django = other = 0
    for name in names:
        path = getattr(sys.modules.get(name), "__file__", None) or ""
        if not path.endswith(".py") or (path.startswith(STDLIB) and "site-packages" not in path):
            continue
        try:
            with open(path, "rb") as f:
                count = f.read().count(b"\n")
        except OSError:
            continue
        if name == "django" or name.startswith("django."):
            django += count
        else:
            other += count
    return django, other

def phase(started, before):
    seconds = time.perf_counter() - started
    names = set(sys.modules) - before
    django, other = lines_of(names)
    return {"seconds": round(seconds, 4), "rss_mb": round(rss_mb(), 2), "modules": len(names),
            "django_lines": django, "other_lines": other}

baseline = rss_mb()
before = set(sys.modules)
started = time.perf_counter()
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
setup = phase(started, before)

before = set(sys.modules)
started = time.perf_counter()
import io
path, _, query = sys.argv[1].partition("?")
environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
           "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
           "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.version": (1, 0),
           "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
           "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False}
statuses = []
body = application(environ, lambda status, headers, exc_info=None: statuses.append(status) or (lambda data: None))
for _chunk in body:
    pass
getattr(body, "close", lambda: None)()
first_request = phase(started, before)
first_request["status"] = int(statuses[0].split()[0]) if statuses else 0

from django.urls import URLResolver, get_resolver

def count(resolver):
    return sum(count(p) if isinstance(p, URLResolver) else 1 for p in resolver.url_patterns)

url_patterns = count(get_resolver())
from django.apps import apps
own = [c for c in apps.get_app_configs() if not c.name.startswith("django.contrib.")]
model_list = [model for c in own for model in c.get_models()]
fields = relations = 0
for model in model_list:
    for f in model._meta.get_fields(include_hidden=False):
        if getattr(f, "auto_created", False) and not f.concrete:
            continue
        if f.is_relation and (f.many_to_many or f.many_to_one or f.one_to_one) and not f.auto_created:
            relations += 1
        elif getattr(f, "concrete", False) and not f.is_relation and not getattr(f, "primary_key", False):
            fields += 1
n = max(1, len(model_list))
print(json.dumps({
    "settings_module": os.environ["DJANGO_SETTINGS_MODULE"],
    "models": len(model_list),
    "apps": sum(1 for c in own if any(True for _ in c.get_models())),
    "fields_per_model": round(fields / n, 2),
    "relations_per_model": round(relations / n, 2),
    "url_patterns": url_patterns,
    "baseline_rss_mb": round(baseline, 2),
    "setup": setup,
    "first_request": first_request,
}))
"""


def inspect_project(target: Target, url: str = "/", env: dict[str, str] | None = None) -> ProjectProfile:
    """Load ``target`` in a child process and profile it; GeneratorError (naming --like) when it does not load."""
    child_env = {**os.environ, **(env or {}), "DJANGO_SETTINGS_MODULE": target.settings_module}
    child_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(target.root), os.environ.get("PYTHONPATH", "")])
    )
    child_env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        done = subprocess.run(
            [sys.executable, "-c", _INSPECT_SCRIPT, url],
            cwd=target.root,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=INSPECT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent(),
        )
    except subprocess.TimeoutExpired:
        raise GeneratorError(
            f"--like: loading {target.settings_module} took over {INSPECT_TIMEOUT_S} s"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise GeneratorError(f"--like: cannot load {target.settings_module} from {target.root}: {last}")
    try:
        return ProjectProfile.from_dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError, TypeError, KeyError):
        raise GeneratorError(f"--like: unexpected output while inspecting {target.settings_module}") from None
