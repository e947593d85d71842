"""The Slurm launcher's logic, fast: submitit's local executor runs each job as a process of this machine and a
fake executor measures. Splitting, part files and merging, jobs that die or are stopped near their time limit,
Ctrl-C, resume, --fresh, job states from squeue, and the CLI. tests/test_slurm.py runs it on a real Slurm."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import stat
import sys
import time
from dataclasses import replace
from pathlib import Path

import cloudpickle
import pytest
from runner_support import processes_with, wait_for, write_sweep

from experiments import cli, runner
from experiments.columns import COLUMN_NAMES
from experiments.details import DetailsLog
from experiments.environment import read_sidecar
from experiments.errors import ExperimentError
from experiments.export_csv import ResultsCsv
from experiments.launchers.base import make_row
from experiments.launchers.local import LocalLauncher
from experiments.launchers.parts import Merger, Part, parts_in
from experiments.launchers.slurm import RECORD_SUFFIX, SlurmLauncher, StateWatcher
from experiments.measure.fake import FakeExecutor
from experiments.plan import make_plan
from experiments.projects import PreparedProject
from experiments.sweep import load_sweep

# The executors below are built inside each job's own process: send them by value, not by module name.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

SWEEP = {
    "name": "jobs",
    "repetitions": 2,
    "seed": 5,
    "warmup_runs": 0,
    "project": {"models": [10, 20], "rows_per_model": 2},
    "server": {"modes": ["lazy", "prefork"], "workers": [2]},
    "launcher": {"runs_per_job": 3},
    "output": "out/jobs.csv",
}
VARYING = ("started_at", "duration_s")  # the only columns two executions of the same fake run differ in


@pytest.fixture(autouse=True)
def no_job_left(tmp_path):
    """Every job process of a test (its command line names the test's folder) is gone after it, even when the
    test fails half-way."""
    yield
    left = processes_with(str(tmp_path))
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert left == [], "job processes outlived the test"


@pytest.fixture(autouse=True)
def no_builds(monkeypatch):
    def fake_prepare(spec, traffic, cache_dir=None, runtime=None):
        return PreparedProject(
            spec=spec, root=Path("/nonexistent"), wsgi="x:y", env={}, urls=("/",), models=spec.models, apps=1
        )

    monkeypatch.setattr(runner, "prepare", fake_prepare)


class Recording(SlurmLauncher):
    """Remembers the runs of every job it submits, and the submitit jobs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.submitted: list[list[str]] = []
        self.jobs: list = []

    def _submit(self, specs, record, say):
        self.submitted += [[run.run_id for run in spec.runs] for spec in specs]
        jobs = super()._submit(specs, record, say)
        self.jobs += jobs
        return jobs


class DiesAtSecondRun(FakeExecutor):
    def run(self, run, project, after_traffic=None):
        if self.calls:
            os._exit(3)  # the node dies, or the job is killed outright: no Python cleanup at all
        return super().run(run, project)


class WarnedAtSecondRun(FakeExecutor):
    def run(self, run, project, after_traffic=None):
        if self.calls:
            os.kill(os.getpid(), signal.SIGUSR2)  # what Slurm sends --signal seconds before the time limit
            time.sleep(30)
        return super().run(run, project)


class SlowAfterFirstRun(FakeExecutor):
    def run(self, run, project, after_traffic=None):
        if self.calls:
            time.sleep(60)
        return super().run(run, project)


def launcher_for(sweep, make_executor=FakeExecutor, **kwargs) -> Recording:
    return Recording(
        sweep.launcher, sweep.output, cluster="local", make_executor=make_executor, poll_s=0.05, **kwargs
    )


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def by_run(table: list[dict]) -> dict[str, dict]:
    return {row["run_id"]: {k: v for k, v in row.items() if k not in VARYING} for row in table}


def test_jobs_give_the_rows_the_local_launcher_gives(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))
    launcher = launcher_for(sweep)
    outcome = runner.run_sweep(sweep, launcher=launcher)
    local = tmp_path / "local.csv"
    runner.run_sweep(sweep, launcher=LocalLauncher(FakeExecutor()), output=local)
    table = rows(sweep.output)
    assert list(table[0]) == list(COLUMN_NAMES) and outcome.ran == 8 and outcome.failed == 0
    assert by_run(table) == by_run(rows(local)) and len(table) == 8  # one row per run, the same figures
    plan = [run.run_id for run in make_plan(sweep).todo]
    assert launcher.submitted == [plan[0:3], plan[3:6], plan[6:8]]  # split in plan order
    assert {row["host"] for row in table} == {os.uname().nodename}
    assert parts_in(launcher.parts_dir) == [] and not list(launcher.parts_dir.glob(f"*{RECORD_SUFFIX}"))
    sidecar = read_sidecar(sweep.output)
    assert sidecar["invocations"][-1]["launcher"] == "slurm"
    assert sidecar["nodes"][os.uname().nodename]["python"]
    assert len(DetailsLog(sweep.output).read()) == 8


