import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "project_probe.py"


def probe_project(path: Path, env: dict[str, str] | None = None) -> dict:
    """Checks, migrations and every URL of a generated project, in a fresh interpreter of its own; ``env``
    (e.g. DATABASE_URL) is added to its environment."""
    result = subprocess.run(
        [sys.executable, str(PROBE), str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def probe():
    return probe_project


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL cluster for the whole session, started and stopped by the tool's own code."""
    from experiments.databases import open_for_sweep

    with open_for_sweep("postgresql") as server:
        yield server
