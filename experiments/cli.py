"""``run-experiments SWEEP.yaml [--dry-run] [--fresh] [--output CSV] [--launcher local|slurm]``, and
``run-experiments advise PROJECT …`` (experiments/advice/cli.py): the only modules here that print."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED_RUNS, EXIT_USAGE = 0, 1, 2
RUNTIME_BUILD_S = 120  # a runtime environment of the python axis: a venv, the pins, uWSGI compiled


class Terminated(BaseException):
    """SIGTERM or SIGHUP: unwind like Ctrl-C so every ``finally`` kills its server."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, _frame):
    raise Terminated(signum)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run-experiments",
        description="Run a sweep: real pre-fork servers (uWSGI, gunicorn) in each loading mode, one CSV row per run. "
        "`run-experiments advise PROJECT --memory 4GiB` measures a project and says what to deploy "
        "(run-experiments advise --help).",
        epilog="Re-running a sweep resumes it: finished runs are skipped. Exit status: 0 every run ok, "
        "1 some runs failed (their rows say why), 2 bad sweep file or option, 130/143 interrupted.",
    )
    parser.add_argument("sweep", type=Path, help="sweep file (YAML)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan and the estimated time; run nothing"
    )
    parser.add_argument("--fresh", action="store_true", help="start over instead of resuming the CSV")
    parser.add_argument("--output", "-o", type=Path, help="results CSV (default: the sweep's output)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="where generated projects are built and kept (slurm: default <launcher.folder>/cache)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL server for projects with database: postgresql (default: a throwaway cluster of ours); "
        "used as given, never stopped",
    )
    parser.add_argument(
        "--launcher",
        choices=("local", "slurm"),
        default="local",
        help="where the runs execute: here, one after the other (default), or as jobs of a Slurm cluster "
        "(the sweep's launcher: block)",
    )
    return parser


def _dry_run(sweep, results, fresh: bool, cache_dir, launcher) -> list[str]:
    from experiments.history import Estimates
    from experiments.plan import estimate_s, make_plan
    from experiments.progress import format_duration
    from experiments.projects import default_cache_dir, is_built

    output = results.path
    done = set() if fresh else results.done_ids()
    plan = make_plan(sweep, done)
    cache_dir = cache_dir or launcher.default_cache_dir() or default_cache_dir()
    built = {p.key() for p in plan.projects if is_built(p, cache_dir)}
    estimates = Estimates.from_cache(cache_dir)
    runtimes, unbuilt = _runtime_lines(sweep, cache_dir)
    seconds = estimate_s(
        plan, built, warmup_runs=sweep.warmup_runs, run_s=estimates.run_s, build_s=estimates.build_s
    )
    seconds += unbuilt * RUNTIME_BUILD_S
    modes = sorted({s.mode for s in sweep.servers})
    workers = sorted({s.workers for s in sweep.servers})
    pythons = len({p.interpreter for p in sweep.projects})
    projects = (
        f"{len(sweep.projects) // pythons} projects × {pythons} interpreters (python)"
        if sweep.projects[0].interpreter is not None
        else f"{len(sweep.projects)} projects"
    )
    lines = [
        f"sweep {sweep.name}: {len(plan.runs)} runs = {projects}"
        f" × {len(sweep.servers)} server settings"
        f" ({', '.join(modes)}; workers {', '.join(map(str, workers))})"
        f" × {sweep.repetitions} repetitions",
        f"output: {output}" + (f" ({plan.done_count} runs already done)" if plan.done_count else ""),
        f"to run: {len(plan.todo)} runs; projects to build: "
        f"{len({p.tree_key() for p in plan.projects if p.key() not in built})} "
        f"of {len({p.tree_key() for p in plan.projects})} (cache {cache_dir})",
        f"estimated time: {format_duration(seconds)} ({estimates.basis()})",
    ]
    lines += runtimes
    for index, run in enumerate(plan.todo[:20], 1):
        lines.append(f"  {index:3d}. {run.run_id}  {run.describe()}")
    if len(plan.todo) > 20:
        lines.append(f"  … and {len(plan.todo) - 20} more")
    return lines + launcher.dry_run_lines(plan, sweep.warmup_runs)


