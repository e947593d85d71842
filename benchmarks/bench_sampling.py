"""Does reading memory during the traffic move what it measures? Runs with and without sampling, interleaved.

    python benchmarks/bench_sampling.py                          # a generated 100-model project, 4 workers
    python benchmarks/bench_sampling.py --models 300 --requests 2000 --every 100 --repetitions 5

Each repetition runs every mode twice on the same prepared project, with ``traffic.sample_every`` and without,
in a shuffled order, so both see the same machine. Prints per mode the medians of memory after traffic and at
steady state and of the warm requests' p50 latency, sampled against not, their difference (targets: memory
within 1 %, p50 within 5 %), and the spread of the unsampled runs themselves (noise, not overhead).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from experiments.measure.executor import ServerExecutor  # noqa: E402
from experiments.plan import make_plan  # noqa: E402
from experiments.projects import prepare  # noqa: E402
from experiments.sweep import parse_sweep  # noqa: E402

TARGETS = {"memory_mb": 0.01, "memory_steady_mb": 0.01, "latency_p50_ms": 0.05}
NAMES = {"memory_mb": "memory MB", "memory_steady_mb": "steady MB", "latency_p50_ms": "p50 ms"}


def spread(values: list[float]) -> float:
    """Half the interquartile range relative to the median: what one run's noise looks like."""
    if len(values) < 4:
        return float("nan")
    q1, _q2, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / 2 / statistics.median(values)


def value(measurement, metric: str) -> float | None:
    found = getattr(measurement, metric, None)
    return measurement.breakdown.get(metric) if found is None else found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--requests", type=int, default=1000, help="warm requests per worker")
    parser.add_argument(
        "--every", type=int, default=50, help="sample_every: requests per worker between readings"
    )
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=["lazy", "prewarm", "prewarm-freeze"])
    parser.add_argument("--server", default="uwsgi", choices=["uwsgi", "gunicorn"])
    args = parser.parse_args(argv)
    text = (
        f"project:\n  models: {args.models}\nserver:\n  backend: {args.server}\n"
        f"  modes: [{', '.join(args.modes)}]\n  workers: {args.workers}\n  timeout: 900\n"
        f"traffic:\n  requests_per_worker: {args.requests}\n  timeout: 300\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench-sampling-") as directory:
        sweep = parse_sweep(text, base_dir=Path(directory), default_name="bench-sampling")
    runs = [run for run in make_plan(sweep).runs if run.repetition == 1]
    project = prepare(sweep.projects[0], sweep.traffic)
    executor = ServerExecutor()
    executor.run(runs[0], project)  # unrecorded: cold caches
    found: dict[tuple[str, bool], list] = {}
    order = random.Random(7)
    for repetition in range(args.repetitions):
        trials = [(run, on) for run in runs for on in (True, False)]
        order.shuffle(trials)
        for run, on in trials:
            traffic = replace(run.traffic, sample_every=args.every if on else 0)
            m = executor.run(replace(run, traffic=traffic), project)
            readings = len(m.details.get("timeline", []))
            print(
                f"  rep {repetition + 1} {run.mode:15s} sampled {on!s:5s} {m.status} ({readings} readings)",
                file=sys.stderr,
            )
            if m.status == "ok":
                found.setdefault((run.mode, on), []).append(m)
    print(
        f"bench_sampling: {args.models} models, {args.server}, {args.workers} workers, {args.requests} requests "
        f"per worker, a reading every {args.every} per worker, {args.repetitions} reps"
    )
    print(f"{'mode':16s} {'metric':10s} {'sampled':>9s} {'not':>9s} {'difference':>11s} {'noise':>7s} target")
    worst = dict.fromkeys(TARGETS, 0.0)
    for mode in args.modes:
        for metric, target in TARGETS.items():
            on = [value(m, metric) for m in found.get((mode, True), [])]
            off = [value(m, metric) for m in found.get((mode, False), [])]
            on, off = [v for v in on if v is not None], [v for v in off if v is not None]
            if not on or not off:
                continue
            a, b = statistics.median(on), statistics.median(off)
            difference = (a - b) / b
            worst[metric] = max(worst[metric], abs(difference))
            print(
                f"{mode:16s} {NAMES[metric]:10s} {a:9.2f} {b:9.2f} {difference:+10.1%} {spread(off):6.1%}  "
                f"±{target:.0%}"
            )
    for metric, target in TARGETS.items():
        verdict = "within" if worst[metric] <= target else "OVER"
        print(f"largest {NAMES[metric]} difference {worst[metric]:.2%}: {verdict} the target of {target:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
