"""Runtime environments: for each interpreter of a sweep's ``python`` axis, a virtualenv under the cache that
holds what the servers and the projects need there — Django, uWSGI compiled for that interpreter, gunicorn,
psycopg (granian too when the sweep runs it) at this package's own pins; for a generated project, what it
imports beyond Django (generator/imports.py) at the versions this lab runs; for an existing project, its own
requirements where its block names them. It is made by the interpreter itself (``python -m venv``, then that venv's
``python -m pip install``), once, and reused by every sweep that needs the same one.

``<cache>/runtimes/cpython-3.12.1-<hash>/``: the hash covers the interpreter's exact build and place, the pins
and the requirements file's content, so that a change of any of them builds another. Built out of sight and
renamed into place (experiments/cache_entry.py), its ``runtime.json`` written last: two runners that build the
same runtime at once leave one complete copy, and a build that fails leaves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from experiments.cache_entry import put_in_place, remove_dead_builds, scratch_beside
from experiments.environment import now_iso
from experiments.errors import ExperimentError
from experiments.hashing import short_hash
from experiments.interpreters import Interpreter
from experiments.measure.processes import child_setup
from experiments.sweep import ProjectSpec
from generator.imports import IMPORT_CATALOGUE

RUNTIMES_DIR = "runtimes"
MANIFEST = "runtime.json"
DISTRIBUTION = "django-prefork-lab"
BASE_PACKAGES = ("django", "uwsgi", "gunicorn", "psycopg")
OPTIONAL_SERVERS = ("granian",)  # installed only in the runtimes of a sweep that runs it
VENV_TIMEOUT_S = 300
INSTALL_TIMEOUT_S = 3600  # uWSGI compiles: minutes on two busy cores


@dataclass(frozen=True)
class RuntimeSpec:
    """What one runtime holds: the interpreter, our pins, and an existing project's requirements file."""

    interpreter: Interpreter
    pins: tuple[str, ...]
    requirements: str = ""  # absolute path of a requirements file, installed with the pins
    requirements_sha: str = ""

    def key(self) -> str:
        return short_hash([self.interpreter.cache_name, list(self.pins), self.requirements_sha], 10)

    @property
    def name(self) -> str:
        return f"{self.interpreter.build_label}-{self.key()}"


@dataclass(frozen=True)
class Runtime:
    root: Path
    interpreter: Interpreter
    packages: tuple[tuple[str, str], ...] = ()  # installed distribution -> version, of the pinned ones

    @property
    def python(self) -> str:
        """The venv's interpreter: the servers are found beside it, uWSGI's --home is its prefix."""
        return str(self.root / "bin" / "python")


def pins(backends: Iterable[str]) -> tuple[str, ...]:
    """Our own requirement of each package a runtime installs, as this package's metadata (pyproject.toml)
    gives it, e.g. ``Django<5.3,>=5.2``."""
    wanted = set(BASE_PACKAGES) | {name for name in OPTIONAL_SERVERS if name in set(backends)}
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        raise ExperimentError(f"{DISTRIBUTION} is not installed: its pins are unknown") from None
    found = {}
    for requirement in requirements:
        text = requirement.split(";", 1)[0].strip()
        name = text.split("[", 1)[0]
        for sign in "<>=!~ ":
            name = name.split(sign, 1)[0]
        if name.lower() in wanted:
            found[name.lower()] = text
    return tuple(found[name] for name in sorted(found))


def generated_project_pins() -> tuple[str, ...]:
    """What a generated project imports beyond Django and the standard library (the generator's import
    catalogue), pinned to the versions this lab runs on: the same library code on every interpreter."""
    by_module = metadata.packages_distributions()
    wanted = set()
    for module in IMPORT_CATALOGUE:
        top = module.split(".", 1)[0]
        if top not in sys.stdlib_module_names:
            wanted.update(name for name in by_module.get(top, ()) if name.lower() not in BASE_PACKAGES)
    return tuple(f"{name}=={metadata.version(name)}" for name in sorted(wanted, key=str.lower))


def runtime_spec(project: ProjectSpec, backends: Iterable[str]) -> RuntimeSpec:
    if project.interpreter is None:
        raise ValueError(f"{project.label} runs on this runner's own interpreter")
    wanted = pins(backends) + (generated_project_pins() if project.kind == "generated" else ())
    return RuntimeSpec(project.interpreter, wanted, project.requirements, project.requirements_sha)


def runtime_path(spec: RuntimeSpec, cache_dir: Path) -> Path:
    return cache_dir / RUNTIMES_DIR / spec.name


def found(spec: RuntimeSpec, cache_dir: Path) -> Runtime | None:
    """The runtime of ``spec`` if it was built completely (its manifest, for this very spec, written last)."""
    path = runtime_path(spec, cache_dir)
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("key") != spec.key():
        return None
    if not (path / "bin" / "python").exists():
        return None
    packages = tuple(sorted((manifest.get("packages") or {}).items()))
    return Runtime(root=path, interpreter=spec.interpreter, packages=packages)


