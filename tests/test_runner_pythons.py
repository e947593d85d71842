"""The python axis for real: two interpreters of this machine (3.11 and 3.12 where pyenv has them), a runtime
environment built for each by its own venv and pip (Django, uWSGI compiled for it, gunicorn, psycopg), the tiny
project measured on both under uWSGI and gunicorn in one interleaved sweep, then the runtimes reused.

The runtimes are built once per test session, in a cache the session shares: the slow part."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
from runner_support import tiny_project, write_sweep

from experiments.environment import read_sidecar
from experiments.interpreters import Interpreter, InterpreterError, find
from experiments.measure.executor import ServerExecutor
from experiments.runner import run_sweep
from experiments.sweep import load_sweep

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
SECOND = ("3.12", "3.13", "3.10")  # the second version, by preference


def interpreters_here() -> list[Interpreter]:
    """3.11 and another version of this machine. Without a second one the test skips, except under CI, where
    it runs on 3.11 alone: all but the two versions' difference is still measured."""
    first = find("3.11", ROOT)
    for version in SECOND:
        try:
            return [first, find(version, ROOT)]
        except InterpreterError:
            continue
    why = f"no Python {' nor '.join(SECOND)} here beside {first.label} (pyenv install 3.12)"
    if not os.environ.get("CI"):
        pytest.skip(why)
    warnings.warn(f"{why}: the python axis runs on one interpreter only", stacklevel=2)
    return [first]


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """The runtimes (and the bytecode) of the whole session."""
    return tmp_path_factory.mktemp("pythons-cache")


def _sweep(directory: Path, pythons: list[Interpreter], server: dict, name: str):
    data = {
        "name": name,
        "warmup_runs": 0,
        "python": [".".join(p.version.split(".")[:2]) for p in pythons],
        "project": tiny_project(),
        "server": {"workers": 2, **server},
        "traffic": {"requests_per_worker": 2},
        "output": str(directory / f"{name}.csv"),
    }
    return load_sweep(write_sweep(directory, data, f"{name}.yaml"))


def _runtimes(cache: Path) -> dict[str, tuple[int, str]]:
    """Each runtime's directory: its inode and when its manifest says it was built."""
    return {
        entry.name: (entry.stat().st_ino, json.loads((entry / "runtime.json").read_text())["built_at"])
        for entry in (cache / "runtimes").iterdir()
    }


def test_two_interpreters_in_one_interleaved_sweep_under_uwsgi_and_gunicorn(tmp_path, run_dirs, shared_cache):
    pythons = interpreters_here()
    sweep = _sweep(tmp_path, pythons, {"backend": ["uwsgi", "gunicorn"], "modes": ["lazy", "prewarm"]}, "mix")
    commands = {}

    def keep(run, measurement):
        commands[run.run_id] = measurement.details.get("command", [""])[0]

    outcome = run_sweep(sweep, ServerExecutor(), cache_dir=shared_cache, on_run=keep)
    assert outcome.failed == 0, [row["error"] for row in outcome.rows]
    assert len(outcome.rows) == 2 * 2 * len(pythons)
    assert {row["python"] for row in outcome.rows} == {p.label for p in pythons}
    built = _runtimes(shared_cache)
    manifests = {
        name: json.loads((shared_cache / "runtimes" / name / "runtime.json").read_text()) for name in built
    }
    for row in outcome.rows:
        python = next(p for p in pythons if p.label == row["python"])
        assert row["python_build"] == python.build_label and row["status"] == "ok"
        runtime = next(n for n in built if n.startswith(python.build_label + "-"))
        # the run's server is its interpreter's own: uWSGI compiled for it, gunicorn beside its python
        assert commands[row["run_id"]] == str(shared_cache / "runtimes" / runtime / "bin" / row["server"])
        assert manifests[runtime]["packages"]["django"].startswith("5.2.")
        assert row["server_version"] == manifests[runtime]["packages"][row["server"]]
    for python in pythons:  # compiled by that interpreter, into its own bytecode directory
        tag = "cpython-" + "".join(python.version.split(".")[:2])
        found = list((shared_cache / f"bytecode-{python.cache_name}").rglob(f"tinysite/settings.{tag}.pyc"))
        assert found, python.label
    assert set(read_sidecar(sweep.output)["pythons"]) == set(built)

    again = _sweep(tmp_path, pythons, {"backend": "gunicorn", "modes": ["lazy"]}, "again")
    said = []
    outcome = run_sweep(again, ServerExecutor(), cache_dir=shared_cache, say=said.append)
    assert outcome.failed == 0 and len(outcome.rows) == len(pythons)
    assert _runtimes(shared_cache) == built  # reused as they were: nothing rebuilt
    assert sorted(line for line in said if line.startswith("runtime ")) == sorted(
        f"runtime {name} (cached)" for name in built
    )
