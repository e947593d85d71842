"""Does the forced full collection reach the memory that long traffic reaches on its own?

    python benchmarks/bench_steady_state.py                          # a generated 300-model project
    python benchmarks/bench_steady_state.py --models 72 --long 3000
    python benchmarks/bench_steady_state.py --existing generated/calibration/oscarshop \\
        --wsgi oscarshop.wsgi:application --urls /catalogue/ /basket/ /search/

For each mode, two runs of the same project: short traffic (``--short`` requests per worker, then the runner's
forced full collection) and long traffic (``--long`` requests per worker, then the forced collection again).
Prints per mode the mean worker USS after short traffic, after the forced collection, after long traffic alone,
and after long traffic plus the forced collection, with the full collections the workers ran on their own.
The steady-state reading is sound when "short + forced" matches "long" wherever long traffic ran a full
collection by itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from experiments.measure.executor import ServerExecutor  # noqa: E402
from experiments.runner import run_sweep  # noqa: E402
from experiments.sweep import parse_sweep  # noqa: E402


def sweep_text(args, requests: int) -> str:
    if args.existing:
        project = {"path": str(Path(args.existing).resolve()), "wsgi": args.wsgi, "urls": args.urls}
        if args.env:
            project["env"] = dict(item.split("=", 1) for item in args.env)
    else:
        project = {"models": args.models}
    return json.dumps(
        {
            "name": f"steady-{requests}",
            "repetitions": args.repetitions,
            "warmup_runs": 0,
            "project": project,
            "server": {"backend": args.server, "modes": args.modes, "workers": args.workers, "timeout": 600},
            "traffic": {"requests_per_worker": requests, "timeout": 300},
        }
    )


def measure(args, requests: int, directory: Path) -> dict[str, list]:
    sweep = parse_sweep(sweep_text(args, requests), base_dir=directory, default_name=f"steady-{requests}")
    found: dict[str, list] = {}

    def on_run(run, m):
        print(f"  {requests:5d}/worker {run.describe():48s} {m.status} {m.error[:120]}", file=sys.stderr)
        if m.status == "ok":
            found.setdefault(run.mode, []).append(m)

    run_sweep(sweep, ServerExecutor(), on_run=on_run, say=lambda line: print(line, file=sys.stderr))
    return found


def mean(values) -> float:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--existing", help="an existing project's directory instead of a generated one")
    parser.add_argument("--wsgi", default="", help="its WSGI application, module:callable")
    parser.add_argument("--urls", nargs="+", default=["/"])
    parser.add_argument("--env", nargs="*", default=[], help="KEY=VALUE for the existing project")
    parser.add_argument("--server", default="uwsgi", choices=["uwsgi", "gunicorn"])
    parser.add_argument("--modes", nargs="+", default=["prefork", "prewarm", "prewarm-freeze"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=1)
    parser.add_argument("--short", type=int, default=20)
    parser.add_argument("--long", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-steady-") as directory:
        short = measure(args, args.short, Path(directory))
        long = measure(args, args.long, Path(directory))
    what = args.existing or f"generated realistic project, {args.models} models"
    print(f"bench_steady_state: {what}; {args.server}, {args.workers} workers, mean worker USS in MB")
    print(
        f"{'mode':16s} {f'after {args.short}':>10s} {'+ forced':>9s} {'gen2':>5s}"
        f" {f'after {args.long}':>11s} {'+ forced':>9s} {'gen2':>5s}  long ÷ (short + forced)"
    )
    for mode in args.modes:
        s, g = short.get(mode, []), long.get(mode, [])
        after_short = mean(m.worker_uss_mb_mean for m in s)
        forced_short = mean(m.worker_uss_steady_mb_mean for m in s)
        after_long = mean(m.worker_uss_mb_mean for m in g)
        forced_long = mean(m.worker_uss_steady_mb_mean for m in g)
        print(
            f"{mode:16s} {after_short:10.1f} {forced_short:9.1f} {mean(m.worker_gen2_collections_mean for m in s):5.1f}"
            f" {after_long:11.1f} {forced_long:9.1f} {mean(m.worker_gen2_collections_mean for m in g):5.1f}"
            f"  {after_long / forced_short:6.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
