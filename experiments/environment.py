"""The JSON sidecar next to the results CSV: the environment the runs were measured in."""

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


def sidecar_path(csv_path: Path) -> Path:
    return Path(csv_path).with_suffix(".json")


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


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
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "django": _version("Django"),
        "servers": dict(server_versions or {}),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": cores_available,
        "kernel": platform.release(),
        "os": platform.platform(),
        "host": socket.gethostname(),
        "tool": "run-experiments",
        "tool_version": experiments.__version__,
        "git_commit": _git_commit(),
    }


def write_sidecar(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def read_sidecar(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