def ensure(spec: RuntimeSpec, cache_dir: Path) -> Runtime:
    """The runtime of ``spec``, built first when the cache has none; ExperimentError (one line) when it
    cannot be built, leaving nothing behind."""
    runtime = found(spec, cache_dir)
    if runtime is not None:
        return runtime
    path = runtime_path(spec, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_builds(path)
    scratch = scratch_beside(path)
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        _build(spec, scratch, path)
        put_in_place(scratch, path, lambda: found(spec, cache_dir) is not None, f"the runtime {spec.name}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return found(spec, cache_dir)


def _build(spec: RuntimeSpec, scratch: Path, path: Path) -> None:
    """A venv of the interpreter in ``scratch`` with the pins installed, made to live at ``path``."""
    interpreter = spec.interpreter
    what = f"python {interpreter.label} ({interpreter.executable}): cannot build its runtime environment"
    _step(
        [interpreter.executable, "-m", "venv", str(scratch)], scratch.parent, VENV_TIMEOUT_S, f"{what}, venv"
    )
    python = scratch / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--no-compile", "--no-input", "--disable-pip-version-check"]
    pip += ["--progress-bar", "off"]
    uwsgi = [pin for pin in spec.pins if pin.lower().startswith("uwsgi")]
    where = scratch.parent
    install = [*pip, *(pin for pin in spec.pins if pin not in uwsgi)]
    if spec.requirements:  # its lines' own relative paths (-r, -e ./pkg) are relative to the file
        install += ["-r", spec.requirements]
        where = Path(spec.requirements).parent
    _step(install, where, INSTALL_TIMEOUT_S, f"{what}, pip install")
    # uWSGI embeds the interpreter: a wheel of it that pip cached for another build of the same version links
    # that build's libpython, so it is compiled here for this one (at the project's version if it named one)
    installed = _versions(python).get("uwsgi")
    target = [f"uWSGI=={installed}"] if installed else uwsgi
    compile_uwsgi = [*pip, "--no-cache-dir", "--force-reinstall", "--no-deps", *target]
    _step(compile_uwsgi, where, INSTALL_TIMEOUT_S, f"{what}, compiling uWSGI")
    _relocate(scratch, path)
    manifest = {
        "key": spec.key(),
        "name": spec.name,
        "interpreter": interpreter.describe(),
        "pins": list(spec.pins),
        "requirements": spec.requirements,
        "requirements_sha256": spec.requirements_sha,
        "packages": _versions(python),
        "built_at": now_iso(),
    }
    (scratch / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _environment() -> dict[str, str]:
    """The runner's environment without what would point the interpreter at another one's modules."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTHON") and key not in ("VIRTUAL_ENV", "__PYVENV_LAUNCHER__")
    }


def _step(argv: list[str], cwd: Path, timeout: float, failure: str) -> None:
    """Run one step of a build; ExperimentError ``failure: <its last error line>`` when it fails."""
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            preexec_fn=child_setup,  # a pip left behind by a killed runner would go on writing
        )
    except subprocess.TimeoutExpired:
        raise ExperimentError(f"{failure}: still running after {timeout:.0f} s") from None
    except OSError as exc:
        raise ExperimentError(f"{failure}: {exc}") from None
    if done.returncode != 0:
        raise ExperimentError(f"{failure}: {last_error(done.stdout + done.stderr, done.returncode)}")


def last_error(output: str, status: int) -> str:
    """The line of a tool's output that says what went wrong: pip's last ``ERROR:`` line, else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    return (errors or lines or [f"status {status}"])[-1]


def _relocate(scratch: Path, path: Path) -> None:
    """Point what the venv wrote of its own place (console scripts' #! lines, pyvenv.cfg) at ``path``, where
    it is renamed to; binaries (uWSGI) hold no such path."""
    old, new = str(scratch).encode(), str(path).encode()
    files = [entry for entry in (scratch / "bin").iterdir() if entry.is_file() and not entry.is_symlink()]
    for entry in [*files, scratch / "pyvenv.cfg"]:
        data = entry.read_bytes()
        if b"\0" not in data and old in data:
            entry.write_bytes(data.replace(old, new))


def _versions(python: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json; names = "
        + repr([*BASE_PACKAGES, *OPTIONAL_SERVERS])
        + "\nfound = {}\nfor n in names:\n    try: found[n] = m.version(n)\n    except m.PackageNotFoundError: pass\n"
        + "print(json.dumps(found))"
    )
    done = subprocess.run(
        [str(python), "-I", "-c", code],
        capture_output=True,
        text=True,
        timeout=VENV_TIMEOUT_S,
        env=_environment(),
    )
    try:
        return json.loads(done.stdout)
    except ValueError:
        return {}


class Runtimes:
    """The runtime of every interpreter a sweep's projects run on, each built (or found) once, before any run."""

    def __init__(
        self, cache_dir: Path, backends: Iterable[str], say: Callable[[str], None] = lambda _l: None
    ):
        self.cache_dir = cache_dir
        self.backends = tuple(sorted(set(backends)))
        self.say = say
        self.built: dict[RuntimeSpec, Runtime] = {}

    def prepare(self, projects: Iterable[ProjectSpec]) -> None:
        """Build the runtimes ``projects`` need; ExperimentError when one cannot be (the sweep stops)."""
        for project in projects:
            if project.interpreter is not None:
                self.of(project)

    def of(self, project: ProjectSpec) -> Runtime | None:
        """The runtime ``project`` runs on; None for this runner's own interpreter."""
        if project.interpreter is None:
            return None
        spec = runtime_spec(project, self.backends)
        if spec not in self.built:
            cached = found(spec, self.cache_dir)
            if cached is None:
                self.say(
                    f"building the runtime of Python {spec.interpreter.label} ({spec.interpreter.executable}): "
                    f"{', '.join(spec.pins)}{' and ' + spec.requirements if spec.requirements else ''}"
                )
            self.built[spec] = cached or ensure(spec, self.cache_dir)
            self.say(f"runtime {spec.name}" + (" (cached)" if cached else " built"))
        return self.built[spec]

    def describe(self) -> dict:
        """The sidecar's ``pythons``: each runtime's interpreter and what was installed in it."""
        return {
            runtime.root.name: {**runtime.interpreter.describe(), "packages": dict(runtime.packages)}
            for runtime in self.built.values()
        }
