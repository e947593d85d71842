"""The Python interpreters a sweep runs its servers on: found on this machine (a version in pyenv or on PATH, a
command, a path) and asked once what they are.

What an interpreter is, for a row and a run id, is its implementation, its version and whether its build has
the GIL: ``cpython-3.12.1``, ``cpython-3.13.0t`` (free-threaded). What it is for the cache is that and its exact
build (``sys.version``: date, compiler) and where it lives.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from experiments.errors import ExperimentError
from experiments.hashing import short_hash

MINIMUM = (3, 10)  # the oldest Python Django 5.2 supports
ASK_TIMEOUT_S = 60
VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?(t?)")

# Run in the interpreter itself (-I: none of the runner's PYTHON* variables, no user site); every Python 3 runs it.
_ASK = (
    "import json, platform, sys, sysconfig; print(json.dumps({"
    "'version': platform.python_version(), 'implementation': sys.implementation.name, "
    "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')), 'build': sys.version, "
    "'executable': sys.executable}))"
)


class InterpreterError(ExperimentError):
    """No such interpreter here, or one that does not run; the sweep names the key."""


@dataclass(frozen=True)
class Interpreter:
    executable: str  # as found, not resolved: a virtualenv's python is a symlink out of it
    version: str  # platform.python_version(): "3.12.1"
    implementation: str = "cpython"  # sys.implementation.name
    free_threaded: bool = False  # built without the GIL (Py_GIL_DISABLED)
    build: str = ""  # sys.version: the version, the build's date and compiler

    @property
    def label(self) -> str:
        """The CSV's ``python``: the version, with Python's own ``t`` for a free-threaded build."""
        return self.version + ("t" if self.free_threaded else "")

    @property
    def build_label(self) -> str:
        """The CSV's ``python_build`` and what a run id holds: ``cpython-3.12.1``, ``cpython-3.13.0t``."""
        return f"{self.implementation}-{self.label}"

    @property
    def cache_name(self) -> str:
        """A directory name for what is built for this very interpreter: its build label and a hash of its
        exact build and place, e.g. ``cpython-3.12.1-3f9a0c1d``."""
        real = os.path.realpath(self.executable)
        return f"{self.build_label}-{short_hash([real, self.build], 8)}"

    def describe(self) -> dict:
        """What the sidecar records of it."""
        return {
            "version": self.version,
            "implementation": self.implementation,
            "free_threaded": self.free_threaded,
            "build": self.build,
            "executable": self.executable,
        }


@functools.cache
def current() -> Interpreter:
    """The interpreter this runner runs on: the servers' when no other is named."""
    return Interpreter(
        executable=sys.executable,
        version=platform.python_version(),
        implementation=sys.implementation.name,
        free_threaded=bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        build=sys.version,
    )


def ask(executable: str) -> Interpreter:
    """What the interpreter at ``executable`` is; InterpreterError when it does not run or answers nonsense."""
    try:
        done = subprocess.run(
            [executable, "-I", "-c", _ASK],
            capture_output=True,
            text=True,
            timeout=ASK_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InterpreterError(f"{executable} does not run: {exc}") from None
    lines = done.stdout.strip().splitlines()
    try:
        facts = json.loads(lines[-1]) if done.returncode == 0 and lines else None
        found = Interpreter(
            executable=executable,
            version=str(facts["version"]),
            implementation=str(facts["implementation"]),
            free_threaded=bool(facts["free_threaded"]),
            build=str(facts["build"]),
        )
    except (ValueError, TypeError, KeyError, IndexError):
        why = (done.stderr.strip().splitlines() or [f"status {done.returncode}"])[-1]
        raise InterpreterError(f"{executable} is not a Python 3 interpreter that runs ({why})") from None
    if _numbers(found.version)[:2] < MINIMUM:
        raise InterpreterError(
            f"{executable} is Python {found.version}; Django 5.2 needs {_oldest()} or newer"
        )
    return found


def find(text: str, base_dir: Path) -> Interpreter:
    """The interpreter ``text`` names: a version (``3.12``, ``3.12.1``, ``3.13t``: the newest match in pyenv,
    else on PATH), a path (relative to ``base_dir``), or a command on PATH (``python3.12``, ``pypy3``)."""
    text = text.strip()
    wanted = VERSION.fullmatch(text)
    if wanted:
        return _by_version(text, wanted)
    if "/" in text or text.startswith(("~", ".")):
        path = Path(text).expanduser()
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file() or not os.access(path, os.X_OK):
            raise InterpreterError(f"no executable interpreter at {os.path.normpath(path)}")
        return ask(os.path.normpath(path))
    found = _on_path(text)
    if not found:
        raise InterpreterError(f"{text!r} is neither a version (3.12) nor a path, and no {text} is on PATH")
    return ask(found)


def _by_version(text: str, wanted: re.Match) -> Interpreter:
    major, minor, micro, threaded = wanted.groups()
    if (int(major), int(minor)) < MINIMUM:
        raise InterpreterError(f"Python {text} is older than Django 5.2 supports ({_oldest()} or newer)")
    command = f"python{major}.{minor}{threaded}"
    tried: list[str] = []
    for candidate in [*_in_pyenv(major, minor, micro, threaded), _on_path(command)]:
        if not candidate:
            continue
        try:
            found = ask(candidate)
        except InterpreterError as exc:
            tried.append(str(exc))
            continue
        if _matches(found, wanted):
            return found
        tried.append(f"{candidate} is {found.label}")
    pattern = f"{major}.{minor}.{micro or '*'}{threaded}"
    where = f"none in pyenv ({_pyenv_versions()}/{pattern}) nor {command} on PATH"
    raise InterpreterError(f"no Python {text} here: {where}" + (f" ({'; '.join(tried)})" if tried else ""))


def _matches(found: Interpreter, wanted: re.Match) -> bool:
    """``3.12`` matches any 3.12 with the GIL, ``3.12.1`` that release only, ``3.13t`` a free-threaded 3.13."""
    major, minor, micro, threaded = wanted.groups()
    numbers = _numbers(found.version)
    release = (
        numbers == (int(major), int(minor), int(micro)) if micro else numbers[:2] == (int(major), int(minor))
    )
    return release and found.free_threaded == bool(threaded)


def _pyenv_versions() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or "~/.pyenv").expanduser() / "versions"


def _in_pyenv(major: str, minor: str, micro: str | None, threaded: str) -> list[str]:
    """pyenv's installs of that version, the newest first: ``<root>/versions/3.12.4/bin/python3.12``."""
    root = _pyenv_versions()
    if not root.is_dir():
        return []
    micros = micro or r"\d+"
    name = re.compile(rf"{major}\.{minor}\.({micros}){threaded}")
    found = [(int(m.group(1)), entry) for entry in root.iterdir() if (m := name.fullmatch(entry.name))]
    programs = [
        entry / "bin" / f"python{major}.{minor}{threaded}" for _, entry in sorted(found, reverse=True)
    ]
    return [str(p) for p in programs if p.is_file() and os.access(p, os.X_OK)]


def _on_path(command: str) -> str | None:
    """``command`` on PATH, pyenv's shims left out: a shim runs whichever version pyenv has selected, or fails."""
    shims = str(_pyenv_versions().parent / "shims")
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if d and d != shims)
    return shutil.which(command, path=path)


def _oldest() -> str:
    return ".".join(map(str, MINIMUM))


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])
