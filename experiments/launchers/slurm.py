"""The Slurm launcher: the runs still to do, split by run id into jobs of one job array, submitted with submitit.

The runner (this process, on a login node) prepares every project first, into a cache on the shared folder,
then submits; each job runs its runs one after the other on its node (``run_job``) and appends each row to its
own part file (experiments/launchers/parts.py). The runner merges the parts into the sweep's CSV while the jobs
run. A job that ends without a row for some of its runs (killed for time, node failure, cancelled from outside)
gives those runs failed rows naming the job; its finished rows are already in its part. Ctrl-C or SIGTERM
cancels the jobs; a runner killed outright leaves a record of its jobs, and the next invocation cancels them
and merges what they wrote.

A job's body on its node is slurm_job.py; job states and how a job ended, slurm_state.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import submitit
from submitit.slurm.slurm import SlurmJob

from experiments.environment import now_iso, read_json, write_json
from experiments.errors import ExperimentError
from experiments.hashing import short_hash
from experiments.launchers.base import Batch, Tally, make_row, measure
from experiments.launchers.parts import Merger, Part, parts_in
from experiments.launchers.slurm_job import JobSpec, run_job
from experiments.launchers.slurm_state import StateWatcher, how_it_ended
from experiments.measure.executor import Executor, Measurement
from experiments.plan import Plan, RunSpec, estimate_run_s
from experiments.progress import format_duration
from experiments.sweep import LauncherSpec
from generator.process import signals_held

CLUSTERS = ("slurm", "local")  # local: submitit's executor that runs each job as a process here (tests)
SIGNAL_DELAY_S = 60  # SIGUSR2 this long before the time limit: the job stops cleanly between runs
CANCEL_WAIT_S = 20  # after cancelling, how long to wait for the jobs to end before merging their parts
RECORD_SUFFIX = ".jobs.json"

__all__ = ["RECORD_SUFFIX", "JobSpec", "SlurmLauncher", "StateWatcher", "run_job"]


def _jobs(count: int, cluster: str) -> str:
    return f"{count} {cluster} job{'' if count == 1 else 's'}"


class SlurmLauncher:
    name = "slurm"

    def __init__(
        self,
        settings: LauncherSpec,
        output: Path,
        *,
        cluster: str = "slurm",
        make_executor: Callable[[], Executor] | None = None,
        poll_s: float = 1.0,
        signal_delay_s: int = SIGNAL_DELAY_S,
    ):
        """``cluster``: "slurm", or "local" (submitit runs each job as a process of this machine: for tests);
        ``make_executor``: builds the executor on the node (default: the real servers)."""
        if cluster not in CLUSTERS:
            raise ExperimentError(f"unknown cluster {cluster!r}; choose from {', '.join(CLUSTERS)}")
        self.settings = settings
        self.cluster = cluster
        self.make_executor = make_executor
        self.poll_s = poll_s
        self.signal_delay_s = signal_delay_s
        output = Path(output).resolve()
        self.folder = settings.folder or output.parent / f"{output.stem}.slurm"
        # several sweeps may share one folder (and its project cache): each output has its own jobs and parts
        self.home = self.folder / f"{output.stem}-{short_hash(str(output), 8)}"
        self.parts_dir = self.home / "parts"
        self.jobs_dir = self.home / "jobs"

    def default_cache_dir(self) -> Path:
        return self.folder / "cache"

    def forget(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    # ------------------------------------------------------------------ parameters and --dry-run

    def parameters(self, jobs: int) -> dict:
        """submitit's SlurmExecutor parameters (sbatch options) for an array of ``jobs`` jobs."""
        settings = self.settings
        extra = {"no-requeue": True, **dict(settings.sbatch)}  # a requeued job would run its runs twice
        minutes = max(1, round(settings.time_limit_min))
        parameters = {
            "job_name": "prefork-lab",
            "time": minutes,
            # a short job must not be warned as it starts: at most a quarter of its time
            "signal_delay_s": min(self.signal_delay_s, minutes * 15),
            "array_parallelism": min(jobs, settings.array_parallelism or jobs),
            "additional_parameters": extra,
        }
        if settings.partition:
            parameters["partition"] = settings.partition
        if settings.exclusive:
            parameters["exclusive"] = True
        if settings.setup:
            parameters["setup"] = list(settings.setup)
        return parameters

    def split(self, runs: tuple[RunSpec, ...] | list[RunSpec]) -> list[tuple[RunSpec, ...]]:
        """The runs in plan order, ``runs_per_job`` at a time."""
        size = self.settings.runs_per_job
        return [tuple(runs[i : i + size]) for i in range(0, len(runs), size)]

    def sbatch_flags(self, jobs: int) -> list[str]:
        """The sbatch options that ``parameters`` stand for (submitit writes them into the job script)."""
        parameters = self.parameters(jobs)
        flags = [f"--job-name={parameters['job_name']}", f"--time={parameters['time']}"]
        if jobs > 1:  # submitit submits a single job as a plain job
            flags.append(f"--array=0-{jobs - 1}%{parameters['array_parallelism']}")
        flags.append(f"--signal=USR2@{parameters['signal_delay_s']}")
        if "partition" in parameters:
            flags.append(f"--partition={parameters['partition']}")
        if parameters.get("exclusive"):
            flags.append("--exclusive")
        for name, value in parameters["additional_parameters"].items():
            flags.append(f"--{name}" if value is True else f"--{name}={value}")
        return flags

    def dry_run_lines(self, plan: Plan, warmup_runs: int = 1) -> list[str]:
        chunks = self.split(plan.todo)
        if not chunks:
            return ["slurm: nothing to submit"]
        lines = [
            f"slurm: {len(chunks)} jobs of up to {self.settings.runs_per_job} runs in one job array",
            f"sbatch {' '.join(self.sbatch_flags(len(chunks)))}",
            f"shared folder: {self.folder} (projects in {self.default_cache_dir()}, jobs and parts in {self.home})",
        ]
        if self.settings.setup:
            lines.append("setup on each node: " + "; ".join(self.settings.setup))
        lines += self._estimate_lines(chunks, warmup_runs)
        for index, chunk in enumerate(chunks[:20]):
            lines.append(f"  job {index:3d}: {len(chunk)} runs: {' '.join(run.run_id for run in chunk)}")
        if len(chunks) > 20:
            lines.append(f"  … and {len(chunks) - 20} more jobs")
        return lines

    def _estimate_lines(self, chunks: list[tuple[RunSpec, ...]], warmup_runs: int) -> list[str]:
        """Each job's time by the plan's model (fitted here: a node differs), and the array's if nodes are free."""
        seconds = []
        for chunk in chunks:
            firsts = {run.project: run for run in reversed(chunk)}.values()
            seconds.append(sum(map(estimate_run_s, chunk)) + warmup_runs * sum(map(estimate_run_s, firsts)))
        at_once = min(len(chunks), self.settings.array_parallelism or len(chunks))
        lines = [
            f"estimated per job: {format_duration(sum(seconds) / len(seconds))} on average, "
            f"{format_duration(max(seconds))} the longest; the whole array: about "
            f"{format_duration(sum(seconds) / at_once)} with {at_once} jobs at a time"
        ]
        if max(seconds) > 0.8 * self.settings.time_limit_min * 60:
            lines.append(
                f"warning: the longest job may outlast launcher.time_limit_min ({self.settings.time_limit_min:g} "
                "min): its unfinished runs would fail; raise it or lower launcher.runs_per_job"
            )
        return lines

    # ------------------------------------------------------------------ before planning: what earlier runners left

    def recover(self, results, details, say: Callable[[str], None]) -> int:
        """Cancel the jobs of an earlier runner that was killed before it could, then merge every part left."""
        if self.cluster == "slurm" and shutil.which("sbatch") is None:
            raise ExperimentError("--launcher slurm: sbatch not found on PATH; run on a Slurm submit node")
        for path in sorted(self.parts_dir.glob(f"*{RECORD_SUFFIX}")):
            ids = read_json(path).get("jobs", [])
            if ids and self.cluster == "slurm":
                say(f"cancelling {_jobs(len(ids), self.cluster)} left by an earlier runner: {' '.join(ids)}")
                subprocess.run(["scancel", *ids], capture_output=True, timeout=60)
                self._wait_gone(ids)
        merger = Merger(results, details)
        merged = 0
        for part in parts_in(self.parts_dir):
            merged += len(merger.merge(part))
        if merged:
            say(f"merged {merged} rows that earlier jobs wrote after their runner stopped")
        for part in parts_in(self.parts_dir):
            part.remove()
        for path in self.parts_dir.glob(f"*{RECORD_SUFFIX}"):
            path.unlink()
        return merged

    def _wait_gone(self, ids: list[str]) -> None:
        deadline = time.monotonic() + CANCEL_WAIT_S
        while time.monotonic() < deadline:
            done = subprocess.run(
                ["squeue", "--noheader", "--format=%i", "--jobs", ",".join(ids)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if done.returncode != 0 or not done.stdout.strip():
                return
            time.sleep(1)

    # ------------------------------------------------------------------ submit, follow, cancel

    def launch(self, batch: Batch) -> Tally:
        tally = Tally()
        merger = Merger(batch.results, batch.details)
        runnable = []
        for run in batch.plan.todo:
            if run.project in batch.prepared:
                runnable.append(run)
                continue
            row, _ = measure(run, None, None, batch.broken.get(run.project, ""))  # no job for it
            self._count(row, batch, merger, tally)
        stamp = f"{time.strftime('%Y%m%dT%H%M%S')}-{socket.gethostname()}-{os.getpid()}"
        specs = [
            JobSpec(
                name=f"{stamp}-{index:05d}",
                runs=chunk,
                projects=tuple(
                    (spec, batch.prepared[spec]) for spec in dict.fromkeys(r.project for r in chunk)
                ),
                part=Part.named(self.parts_dir, f"{stamp}-{index:05d}").csv,
                warmup_runs=batch.sweep.warmup_runs,
            )
            for index, chunk in enumerate(self.split(runnable))
        ]
        if not specs:
            return tally
        record = self.parts_dir / f"{stamp}{RECORD_SUFFIX}"
        jobs = self._submit(specs, record, batch.say)
        pending = list(zip(specs, jobs, strict=True))
        try:
            self._follow(pending, batch, merger, tally)
        except BaseException:  # Ctrl-C, SIGTERM, or a bug of ours: no job may outlive the runner
            self._cancel(pending, batch, merger)
            if not pending:
                self._clean(specs, record)
            raise
        self._clean(specs, record)
        return tally

    def _clean(self, specs: list[JobSpec], record: Path) -> None:
        """Every job has ended and its rows are in the CSV: nothing is left to recover."""
        for spec in specs:
            Part(spec.part).remove()
        record.unlink(missing_ok=True)

    def _executor(self, jobs: int):
        if self.cluster == "local":
            executor = submitit.LocalExecutor(self.jobs_dir)
            executor.update_parameters(
                timeout_min=self.settings.time_limit_min, signal_delay_s=self.signal_delay_s
            )
            return executor
        executor = submitit.SlurmExecutor(self.jobs_dir, max_num_timeout=0)
        executor.update_parameters(**self.parameters(jobs))
        return executor

    def _submit(self, specs: list[JobSpec], record: Path, say: Callable[[str], None]) -> list:
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        executor = self._executor(len(specs))
        # no Ctrl-C between sbatch and the record of what it submitted: every job can be cancelled. (The local
        # executor's jobs are our children, which would inherit the mask: they are cancelled through their pid.)
        with signals_held() if self.cluster == "slurm" else contextlib.nullcontext():
            try:
                with executor.batch():
                    jobs = [executor.submit(run_job, spec, self.make_executor) for spec in specs]
            except Exception as exc:  # sbatch refused (unknown partition, bad option): the user can fix it
                message = " ".join(str(exc).split())[:500]
                raise ExperimentError(
                    f"--launcher {self.cluster}: cannot submit the jobs: {message}"
                ) from None
            ids = [job.job_id for job in jobs]
            write_json(record, {"cluster": self.cluster, "jobs": ids})
        watcher = StateWatcher()
        for job in jobs:
            if isinstance(job, SlurmJob):
                job.watcher = (
                    watcher  # instead of submitit's shared one, which asks sacct every 10 min at most
                )
                watcher.register_job(job.job_id)
        first, last = ids[0], ids[-1]
        say(f"submitted {_jobs(len(jobs), self.cluster)} ({first}{' … ' + last if len(ids) > 1 else ''})")
        return jobs

    def _follow(self, pending: list, batch: Batch, merger: Merger, tally: Tally) -> None:
        """Merge rows as they arrive until every job has ended; ``pending`` (job spec, submitit job) pairs
        shrinks as they end."""
        started = time.monotonic()
        total = sum(len(spec.runs) for spec, _ in pending) + tally.ran
        merged: set[str] = set()
        while pending:
            for spec, _job in pending:
                for row in merger.merge(Part(spec.part)):
                    merged.add(row["run_id"])
                    self._count(row, batch, None, tally, lambda: self._line(tally, total, pending, started))
            for pair in list(pending):
                if pair[1].done():
                    self._ended(*pair, batch, merger, merged, tally)
                    pending.remove(pair)
            batch.progress(self._line(tally, total, pending, started), False)
            if pending:
                time.sleep(self.poll_s)

    def _line(self, tally: Tally, total: int, pending: list, started: float) -> str:
        return (
            f"{tally.ran}/{total} runs ({tally.failed} failed), {len(pending)} jobs not ended, "
            f"elapsed {format_duration(time.monotonic() - started)}"
        )

    def _count(self, row: dict, batch: Batch, merger: Merger | None, tally: Tally, line=lambda: "") -> None:
        """Tally one row (appending it first when ``merger`` is given) and report it like the local launcher."""
        if merger is not None:
            merger.add(row)
        tally.ran += 1
        describe = f"{row['mode']} {row['project']} workers={row['workers']} rep={row['repetition']}"
        if row["status"] != "ok":
            tally.failed += 1
            batch.say(f"run {row['run_id']} ({describe}) {row['status']}: {str(row['error'])[:300]}")
        batch.progress(f"{line()}  {describe}: {row['status']}".strip(), True)

    def _ended(self, spec: JobSpec, job, batch: Batch, merger: Merger, merged: set, tally: Tally) -> None:
        """A job has ended: its last rows, failed rows naming it for the runs it did not finish, its node."""
        part = Part(spec.part)
        for row in merger.merge(part):
            merged.add(row["run_id"])
            self._count(row, batch, None, tally)
        environment = part.environment()
        if environment.get("host"):
            tally.nodes[environment["host"]] = environment
        missing = [run for run in spec.runs if run.run_id not in merged]
        if not missing:
            return
        why, node = how_it_ended(job)
        host = node or environment.get("host", "")
        projects = dict(spec.projects)
        for run in missing:
            error = f"{self.cluster} job {job.job_id} {why} before this run finished"
            row = make_row(run, projects.get(run.project), Measurement("failed", error), now_iso(), host)
            self._count(row, batch, merger, tally)

    def _cancel(self, pending: list, batch: Batch, merger: Merger) -> None:
        """Cancel the jobs not ended, wait a little for them to stop and merge their finished rows; those that
        did not end stay in ``pending`` (and in the record, for the next invocation to cancel and merge)."""
        if not pending:
            return
        jobs = [job for _spec, job in pending]
        batch.say(f"cancelling {_jobs(len(jobs), self.cluster)}")
        with signals_held():
            if self.cluster == "slurm":
                arrays = sorted({job.job_id.split("_")[0] for job in jobs})
                subprocess.run(["scancel", *arrays], capture_output=True, timeout=60)
            else:
                for job in jobs:
                    job.cancel(check=False)
        deadline = time.monotonic() + CANCEL_WAIT_S
        while any(not job.done(force_check=True) for job in jobs) and time.monotonic() < deadline:
            time.sleep(self.poll_s)
        for spec, _job in pending:
            merger.merge(Part(spec.part))
        pending[:] = [(spec, job) for spec, job in pending if not job.done()]
