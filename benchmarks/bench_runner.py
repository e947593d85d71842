"""Benchmark of run-experiments itself: readiness detection latency, harness overhead, run-to-run spread.

    python benchmarks/bench_runner.py                 # 300 models × every mode × 4 workers × 5 repetitions
    python benchmarks/bench_runner.py --models 30 --repetitions 3   # a quick look
    python benchmarks/bench_runner.py --servers uwsgi gunicorn       # both servers, interleaved

Prints three figures against their targets:
- readiness: how late the runner notices the last worker's "ready" event (worker's send → runner's receive),
  target ≤ 10 ms;
- harness overhead per run: wall time from the executor's start to the row being on disk, minus start-up,
  traffic, the steady-state collection and stop, target ≤ 0.5 s;
- coefficient of variation (stdev / mean) over repetitions of startup_s (target ≤ 5 %) and memory_mb
  (target ≤ 2 %), per mode.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from experiments.measure.executor import ServerExecutor  # noqa: E402
from experiments.modes import MODE_NAMES as MODES  # noqa: E402
from experiments.plan import RunSpec  # noqa: E402
from experiments.runner import run_sweep  # noqa: E402
from experiments.servers import SERVER_NAMES  # noqa: E402
from experiments.sweep import parse_sweep  # noqa: E402

READY_TARGET_MS = 10.0
OVERHEAD_TARGET_S = 0.5
CV_STARTUP_TARGET = 0.05
CV_MEMORY_TARGET = 0.02


class TimedExecutor:
    """The real executor, noting when each run starts (the runner notes when its row is written)."""

    def __init__(self):
        self.inner = ServerExecutor()
        self.started: dict[str, float] = {}

    def run(self, run: RunSpec, project, after_traffic=None):
        self.started[run.run_id] = time.monotonic()
        return self.inner.run(run, project, after_traffic)


def cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.fmean(values) if len(values) > 1 else 0.0


def machine_noise(rounds: int = 7) -> float:
    """CV of a fixed CPU-bound loop: the floor under any start-up CV measured on this machine right now."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(3_000_000):
            total += i * i % 7
        times.append(time.perf_counter() - started)
    return cv(times)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _measure(args) -> tuple[list, object]:
    """Run the benchmark's sweep; (run, measurement, harness overhead s) per run, and the sweep's outcome."""
    text = (
        f"name: bench-runner\nrepetitions: {args.repetitions}\nseed: 7\n"
        f"project:\n  models: {args.models}\n"
        f"server:\n  backend: [{', '.join(args.servers)}]\n  modes: [{', '.join(args.modes)}]\n"
        f"  workers: {args.workers}\n  timeout: 600\n"
        f"traffic:\n  requests_per_worker: {args.requests_per_worker}\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as directory:
        sweep = parse_sweep(text, base_dir=Path(directory), default_name="bench-runner")
        executor = TimedExecutor()
        records = []

        def on_run(run: RunSpec, measurement) -> None:
            wall = time.monotonic() - executor.started[run.run_id]
            phases = ("startup", "traffic", "steady_state", "stop")
            measured = sum(measurement.timings.get(phase, 0) for phase in phases)
            records.append((run, measurement, wall - measured))
            startup, memory = measurement.startup_s or 0, measurement.memory_mb or 0
            print(
                f"  {run.describe():58s} {measurement.status:7s} startup {startup:6.3f} s  "
                f"memory {memory:7.1f} MB  overhead {wall - measured:5.3f} s",
                file=sys.stderr,
                flush=True,
            )

        print(f"building/using the {args.models}-model project …", file=sys.stderr, flush=True)
        outcome = run_sweep(sweep, executor, on_run=on_run, say=lambda line: print(line, file=sys.stderr))
    return records, outcome


def _harness_lines(ok, servers) -> tuple[list[str], bool]:
    """Readiness latency and harness overhead, per server."""
    lines, within = [], True
    for server in servers:
        mine = [(m, o) for r, m, o in ok if r.server.backend == server]
        if not mine:
            continue
        ready = sorted(m.details["ready_latency_ms"] for m, _o in mine)
        overheads = sorted(o for _m, o in mine)
        within &= ready[-1] <= READY_TARGET_MS and overheads[-1] <= OVERHEAD_TARGET_S
        lines += [
            f"{server}: readiness detection latency (last worker's event): median {statistics.median(ready):.2f} "
            f"ms, max {ready[-1]:.2f} ms  (target ≤ {READY_TARGET_MS:g} ms: {verdict(ready[-1] <= READY_TARGET_MS)})",
            f"{server}: harness overhead per run: median {statistics.median(overheads):.3f} s, max "
            f"{overheads[-1]:.3f} s  (target ≤ {OVERHEAD_TARGET_S:g} s: {verdict(overheads[-1] <= OVERHEAD_TARGET_S)})",
        ]
    return lines, within


def _spread_lines(ok, servers, modes) -> tuple[list[str], bool]:
    """Mean and CV over repetitions of start-up, memory (both readings) and CPU, per server and mode."""
    lines = [
        f"{'server':9s} {'mode':16s} {'startup_s mean':>14s} {'CV':>7s} {'memory_mb mean':>15s} {'CV':>7s}"
        f" {'steady MB':>10s} {'CV':>7s} {'CPU s':>7s} {'CV':>6s}"
    ]
    within = True
    for server, mode in ((s, m) for s in servers for m in modes):
        runs = [m for r, m, _o in ok if r.mode == mode and r.server.backend == server]
        if not runs:
            continue
        startup, memory = [m.startup_s for m in runs], [m.memory_mb for m in runs]
        steady, cpu = [m.memory_steady_mb for m in runs], [m.startup_cpu_s for m in runs]
        cv_s, cv_m = cv(startup), cv(memory)
        within &= cv_s <= CV_STARTUP_TARGET and cv_m <= CV_MEMORY_TARGET
        lines.append(
            f"{server:9s} {mode:16s} {statistics.fmean(startup):14.3f} {cv_s:6.1%}{'' if cv_s <= CV_STARTUP_TARGET else '!'} "
            f"{statistics.fmean(memory):15.1f} {cv_m:6.2%}{'' if cv_m <= CV_MEMORY_TARGET else '!'}"
            f" {statistics.fmean(steady):10.1f} {cv(steady):6.2%} {statistics.fmean(cpu):7.2f} {cv(cpu):6.1%}"
        )
    lines.append(
        f"targets: CV startup_s ≤ {CV_STARTUP_TARGET:.0%}, CV memory_mb ≤ {CV_MEMORY_TARGET:.0%}; '!': missed"
    )
    return lines, within


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--requests-per-worker", type=int, default=20)
    parser.add_argument("--servers", nargs="+", default=["uwsgi"], choices=SERVER_NAMES)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    noise_before = machine_noise()
    records, outcome = _measure(args)
    ok = [(run, m, overhead) for run, m, overhead in records if m.status == "ok"]
    if not ok:
        print("no successful run", file=sys.stderr)
        return 1
    print(
        f"bench_runner: {args.models} models, {args.workers} workers, {args.repetitions} repetitions, "
        f"{len(ok)}/{len(records)} runs ok"
    )
    harness, harness_ok = _harness_lines(ok, args.servers)
    spread, spread_ok = _spread_lines(ok, args.servers, args.modes)
    print("\n".join(harness + spread))
    print(
        f"machine noise: CV of a fixed CPU-bound loop {noise_before:.1%} before, {machine_noise():.1%} after"
        " (a floor under the CV of startup_s)"
    )
    print(
        f"machine: {os.cpu_count()} cores, load {load_before:.2f} before, {os.getloadavg()[0]:.2f} after,"
        " other processes' CPU load widens the spread of startup_s"
    )
    return 0 if harness_ok and spread_ok and not outcome.failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