def _runtime_lines(sweep, cache_dir) -> tuple[list[str], int]:
    """The python axis: a line per interpreter, saying whether its runtime environment is built already; and
    how many are still to build."""
    from experiments.runtimes import found, runtime_path, runtime_spec

    backends = {server.backend for server in sweep.servers}
    specs = dict.fromkeys(runtime_spec(p, backends) for p in sweep.projects if p.interpreter is not None)
    cached = {spec: found(spec, cache_dir) is not None for spec in specs}
    lines = [
        f"python {spec.interpreter.label} ({spec.interpreter.executable}): runtime "
        + ("cached" if cached[spec] else "to build (uWSGI compiles)")
        + f" in {runtime_path(spec, cache_dir)}"
        for spec in specs
    ]
    return lines, list(cached.values()).count(False)


def make_launcher(name: str, sweep, output: Path, servers: dict | None = None):
    """The launcher called ``name``; the local one runs the ``servers`` found here."""
    if name == "slurm":
        from experiments.launchers.slurm import SlurmLauncher

        return SlurmLauncher(sweep.launcher, output)
    from experiments.launchers.local import LocalLauncher
    from experiments.measure.executor import ServerExecutor

    return LocalLauncher(ServerExecutor(servers) if servers is not None else None)


def find_servers(sweep) -> dict:
    """Every server the sweep names, found and version-checked before anything runs (ExperimentError if not)."""
    from experiments.servers.factory import get_server

    servers = {}
    # a project on an interpreter of the python axis runs its runtime's servers, found once it is built
    pythons = dict.fromkeys(project.python for project in sweep.projects if project.interpreter is None)
    for backend in dict.fromkeys(spec.backend for spec in sweep.servers):
        for python in pythons:
            server = get_server(backend, python=python or None)
            server.version  # noqa: B018 - raises when the program does not answer or is too old
            servers[f"{backend}@{python}" if python else backend] = server
    return servers


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["advise"]:  # a command of its own: experiments/advice/
        from experiments.advice.cli import main as advise

        return advise(argv[1:])
    args = _parser().parse_args(argv)
    from experiments.errors import ExperimentError
    from experiments.runner import check_output, run_sweep
    from experiments.sweep import load_sweep

    try:
        sweep = load_sweep(args.sweep)
        output = args.output.resolve() if args.output else sweep.output
        results = check_output(output, args.fresh, "--output" if args.output else "output")
    except ExperimentError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    cache_dir = args.cache_dir.resolve() if args.cache_dir else None
    if args.dry_run:
        launcher = make_launcher(args.launcher, sweep, output)
        print("\n".join(_dry_run(sweep, results, args.fresh, cache_dir, launcher)))
        return EXIT_OK

    from experiments.measure.processes import become_subreaper

    interactive = sys.stderr.isatty()
    say, progress = _reporters(interactive)
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in (signal.SIGTERM, signal.SIGHUP)}
    become_subreaper()  # a killed master's workers are reparented to us and reaped at once
    try:
        servers = find_servers(sweep)  # on a cluster: here, and again on each node
        outcome = run_sweep(
            sweep,
            launcher=make_launcher(args.launcher, sweep, output, servers),
            output=output,
            fresh=args.fresh,
            cache_dir=cache_dir,
            server_versions={key: server.version for key, server in servers.items()},
            say=say,
            progress=progress,
            database_url=args.database_url,
        )
    except ExperimentError as exc:
        say(f"Error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        say(f"interrupted: finished runs are in {output}; run again to resume")
        return 128 + signal.SIGINT
    except Terminated as exc:
        say(f"terminated by signal {exc.signum}: finished runs are in {output}; run again to resume")
        return 128 + exc.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _print_summary(outcome, output, interactive)
    return EXIT_FAILED_RUNS if outcome.failed else EXIT_OK


def _reporters(interactive: bool):
    """``say``: a line of its own; ``progress``: on a terminal one line, redrawn, in a log each finished run."""

    def say(line: str) -> None:
        if interactive:
            sys.stderr.write("\r\033[K")
        print(line, file=sys.stderr, flush=True)

    def progress(line: str, final: bool) -> None:
        if interactive:  # one line, redrawn
            sys.stderr.write("\r\033[K" + line[:200])
            sys.stderr.flush()
        elif final:  # a log: one line per finished run
            print(line, file=sys.stderr, flush=True)

    return say, progress


def _print_summary(outcome, output: Path, interactive: bool) -> None:
    """The end of a sweep: its table per point, the fork warnings, how many runs failed, where the rows are."""
    from experiments.summary import fork_warnings, summarize

    if interactive:
        sys.stderr.write("\n")
    print("\n".join([*summarize(outcome.rows), *fork_warnings(outcome.rows)]))
    print(f"\n{outcome.ran} runs done ({outcome.failed} failed); results in {output}")
