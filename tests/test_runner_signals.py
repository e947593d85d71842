"""No server process survives the runner: Ctrl-C (SIGINT), SIGTERM and SIGKILL while servers are starting."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from runner_support import REPO, processes_with, reap_orphans, tiny_project, wait_for, write_sweep

from experiments.measure.executor import RUN_DIR_PREFIX, remove_stale_run_dirs
from experiments.modes import get_mode

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("backend", "signum", "mode", "returncode"),
    [
        ("uwsgi", signal.SIGINT, "lazy", 128 + signal.SIGINT),
        ("uwsgi", signal.SIGTERM, "lazy", 128 + signal.SIGTERM),
        ("uwsgi", signal.SIGKILL, "lazy", -signal.SIGKILL),
        ("uwsgi", signal.SIGKILL, "prewarm", -signal.SIGKILL),  # the master alone, busy importing the app
        ("gunicorn", signal.SIGINT, "lazy", 128 + signal.SIGINT),
        ("gunicorn", signal.SIGTERM, "prefork-warm", 128 + signal.SIGTERM),
        ("gunicorn", signal.SIGKILL, "lazy", -signal.SIGKILL),
        ("gunicorn", signal.SIGKILL, "prewarm", -signal.SIGKILL),
        ("granian", signal.SIGINT, "lazy", 128 + signal.SIGINT),
        ("granian", signal.SIGTERM, "lazy-warm", 128 + signal.SIGTERM),
        ("granian", signal.SIGKILL, "lazy", -signal.SIGKILL),  # its workers die with its main process
    ],
)
def test_killing_the_runner_leaves_no_server(tmp_path, monkeypatch, backend, signum, mode, returncode):
    runs = tmp_path / "runs"
    runs.mkdir()
    marker = f"{runs}/{RUN_DIR_PREFIX}"
    sweep = write_sweep(
        tmp_path,
        {
            "name": "killed",
            # every app import sleeps 60 s under a server: the servers are caught mid start-up
            "warmup_runs": 0,
            "project": tiny_project(env={"TINY_SLEEP": 60}),
            "server": {"backend": backend, "modes": [mode], "workers": 2, "timeout": 120},
        },
    )
    env = {**os.environ, "TMPDIR": str(runs), "PYTHONPATH": str(REPO)}
    runner = subprocess.Popen(
        [sys.executable, "-m", "experiments", str(sweep)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        expected = 1 if get_mode(mode).preload else 3  # the master before it forks, or master + 2 workers
        started = wait_for(lambda: len(processes_with(marker)) >= expected, timeout=30)
        assert started, f"the servers did not start: {processes_with(marker)}"
        runner.send_signal(signum)
        out, err = runner.communicate(timeout=20)
        assert runner.returncode == returncode, err
        left = wait_for(lambda: not processes_with(marker), timeout=5)
        assert left, f"server processes left behind: {processes_with(marker)}"
        if signum == signal.SIGKILL:  # nothing could clean up: the next runner removes the dead one's run dir
            assert os.listdir(runs)
            monkeypatch.setattr(tempfile, "tempdir", str(runs))
            remove_stale_run_dirs()
        assert os.listdir(runs) == []
        if signum != signal.SIGKILL:
            assert "run again to resume" in err
            with open(tmp_path / "results" / "killed.csv", newline="") as handle:
                assert list(csv.DictReader(handle)) == []  # an interrupted run leaves no row
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for pid in processes_with(marker):  # do not leak into other tests, even when failing
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        reap_orphans()
