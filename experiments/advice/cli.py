"""``run-experiments advise PROJECT --memory 4GiB [--server gunicorn|uwsgi] …``: the only module of the advice that
prints. Bad input is one line, ``Error: --option: why``, and exit status 2, before anything runs.

Exit status: 0 the advice was verified; 1 it failed its verification, or no mode could be recommended; 2 bad
input; 130/143 interrupted (finished runs are kept: running it again resumes).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from experiments.errors import ExperimentError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line too
        print(f"Error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def parser() -> argparse.ArgumentParser:
    from experiments.modes import MODE_NAMES

    p = _Parser(
        prog="run-experiments advise",
        description="Measure a Django project in every loading mode under a real pre-fork server and say what to "
        "deploy: the mode, the workers that fit a memory budget, max_requests, and files to paste, verified by "
        "starting the project with them.",
        epilog="Exit status: 0 advice verified, 1 verification failed or nothing to recommend, 2 bad input, "
        "130/143 interrupted (run again to resume).",
    )
    p.add_argument(
        "project", help="a project directory (its manage.py names the settings) or a settings module"
    )
    p.add_argument("--memory", help="the memory budget of the server, e.g. 4GiB or 512MiB (required)")
    p.add_argument("--server", choices=("gunicorn", "uwsgi"), default="gunicorn", help="default: gunicorn")
    p.add_argument("--cores", type=int, help="cores the server will have (default: this machine's)")
    p.add_argument(
        "--url",
        action="append",
        help="a URL path to warm up and serve (repeatable; default /); /api/=401 also accepts that status",
    )
    p.add_argument("--wsgi", help="module:callable of the app (default: the settings' WSGI_APPLICATION)")
    p.add_argument(
        "--database-url", help="given to the project as DATABASE_URL (postgresql://… or sqlite:///…)"
    )
    p.add_argument("--python", help="the project's interpreter (its virtualenv), whose servers run it")
    p.add_argument("--output", "-o", type=Path, help="directory for results, report and files (advice/NAME/)")
    p.add_argument("--modes", help=f"comma-separated subset of: {', '.join(MODE_NAMES)} (default: all)")
    p.add_argument("--measure-workers", default="1,2,4", help="worker counts the memory fit is measured at")
    p.add_argument(
        "--repetitions", type=int, default=3, help="runs per mode and worker count (≥ 3; default 3)"
    )
    p.add_argument(
        "--requests", type=int, default=20, help="warm requests per worker in each run (default 20)"
    )
    p.add_argument(
        "--lifecycle-requests",
        type=int,
        default=2000,
        help="requests per worker of long traffic per mode, to measure growth (default 2000; 0: none)",
    )
    p.add_argument("--fresh", action="store_true", help="start over instead of resuming earlier runs")
    p.add_argument("--dry-run", action="store_true", help="print the plan and an estimate; run nothing")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        from experiments.advice.options import check_request

        request = check_request(args)
        if args.dry_run:
            from experiments.advice.options import cores_here
            from experiments.advice.plan import plan_lines

            print("\n".join(plan_lines(request, cores_here())))
            return EXIT_OK
        from experiments.advice.run import prepare

        prepared = prepare(request)
    except ExperimentError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return _run(prepared)


class _Terminated(BaseException):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise(signum, _frame):
    raise _Terminated(signum)


def _reporters():
    interactive = sys.stderr.isatty()

    def say(line: str) -> None:
        if interactive:
            sys.stderr.write("\r\033[K")
        print(line, file=sys.stderr, flush=True)

    def progress(line: str, final: bool) -> None:
        if interactive:
            sys.stderr.write("\r\033[K" + line[:200])
            sys.stderr.flush()
        elif final:
            print(line, file=sys.stderr, flush=True)

    return say, progress


def _run(prepared) -> int:
    from experiments.advice.run import advise
    from experiments.measure.processes import become_subreaper

    say, progress = _reporters()
    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGTERM, signal.SIGHUP)}
    become_subreaper()  # a killed master's workers are reparented to us and reaped at once
    try:
        outcome = advise(prepared, say, progress)
    except ExperimentError as exc:
        say(f"Error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        say(f"interrupted: finished runs are in {prepared.request.csv}; run again to resume")
        return 128 + signal.SIGINT
    except _Terminated as exc:
        say(
            f"terminated by signal {exc.signum}: finished runs are in {prepared.request.csv}; run again to resume"
        )
        return 128 + exc.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        prepared.restore()
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print("\n".join(outcome.lines))
    return EXIT_OK if outcome.verified else EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    os._exit(main())
