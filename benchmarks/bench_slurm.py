"""Benchmark of --launcher slurm on a real single-node Slurm cluster started here (tests/slurm_cluster.py; needs
root and Debian's slurm-wlm and munge):

    python benchmarks/bench_slurm.py                         # 6 runs of the tiny fixture project, 1 and 3 per job
    python benchmarks/bench_slurm.py --runs 12 --runs-per-job 1 4

Prints, for each runs-per-job setting and for the local launcher beside them:
- submission overhead per run: wall time from submission (slurm) or from the first run's start (local) to the
  last row written in the sweep's CSV, minus the runs themselves (the rows' duration_s), divided by the runs.
  On one node with exclusive jobs the jobs run one after another, so this is everything the cluster path adds:
  sbatch, scheduling, each job's Python start-up and imports, warm-up runs, and the runner's polling;
- whether both launchers gave the same rows: same run ids, same columns, every row ok.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import slurm_cluster  # noqa: E402

from experiments.launchers.local import LocalLauncher  # noqa: E402
from experiments.launchers.slurm import SlurmLauncher  # noqa: E402
from experiments.measure.executor import ServerExecutor  # noqa: E402
from experiments.runner import run_sweep  # noqa: E402
from experiments.sweep import parse_sweep  # noqa: E402

TINY = ROOT / "tests" / "fixtures" / "tinyproject"


def sweep_text(runs: int, runs_per_job: int, warmup_runs: int) -> str:
    return f"""
name: bench-slurm
repetitions: {runs}
warmup_runs: {warmup_runs}
project: {{path: {TINY}, wsgi: "tinysite.wsgi:application", urls: [/, /notes/3/]}}
server: {{modes: [prefork], workers: 1}}
traffic: {{requests_per_worker: 5, steady_state: false}}
launcher: {{runs_per_job: {runs_per_job}, time_limit_min: 10, folder: shared}}
"""


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def measure(launcher_name: str, sweep, output: Path) -> tuple[float, list[dict]]:
    """Seconds of overhead per run, and the rows."""
    marks: dict[str, float] = {}

    def say(line: str) -> None:
        if line.startswith("submitted"):
            marks["start"] = time.monotonic()

    def progress(_line: str, final: bool) -> None:
        if final:
            marks["last"] = time.monotonic()

    if launcher_name == "local":
        marks["start"] = time.monotonic()  # the local launcher starts its first run at once
        launcher = LocalLauncher(ServerExecutor())
    else:
        launcher = SlurmLauncher(sweep.launcher, output)
    run_sweep(sweep, launcher=launcher, output=output, fresh=True, say=say, progress=progress)
    table = rows(output)
    busy = sum(float(row["duration_s"]) for row in table)
    return (marks["last"] - marks["start"] - busy) / len(table), table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--runs-per-job", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--warmup-runs", type=int, default=0)
    args = parser.parse_args()
    if slurm_cluster.missing_programs() or os.geteuid() != 0:
        print("needs root and slurm-wlm + munge (apt-get install slurm-wlm munge)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    with slurm_cluster.single_node_cluster() as cluster:
        os.environ.update({"SLURM_CONF": cluster.env["SLURM_CONF"], slurm_cluster.MARKER: str(cluster.root)})
        print(
            f"single-node cluster on {cluster.node}; {args.runs} runs of the tiny project, prefork, 1 worker"
        )
        results = {}
        for per_job in args.runs_per_job:
            sweep = parse_sweep(sweep_text(args.runs, per_job, args.warmup_runs), base_dir=work)
            results[f"slurm, {per_job} per job"] = measure("slurm", sweep, work / f"slurm-{per_job}.csv")
        sweep = parse_sweep(sweep_text(args.runs, 1, args.warmup_runs), base_dir=work)
        results["local"] = measure("local", sweep, work / "local.csv")
    print(f"{'launcher':<22} {'overhead per run (s)':>20}  rows")
    local_rows = results["local"][1]
    for name, (overhead, table) in results.items():
        same = (
            sorted(r["run_id"] for r in table) == sorted(r["run_id"] for r in local_rows)
            and list(table[0]) == list(local_rows[0])
            and {r["status"] for r in table} == {"ok"}
        )
        print(
            f"{name:<22} {overhead:>20.2f}  {len(table)} ({'same run ids and columns as local' if same else 'DIFFER'})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
