"""The server interface: what the generic executor needs to know about a pre-fork server, and nothing more.

A server finds its program (next to the interpreter first, then on PATH), reports its version, lists the files
it needs in a run directory (the wrapper's adapter), builds its command line for one run, and says how its log
shows noise and bind errors. Readiness is the same for every server: the wrapper's datagrams, sent from the
hooks the adapter registers. Starting, measuring and stopping are the executor's (experiments/measure/).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from experiments.errors import ExperimentError
from experiments.plan import RunSpec

WRAPPER_MODULE = "prefork_lab_wrapper"
VERSION_TIMEOUT_S = 30


@dataclass(frozen=True)
class Launch:
    """Where one run happens: everything a command line needs besides the RunSpec."""

    run_dir: Path  # holds the wrapper and the adapter; first on the python path
    project_root: Path  # second on the python path; the server's working directory
    port: int  # on 127.0.0.1


class Server(ABC):
    name: str = ""
    program: str = ""  # the executable's name
    install_hint: str = ""
    minimum_version: tuple[int, ...] = ()
    # log lines that say nothing about a failure, even where they look as if they did (a failed run's error
    # keeps only the lines about the failure: experiments/measure/server_log.py)
    log_noise: tuple[str, ...] = ()
    bind_errors: tuple[str, ...] = ("Address already in use",)
    # Every worker accepts from the master's one listening socket, so a worker kept busy leaves the next
    # connection to another; False where each worker listens on a socket of its own and the kernel picks one.
    shared_listener: bool = True

    def __init__(self, executable: str | None = None, python: str | None = None):
        """``python``: the interpreter (virtualenv) that runs the measured project; default this one."""
        self.python = python or sys.executable
        self.executable = executable or self.find()
        self._version: str | None = None
        self._prefix: str | None = None

    def find(self) -> str:
        """The program next to the project's interpreter (its virtualenv); for our own interpreter, else on PATH.

        ExperimentError naming the fix when there is none.
        """
        candidate = Path(self.python).parent / self.program
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        if self.python != sys.executable:
            raise ExperimentError(
                f"{self.program} not found next to {self.python}; install it there: "
                f"{self.python} -m {self.install_hint}"
            )
        found = shutil.which(self.program)
        if not found:
            raise ExperimentError(
                f"{self.program} not found next to the Python interpreter nor on PATH; {self.install_hint}"
            )
        return found

    @property
    def prefix(self) -> str:
        """sys.prefix of the project's interpreter (its virtualenv), e.g. for uWSGI's --home."""
        if self._prefix is None:
            if self.python == sys.executable:
                self._prefix = sys.prefix
            else:
                self._prefix = _ask(self.python, "import sys; print(sys.prefix)")
        return self._prefix

    @property
    def version(self) -> str:
        """The version number, e.g. "2.0.31"; ExperimentError when the program does not answer or is too old."""
        if self._version is None:
            self._version = self._read_version()
            if self.minimum_version and version_tuple(self._version) < self.minimum_version:
                wanted = ".".join(map(str, self.minimum_version))
                raise ExperimentError(
                    f"{self.name} {self._version} at {self.executable} is too old: need {wanted} or newer; "
                    f"{self.install_hint}"
                )
        return self._version

    def _read_version(self) -> str:
        done = _run([self.executable, "--version"], f"{self.executable} --version failed")
        found = re.search(r"\d+(\.\d+)+", done.stdout + done.stderr)
        if done.returncode != 0 or not found:
            raise ExperimentError(f"{self.executable} --version gave no version (status {done.returncode})")
        return found.group(0)

    @abstractmethod
    def run_files(self) -> dict[str, Path]:
        """Files copied into each run directory: name there -> source (the wrapper is added by the executor)."""

    @abstractmethod
    def command(self, run: RunSpec, launch: Launch) -> list[str]:
        """The command line of one run."""

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """The server's environment from ``base``: drop what would configure the server behind our back."""
        return dict(base)

    def is_noise(self, line: str) -> bool:
        return line.startswith(self.log_noise)


def _run(argv: list[str], failure: str) -> subprocess.CompletedProcess:
    """A short query of a program (its version, its prefix); ExperimentError ``failure: why`` when it cannot run."""
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=VERSION_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExperimentError(f"{failure}: {exc}") from None


def _ask(python: str, code: str) -> str:
    done = _run([python, "-c", code], f"{python} does not run")
    if done.returncode != 0:
        raise ExperimentError(f"{python} does not run: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return done.stdout.strip()


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])
