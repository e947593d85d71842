"""Do the phase timers move what they explain? Start-up and memory with the probes on and off, interleaved.

    python benchmarks/bench_probes.py                       # a generated 300-model project, 4 workers
    python benchmarks/bench_probes.py --models 100 --repetitions 5 --modes lazy prewarm

Each repetition runs every mode twice on the same prepared project, probes on and off, in a shuffled order, so
both settings see the same machine. Prints per mode the median start-up, memory after traffic and at steady
state with the probes on and off, and their difference (target: within 2 %), next to the spread of the
probes-off runs themselves (a difference below that spread is noise, not overhead).
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
from experiments.sweep import ProbeSpec, parse_sweep  # noqa: E402

TARGET = 0.02
METRICS = (("startup_s", "start-up s"), ("memory_mb", "memory MB"), ("memory_steady_mb", "steady MB"))


def spread(values: list[float]) -> float:
    """Half the interquartile range relative to the median: what one run's noise looks like."""
    if len(values) < 4:
        return float("nan")
    q1, _q2, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / 2 / statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=["lazy", "prefork", "prewarm"])
    parser.add_argument("--server", default="uwsgi", choices=["uwsgi", "gunicorn"])
    args = parser.parse_args(argv)
    text = (
        f"project:\n  models: {args.models}\nserver:\n  backend: {args.server}\n"
        f"  modes: [{', '.join(args.modes)}]\n  workers: {args.workers}\n  timeout: 900\n"
        "traffic:\n  requests_per_worker: 20\n  timeout: 300\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench-probes-") as directory:
        sweep = parse_sweep(text, base_dir=Path(directory), default_name="bench-probes")
    runs = [run for run in make_plan(sweep).runs if run.repetition == 1]
    project = prepare(sweep.projects[0], sweep.traffic)
    executor = ServerExecutor()
    executor.run(runs[0], project)  # unrecorded: cold caches
    found: dict[tuple[str, bool], list] = {}
    order = random.Random(3)
    for repetition in range(args.repetitions):
        trials = [(run, on) for run in runs for on in (True, False)]
        order.shuffle(trials)
        for run, on in trials:
            m = executor.run(replace(run, probes=ProbeSpec(phases=on)), project)
            print(
                f"  rep {repetition + 1} {run.mode:15s} probes {'on ' if on else 'off'} {m.status}",
                file=sys.stderr,
            )
            if m.status == "ok":
                found.setdefault((run.mode, on), []).append(m)
    print(
        f"bench_probes: {args.models} models, {args.server}, {args.workers} workers, {args.repetitions} reps"
    )
    print(f"{'mode':16s} {'metric':12s} {'probes on':>10s} {'off':>10s} {'difference':>11s} {'noise':>7s}")
    worst = 0.0
    for mode in args.modes:
        for metric, name in METRICS:
            on = [getattr(m, metric) for m in found.get((mode, True), [])]
            off = [getattr(m, metric) for m in found.get((mode, False), [])]
            if not on or not off:
                continue
            a, b = statistics.median(on), statistics.median(off)
            difference = (a - b) / b
            worst = max(worst, abs(difference)) if metric != "startup_s" else worst
            print(f"{mode:16s} {name:12s} {a:10.3f} {b:10.3f} {difference:+10.1%} {spread(off):6.1%}")
    print(f"largest memory difference {worst:.2%} (target within {TARGET:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