def test_a_job_that_dies_keeps_its_finished_rows_and_fails_the_rest_naming_it(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))
    launcher = launcher_for(sweep, DiesAtSecondRun)
    outcome = runner.run_sweep(sweep, launcher=launcher)
    table = rows(sweep.output)
    first_runs = {job[0] for job in launcher.submitted}
    assert {row["run_id"] for row in table if row["status"] == "ok"} == first_runs
    failed = [row for row in table if row["status"] == "failed"]
    assert len(failed) == 5 == outcome.failed and len(table) == 8
    ids = {job.job_id for job in launcher.jobs}
    for row in failed:
        job = next(job for job in ids if f"local job {job} ended" in row["error"])
        assert row["error"].endswith("before this run finished"), row["error"]
        assert row["run_id"] in launcher.submitted[[j.job_id for j in launcher.jobs].index(job)]
    retry = launcher_for(sweep)
    runner.run_sweep(sweep, launcher=retry)
    assert sorted(sum(retry.submitted, [])) == sorted(row["run_id"] for row in failed)  # only the missing
    table = rows(sweep.output)
    assert len({row["run_id"] for row in table if row["status"] == "ok"}) == 8
    assert len([row for row in table if row["status"] == "ok"]) == 8 and len(table) == 13


def test_a_job_warned_of_its_time_limit_stops_between_runs(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, {**SWEEP, "launcher": {"runs_per_job": 8}}))
    launcher = launcher_for(sweep, WarnedAtSecondRun)
    started = time.monotonic()
    runner.run_sweep(sweep, launcher=launcher)
    assert time.monotonic() - started < 25  # it did not sleep through the warning
    table = rows(sweep.output)
    (job,) = launcher.jobs
    assert [row["status"] for row in table] == ["ok"] + ["failed"] * 7
    assert table[0]["run_id"] == launcher.submitted[0][0]
    assert {row["error"] for row in table[1:]} == {
        f"local job {job.job_id} stopped near its time limit before this run finished"
    }


def test_interrupting_the_runner_cancels_the_jobs_and_keeps_finished_rows(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, {**SWEEP, "launcher": {"runs_per_job": 4}}))
    launcher = launcher_for(sweep, SlowAfterFirstRun)

    def progress(_line, final):
        if final:  # the first row is in: Ctrl-C
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run_sweep(sweep, launcher=launcher, progress=progress)
    assert wait_for(lambda: not processes_with(str(launcher.jobs_dir)), timeout=10)
    assert all(job.done() for job in launcher.jobs)
    kept = rows(sweep.output)
    assert kept and {row["status"] for row in kept} == {"ok"}  # an interrupted run leaves no row
    assert {row["run_id"] for row in kept} <= {job[0] for job in launcher.submitted}
    assert parts_in(launcher.parts_dir) == []  # every job ended: nothing left to recover
    retry = launcher_for(sweep)
    runner.run_sweep(sweep, launcher=retry)
    assert set(sum(retry.submitted, [])) == set(sum(launcher.submitted, [])) - {row["run_id"] for row in kept}


def test_rows_a_killed_runner_left_in_parts_are_merged_before_planning(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))
    launcher = launcher_for(sweep)
    plan = make_plan(sweep)
    part = Part.named(launcher.parts_dir, "20250101T000000-elsewhere-1-00000")
    launcher.parts_dir.mkdir(parents=True)
    writer = part.writer()
    project = PreparedProject(plan.todo[0].project, Path("/x"), "x:y", {}, ("/",), models=10, apps=1)
    for run in plan.todo[:2]:
        writer.append(make_row(run, project, FakeExecutor().run(run, project), "2025-01-01T00:00:00+00:00"))
    with open(part.csv, "a") as handle:
        handle.write('jobs,torn-half-line,1,"lazy')  # the job was killed while writing
    outcome = runner.run_sweep(sweep, launcher=launcher)
    assert sorted(sum(launcher.submitted, [])) == sorted(run.run_id for run in plan.todo[2:])
    assert outcome.ran == 6 and len(rows(sweep.output)) == 8 and parts_in(launcher.parts_dir) == []


def test_fresh_forgets_what_earlier_jobs_left(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))
    launcher = launcher_for(sweep)
    launcher.parts_dir.mkdir(parents=True)
    plan = make_plan(sweep)
    failed = make_row(plan.todo[0], None, FakeExecutor(fail=lambda run: True).run(plan.todo[0], None), "then")
    Part.named(launcher.parts_dir, "old").writer().append({**failed, "error": "stale"})
    runner.run_sweep(sweep, launcher=launcher, fresh=True)
    assert "stale" not in {row["error"] for row in rows(sweep.output)} and len(rows(sweep.output)) == 8


