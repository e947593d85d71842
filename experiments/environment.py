"""The JSON sidecar next to the results CSV: the environment the runs were measured in.

Its name is the CSV's full name plus ``.env.json`` (``results/x.csv`` → ``results/x.csv.env.json``). Appending
keeps the mapping one-to-one and never a fixed point: the sidecar can never be the output itself (``--output
r.json`` once lost its rows to the sidecar), two outputs never share one (``r.csv`` and ``r.tsv`` would under a
replaced suffix), and it sorts right after its CSV. A file at that name that is not a sidecar of ours is refused.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

SIDECAR_SUFFIX = ".env.json"
TOOL = "run-experiments"
# Every run before the interpreter became a sweep axis (and recorded in each row) ran on Python 3.11.
LEGACY_PYTHON = "3.11"


def sidecar_path(csv_path: Path) -> Path:
    csv_path = Path(csv_path)
    return csv_path.with_name(csv_path.name + SIDECAR_SUFFIX)


def legacy_sidecar_path(csv_path: Path) -> Path:
    """Where sidecars went before they had a name of their own: the CSV's name with ``.json`` as suffix."""
    return Path(csv_path).with_suffix(".json")


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _generator_version() -> str | None:
    """The generator that writes generated projects (a sweep's projects are built with this one)."""
    try:
        from generator import __version__
    except ImportError:  # pragma: no cover - the generator ships with this package
        return None
    return __version__


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def _git_commit() -> str | None:
    repo = Path(__file__).resolve().parent.parent
    if not (repo / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def collect(server_versions: dict[str, str] | None = None) -> dict:
    """The machine and software of a sweep; ``server_versions``: server name -> version of each server used."""
    import experiments

    try:
        cores_available = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores_available = os.cpu_count()
    from experiments.interpreters import current

    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_build": current().build_label,
        "python_executable": sys.executable,
        "django": _version("Django"),
        "servers": dict(server_versions or {}),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": cores_available,
        "kernel": platform.release(),
        "os": platform.platform(),
        "host": socket.gethostname(),
        "tool": TOOL,
        "tool_version": experiments.__version__,
        "generator_version": _generator_version(),
        "git_commit": _git_commit(),
    }


def legacy_python(sidecar: dict) -> dict[str, str]:
    """The ``python`` and ``python_build`` of rows written before the CSV had them: the runner's interpreter,
    which the sidecar records (the rows were measured on it), else ``LEGACY_PYTHON``."""
    version = sidecar.get("python")
    if not isinstance(version, str) or not version:
        return {"python": LEGACY_PYTHON}
    implementation = str(sidecar.get("python_implementation") or "cpython").lower()
    return {"python": version, "python_build": sidecar.get("python_build") or f"{implementation}-{version}"}


def _ours(path: Path) -> dict | None:
    """The sidecar at ``path`` if it is a regular file holding one of ours, else None."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == TOOL else None


def check_sidecar(csv_path: Path, label: str = "output") -> None:
    """Refuse (ExperimentError) a file at the sidecar's name that is not a sidecar of ours; changes nothing."""
    from experiments.errors import ExperimentError
    from experiments.export_csv import check_target

    path = sidecar_path(csv_path)
    if check_target(path, label, "an environment sidecar") is not None and _ours(path) is None:
        raise ExperimentError(
            f"{label}: {path} exists and is not an environment sidecar of run-experiments; "
            "move it away or choose another output"
        )


def remove_sidecar(csv_path: Path) -> None:
    """Delete the sidecar; only after ``check_sidecar`` showed it to be ours."""
    sidecar_path(csv_path).unlink(missing_ok=True)


def write_sidecar(csv_path: Path, data: dict) -> None:
    from experiments.errors import ExperimentError
    from experiments.export_csv import write_atomically

    path = sidecar_path(csv_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda handle: handle.write(json.dumps(data, indent=2, sort_keys=True) + "\n"))
    except OSError as exc:
        raise ExperimentError(f"output: cannot write {path}: {exc.strerror}") from None


def write_json(path: Path, data: dict) -> None:
    """A JSON file of ours at exactly ``path`` (a launcher's job record or a node's environment), atomically."""
    from experiments.export_csv import write_atomically

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(
        Path(path), lambda handle: handle.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    )


def read_json(path: Path) -> dict:
    """What ``write_json`` wrote; empty when the file is missing or not a JSON object."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_sidecar(csv_path: Path) -> dict:
    """The sidecar of ``csv_path``; one written under the legacy name is read too (results measured before the
    rename), never a file that is not ours. Empty when there is none."""
    for path in (sidecar_path(csv_path), legacy_sidecar_path(csv_path)):
        data = _ours(Path(path))
        if data is not None:
            return data
    return {}
