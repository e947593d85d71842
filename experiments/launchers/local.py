"""The local launcher: every run in this process, one after the other, each row appended the moment it ends."""

from __future__ import annotations

import time
from pathlib import Path

from experiments.details import DetailsLog
from experiments.export_csv import ResultsCsv
from experiments.launchers.base import Batch, Tally, measure, record, warm_up
from experiments.measure.executor import Executor
from experiments.plan import Plan
from experiments.progress import Progress


class LocalLauncher:
    name = "local"

    def __init__(self, executor: Executor | None):  # None: for --dry-run, which runs nothing
        self.executor = executor

    def default_cache_dir(self) -> Path | None:
        return None

    def forget(self) -> None:
        pass

    def recover(self, results: ResultsCsv, details: DetailsLog, say) -> int:
        return 0

    def dry_run_lines(self, plan: Plan, warmup_runs: int = 1) -> list[str]:
        return []

    def launch(self, batch: Batch) -> Tally:
        todo = batch.plan.todo
        warm_up(todo, batch.prepared, self.executor, batch.sweep.warmup_runs, batch.say, batch.databases)
        bar = Progress(len(todo), [batch.estimate(run) for run in todo])
        tally = Tally()
        batch.progress(bar.line(), False)
        for run in todo:
            batch.progress(bar.line(run.describe()), False)
            started = time.monotonic()
            project = batch.prepared.get(run.project)
            broken = batch.broken.get(run.project, "")
            row, measurement = measure(run, project, self.executor, broken, batch.databases)
            record(batch.results, batch.details, row, measurement)
            tally.ran += 1
            if measurement.status != "ok":
                tally.failed += 1
                batch.say(
                    f"run {run.run_id} ({run.describe()}) {measurement.status}: {measurement.error[:300]}"
                )
            if batch.on_run is not None:
                batch.on_run(run, measurement)
            bar.advance(time.monotonic() - started)
            batch.progress(bar.line(f"{run.describe()}: {measurement.status}"), True)
        return tally