def test_merging_is_idempotent_and_never_duplicates_an_ok_row(tmp_path):
    results = ResultsCsv(tmp_path / "r.csv")
    results.prepare()
    merger = Merger(results, DetailsLog(results.path))
    a, b = Part(tmp_path / "a.part.csv"), Part(tmp_path / "b.part.csv")
    a.writer().append({"run_id": "x", "status": "failed", "started_at": "t1", "error": "boom"})
    b_rows = b.writer()
    b_rows.append({"run_id": "x", "status": "ok", "started_at": "t1"})  # a retry within the same second
    b_rows.append({"run_id": "x", "status": "ok", "started_at": "t3"})  # a second success: never merged
    assert [row["status"] for row in merger.merge(a) + merger.merge(b)] == ["failed", "ok"]
    assert merger.merge(a) == merger.merge(b) == []
    again = Merger(results, DetailsLog(results.path))  # a later invocation, from the CSV alone
    assert again.merge(a) == again.merge(b) == []
    assert [(row["status"], row["started_at"]) for row in results.read_rows()] == [
        ("failed", "t1"),
        ("ok", "t1"),
    ]


def test_job_states_come_from_squeue_when_sacct_has_no_accounting(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "sacct": "echo 'Slurm accounting storage is disabled' >&2; exit 1",
        "squeue": f"echo \"$@\" >> {tmp_path}/squeue.args; printf '7_0|COMPLETED|n1\\n7_1|TIMEOUT|n2\\n8|RUNNING|n1\\n'",
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    watcher = StateWatcher()
    for job_id in ("7_0", "7_1", "8"):
        watcher.register_job(job_id)
    assert watcher.get_state("7_1", mode="force") == "TIMEOUT" and watcher.accounting is False
    assert watcher.get_info("7_0", mode="cache")["NodeList"] == "n1"
    assert watcher.is_done("7_0", mode="cache") and not watcher.is_done("8", mode="cache")
    assert "--jobs 7,8" in (tmp_path / "squeue.args").read_text()


# --------------------------------------------------------------------------- the CLI


def test_dry_run_lists_the_jobs_and_their_sbatch_options(tmp_path, capsys):
    launcher = {"runs_per_job": 3, "partition": "big", "array_parallelism": 2, "sbatch": {"account": "lab"}}
    path = write_sweep(tmp_path, {**SWEEP, "launcher": launcher})
    assert cli.main([str(path), "--launcher", "slurm", "--dry-run"]) == 0
    out = capsys.readouterr().out
    plan = [run.run_id for run in make_plan(load_sweep(path)).todo]
    assert "slurm: 3 jobs of up to 3 runs in one job array" in out
    sbatch = next(line for line in out.splitlines() if line.startswith("sbatch "))
    for flag in (
        "--array=0-2%2",
        "--partition=big",
        "--exclusive",
        "--no-requeue",
        "--account=lab",
        "--time=60",
    ):
        assert flag in sbatch.split(), flag
    assert f"job   2: 2 runs: {plan[6]} {plan[7]}" in out
    assert f"(cache {tmp_path / 'out' / 'jobs.slurm' / 'cache'})" in out
    assert not (tmp_path / "out").exists()  # a dry run writes nothing
    assert "warning" not in out


def test_dry_run_warns_of_jobs_longer_than_the_time_limit(tmp_path, capsys):
    sweep = {**SWEEP, "project": {"models": 3000}, "launcher": {"runs_per_job": 4, "time_limit_min": 1}}
    assert cli.main([str(write_sweep(tmp_path, sweep)), "--launcher", "slurm", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "warning: the longest job may outlast launcher.time_limit_min (1 min)" in out
    assert "--signal=USR2@15" in out.split()  # warned a quarter of its time before the end, not as it starts


@pytest.mark.parametrize(
    ("launcher", "message"),
    [
        ({"runs_per_job": 0}, "launcher.runs_per_job (line"),
        ({"exclusive": "yes"}, "launcher.exclusive (line"),
        ({"time_limit_min": 1.5}, "launcher.time_limit_min (line"),
        ({"nodes": 2}, "launcher.nodes (line"),
        ({"sbatch": {"account": ["a", "b"]}}, "launcher.sbatch.account (line"),
        ({"setup": [""]}, "launcher.setup[0]"),
    ],
)
def test_a_bad_launcher_key_is_one_line_naming_it(tmp_path, capsys, launcher, message):
    path = write_sweep(tmp_path, {**SWEEP, "launcher": launcher})
    assert cli.main([str(path), "--launcher", "slurm", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {message}") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_slurm_without_sbatch_is_an_error_before_anything_is_built(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("experiments.launchers.slurm.shutil.which", lambda name: None)
    path = write_sweep(tmp_path, SWEEP)
    assert cli.main([str(path), "--launcher", "slurm"]) == 2
    assert "Error: --launcher slurm: sbatch not found on PATH" in capsys.readouterr().err
    assert rows(tmp_path / "out" / "jobs.csv") == []


def test_an_unknown_cluster_is_refused(tmp_path):
    with pytest.raises(ExperimentError, match="unknown cluster"):
        SlurmLauncher(
            replace(load_sweep(write_sweep(tmp_path, SWEEP)).launcher), tmp_path / "x.csv", cluster="pbs"
        )
