"""A fake executor for fast tests of scheduling, resuming and reporting: deterministic figures, no process."""

from __future__ import annotations

import time

from experiments.measure.executor import Measurement
from experiments.plan import RunSpec
from experiments.projects import PreparedProject


class FakeExecutor:
    """Deterministic measurements without any process; ``fail`` is a predicate on the RunSpec."""

    def __init__(self, fail=None, delay_s: float = 0.0):
        self.fail = fail or (lambda run: False)
        self.delay_s = delay_s
        self.calls: list[RunSpec] = []

    def run(self, run: RunSpec, project: PreparedProject) -> Measurement:
        self.calls.append(run)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail(run):
            return Measurement(
                status="failed", error="fake failure | log: boom", timings={"total": self.delay_s}
            )
        models = project.models or 10
        base = {"lazy": 1.0, "prefork": 0.6, "prewarm": 0.7, "prewarm-freeze": 0.7}[run.mode]
        startup = base * (0.2 + models / 500) + 0.01 * run.repetition
        memory = 20 + models * 0.2 * (run.workers if run.mode == "lazy" else 1 + run.workers / 4)
        first = 2.0 if run.mode.startswith("prewarm") else 10 + models / 10
        return Measurement(
            status="ok",
            startup_s=startup,
            first_query_ms=first,
            first_request_ms_mean=first,
            first_request_ms_max=first * 1.5,
            steady_ms_median=2.0,
            memory_mb=memory,
            memory_ready_mb=memory * 0.8,
            uss_mb=memory * 0.7,
            rss_mb=memory * 2,
            master_pss_mb=memory / (run.workers + 1),
            worker_uss_mb_mean=memory * 0.7 / run.workers,
            startup_cpu_s=startup * 0.9,
            timings={"total": self.delay_s},
        )
