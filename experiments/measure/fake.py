"""A fake executor for fast tests of scheduling, resuming and reporting: deterministic figures, no process."""

from __future__ import annotations

import time

from experiments.measure.executor import Measurement
from experiments.modes import get_mode, warms
from experiments.plan import RunSpec
from experiments.projects import PreparedProject


class FakeExecutor:
    """Deterministic measurements without any process; ``fail`` is a predicate on the RunSpec."""

    def __init__(self, fail=None, delay_s: float = 0.0):
        self.fail = fail or (lambda run: False)
        self.delay_s = delay_s
        self.calls: list[RunSpec] = []

    def run(self, run: RunSpec, project: PreparedProject, after_traffic=None) -> Measurement:
        self.calls.append(run)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail(run):
            return Measurement(
                status="failed", error="fake failure | log: boom", timings={"total": self.delay_s}
            )
        models = project.models or 10
        mode = get_mode(run.mode)
        base = (0.6 if mode.preload else 1.0) + (0.1 if warms(run.mode) else 0.0)
        startup = base * (0.2 + models / 500) + 0.01 * run.repetition
        memory = 20 + models * 0.2 * (1 + run.workers / 4 if mode.warm_before_fork else run.workers)
        first = 2.0 if warms(run.mode) else 10 + models / 10
        return Measurement(
            status="ok",
            server_version="fake",
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
            fork_span_ms=0.5 * run.workers,
            memory_steady_mb=memory * (1.1 if mode.freeze else 1.3),
            worker_uss_steady_mb_mean=memory * (0.75 if mode.freeze else 0.9) / run.workers,
            worker_gen2_collections_mean=0.0,
            collect_ms_mean=5.0 if mode.freeze else 50.0,
            timings={"total": self.delay_s},
        )
