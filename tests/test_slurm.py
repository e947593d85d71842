"""--launcher slurm on a real single-node Slurm cluster (started by the ``slurm`` fixture of conftest.py): a tiny
sweep gives the rows the local launcher gives, a node failure keeps the finished row and fails the others
naming the job, resume submits only what is missing, and SIGTERM cancels the jobs. Nothing may be left: no job,
no server, no slurmstepd."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from runner_support import REPO, processes_with, tiny_project, wait_for, write_sweep

from experiments.columns import COLUMN_NAMES
from experiments.environment import read_sidecar
from experiments.launchers.parts import parts_in
from experiments.measure.executor import RUN_DIR_PREFIX

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slurm")]  # one cluster, on one xdist worker
VARYING = {"started_at", "duration_s"}


def tiny_sweep(tmp_path: Path, **extra) -> Path:
    data = {
        "name": "tiny",
        "repetitions": 3,
        "warmup_runs": 0,
        "project": tiny_project(),
        "server": {"modes": ["prefork"], "workers": 1},
        "traffic": {"requests_per_worker": 3, "steady_state": False},
        "launcher": {"runs_per_job": 2, "time_limit_min": 5, "folder": "shared"},
    }
    return write_sweep(tmp_path, {**data, **extra})


def command(sweep: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "experiments", str(sweep), *options]


def start_through_slurm(sweep: Path, env: dict) -> subprocess.Popen:
    """The runner in the background, submitting ``sweep`` to the cluster; the test reads or signals it."""
    return subprocess.Popen(
        command(sweep, "--launcher", "slurm"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def environment(slurm, tmp_path: Path) -> tuple[dict, str]:
    """The cluster's client environment, with run directories under tmp_path: their path marks our servers,
    on the node as here (sbatch passes the environment on)."""
    runs = tmp_path / "runs"
    runs.mkdir(exist_ok=True)
    return {**slurm.env, "TMPDIR": str(runs), "PYTHONPATH": str(REPO)}, f"{runs}/{RUN_DIR_PREFIX}"


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def assert_nothing_left(slurm, servers: str) -> None:
    assert wait_for(lambda: not slurm.jobs(), timeout=30), slurm.jobs()
    assert wait_for(lambda: not processes_with(servers), timeout=10), "a server outlived its job"
    daemons = {process.pid for process in slurm.daemons.values()}

    def steps() -> list[int]:  # job steps and anything they started; slurmscriptd is slurmctld's own child
        return [
            pid
            for pid in slurm.marked_processes()
            if pid not in daemons and os.getppid() != pid and _parent(pid) not in daemons
        ]

    assert wait_for(lambda: not steps(), timeout=15), [
        Path(f"/proc/{p}/cmdline").read_bytes() for p in steps()
    ]


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def test_a_tiny_sweep_through_slurm_gives_the_rows_of_the_local_launcher(slurm, tmp_path):
    sweep = tiny_sweep(tmp_path)
    env, servers = environment(slurm, tmp_path)
    done = subprocess.run(
        command(sweep, "--launcher", "slurm"), env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr + slurm.log_tail()
    assert "submitted 2 slurm jobs" in done.stderr
    local = subprocess.run(
        command(sweep, "--output", str(tmp_path / "local.csv")),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert local.returncode == 0, local.stderr
    cluster, here = rows(tmp_path / "results" / "tiny.csv"), rows(tmp_path / "local.csv")
    assert list(cluster[0]) == list(here[0]) == list(COLUMN_NAMES)
    assert sorted(r["run_id"] for r in cluster) == sorted(r["run_id"] for r in here) and len(cluster) == 3
    assert {r["status"] for r in cluster + here} == {"ok"} and {r["host"] for r in cluster} == {slurm.node}
    for row in cluster:  # measured, not copied: every figure of the local launcher's rows is there too
        twin = next(r for r in here if r["run_id"] == row["run_id"])
        assert {k for k, v in row.items() if v} == {k for k, v in twin.items() if v}
        assert float(row["startup_s"]) > 0 and float(row["memory_mb"]) > 0
        assert {k: row[k] for k in ("mode", "workers", "project", "models", "server", "server_version")} == {
            k: twin[k] for k in ("mode", "workers", "project", "models", "server", "server_version")
        }
    sidecar = read_sidecar(tmp_path / "results" / "tiny.csv")
    assert sidecar["nodes"][slurm.node]["servers"] == {"uwsgi": sidecar["servers"]["uwsgi"]}
    assert parts_in(next((tmp_path / "shared").glob("tiny-*")) / "parts") == []
    assert_nothing_left(slurm, servers)


def test_a_node_failure_keeps_the_finished_row_and_resume_submits_only_the_rest(slurm, tmp_path):
    sweep = tiny_sweep(
        tmp_path,
        traffic={"requests_per_worker": 400, "steady_state": False},  # seconds per run: time to fail the node
        launcher={"runs_per_job": 3, "time_limit_min": 5, "folder": "shared"},
    )
    env, servers = environment(slurm, tmp_path)
    runner = start_through_slurm(sweep, env)
    try:
        parts = tmp_path / "shared"
        assert wait_for(
            lambda: any(p.rows() for d in parts.glob("tiny-*") for p in parts_in(d / "parts")), 120
        )
        slurm.set_node("DOWN")
        out, err = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        slurm.run("scontrol", "update", f"NodeName={slurm.node}", "State=RESUME", check=False)
    assert runner.returncode == 1, err
    table = rows(tmp_path / "results" / "tiny.csv")
    ok = [r for r in table if r["status"] == "ok"]
    failed = [r for r in table if r["status"] == "failed"]
    assert len(ok) >= 1 and len(failed) >= 1 and len(table) == 3
    job = err.split("submitted 1 slurm job (")[1].split(")")[0]
    assert {r["error"] for r in failed} == {
        f"slurm job {job} ended NODE_FAIL on {slurm.node} before this run finished"
    }
    assert slurm.wait_node(lambda state: state == "idle") == "idle"
    again = subprocess.run(
        command(sweep, "--launcher", "slurm"), env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert f"resuming {tmp_path / 'results' / 'tiny.csv'}: {len(ok)} of 3 runs already done" in again.stderr
    table = rows(tmp_path / "results" / "tiny.csv")
    assert sorted(r["run_id"] for r in table if r["status"] == "ok") == sorted({r["run_id"] for r in table})
    assert len(table) == 3 + len(failed)  # the finished row once, each failure kept, each retry once
    assert_nothing_left(slurm, servers)


def test_sigterm_cancels_the_jobs_and_leaves_nothing(slurm, tmp_path):
    sweep = tiny_sweep(
        tmp_path,
        repetitions=2,
        traffic={"requests_per_worker": 100000, "steady_state": False},  # a run that would last many minutes
        launcher={"runs_per_job": 1, "time_limit_min": 5, "folder": "shared"},
    )
    env, servers = environment(slurm, tmp_path)
    runner = start_through_slurm(sweep, env)
    try:
        assert wait_for(lambda: processes_with(servers), timeout=120), "no job started its server"
        runner.send_signal(signal.SIGTERM)
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert runner.returncode == 128 + signal.SIGTERM, err
    assert "cancelling 2 slurm jobs" in err and "run again to resume" in err
    assert rows(tmp_path / "results" / "tiny.csv") == []  # the interrupted run leaves no row
    assert_nothing_left(slurm, servers)
