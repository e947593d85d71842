"""Helpers shared by the runner tests (not a test module)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import yaml

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY = FIXTURES / "tinyproject"
BROKEN = FIXTURES / "brokenproject"
REPO = Path(__file__).resolve().parent.parent


def write_sweep(directory: Path, data: dict, name: str = "sweep.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def tiny_project(**extra) -> dict:
    return {"path": str(TINY), "wsgi": "tinysite.wsgi:application", "urls": ["/", "/notes/3/"], **extra}


def stand_in_python(path: Path, version: str, free_threaded: bool = False) -> Path:
    """An executable that answers the runner's question (experiments/interpreters.py) as a Python ``version``
    would, whatever it is asked."""
    import json

    facts = {
        "version": version,
        "implementation": "cpython",
        "free_threaded": free_threaded,
        "build": f"{version} (stand-in)",
        "executable": str(path),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{json.dumps(facts)}'\n")
    path.chmod(0o755)
    return path


def processes_with(marker: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains ``marker``."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(entry))
    return found


def wait_for(predicate, timeout: float, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def reap_orphans() -> None:
    """Reap zombie children adopted while this process is a child subreaper (killed runners' servers)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
