import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Started in the background without job control (nohup, `cmd &` in a script) the suite inherits SIGINT ignored,
# and so would every runner, server and job it starts: the tests of Ctrl-C need it delivered. A handler of ours
# is reset to the default in every child at exec, so the children get Ctrl-C again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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


@pytest.fixture(autouse=True)
def history_of_the_test(tmp_path, monkeypatch):
    """The tests' runs (fake ones among them) never enter the history the estimates of this machine rest on."""
    from experiments import history

    path = tmp_path / "history.jsonl"
    monkeypatch.setattr(history, "history_path", lambda _cache_dir: path)
    return path


@contextlib.contextmanager
def _locked(path: str, how: int):
    with open(path, "a") as handle:
        fcntl.flock(handle, how)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def alone_when_timed(request, tmp_path_factory):
    """Under xdist (make test), a test marked ``timing`` runs while no other test of this run does: its figures
    (first requests of a few ms, a worker ready within 50 ms) are compared with each other or with a prediction,
    and another worker's test beside it would add the scheduling delays it must not measure. Every other test
    holds the run's lock shared; a timed one holds it alone, and holds the gate meanwhile so that no shared
    holder slips in before it."""
    if "PYTEST_XDIST_WORKER" not in os.environ:  # one process: nothing runs beside the test
        yield
        return
    lock = str(tmp_path_factory.getbasetemp().parent / "timing.lock")  # the run's, above each worker's own
    with _locked(f"{lock}.gate", fcntl.LOCK_EX):
        if request.node.get_closest_marker("timing"):
            with _locked(lock, fcntl.LOCK_EX):
                yield
            return
    with _locked(lock, fcntl.LOCK_SH):
        yield


@pytest.fixture
def probe():
    return probe_project


@pytest.fixture
def run_dirs(tmp_path, monkeypatch):
    """Run directories of this test under tmp_path: their path marks the test's server processes."""
    from runner_support import processes_with

    from experiments.measure.executor import RUN_DIR_PREFIX
    from experiments.measure.processes import become_subreaper

    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(runs))
    become_subreaper()  # like the CLI: the workers of each killed master are reaped at once
    yield f"{runs}/{RUN_DIR_PREFIX}"
    assert processes_with(f"{runs}/{RUN_DIR_PREFIX}") == [], "a server process outlived its run"
    assert os.listdir(runs) == [], "a run directory was left behind"


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL cluster for the whole session, started and stopped by the tool's own code."""
    from experiments.databases import open_for_sweep

    with open_for_sweep("postgresql") as server:
        yield server


@pytest.fixture(scope="session")
def slurm():
    """A real single-node Slurm cluster (tests/slurm_cluster.py), started once for the session and stopped
    after it. Without Debian's slurm-wlm and munge it skips, except under CI (.ci/run installs them)."""
    import slurm_cluster

    missing = slurm_cluster.missing_programs()
    if missing or os.geteuid() != 0:
        why = f"missing {', '.join(missing)}" if missing else "needs root"
        if os.environ.get("CI"):
            pytest.fail(f"the Slurm tests must run under CI: {why} (apt-get install slurm-wlm munge)")
        pytest.skip(f"no Slurm here ({why}): apt-get install slurm-wlm munge")
    with slurm_cluster.single_node_cluster() as cluster:
        yield cluster


# Under xdist (`make test` runs two workers) the tests marked ``timing`` run first, one at a time (see
# alone_when_timed), then the longest ones (each 25 to 100 s), so that neither worker begins one of those while the
# other has nothing left to do. In one process the order changes nothing; each test runs as it would anywhere.
LONGEST_FIRST = (
    "tests/test_runner_pythons.py::test_two_interpreters_in_one_interleaved_sweep",
    # the two that share test_like.py's module fixture stay side by side: it is built once
    "tests/test_like.py::test_cli_like_writes_a_scaled_twin_and_records_the_fit",
    "tests/test_like.py::test_fit_finds_the_memory_of_a_known_project_again_in_every_mode",
    "tests/test_like.py::test_fit_finds_how_fast_a_known_project_grows",
    "tests/test_generated_projects.py::test_manage_py_check_and_a_mid_size_project",
)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> tuple[bool, int]:
        longest = (i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix))
        return item.get_closest_marker("timing") is None, next(longest, len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: every other test keeps its place
