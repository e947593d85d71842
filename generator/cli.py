"""``gen-project``: write a synthetic Django project. Imports stay light: the heavy work is imported on use."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from pathlib import Path


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwind like Ctrl-C, so that what was written is removed on the way out."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, _frame):
    raise Terminated(signum)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2, like every other bad input
        self.exit(2, f"Error: {message}\n")


class _Formatter(argparse.HelpFormatter):
    """Help text wrapped between words only: a profile's or option's name is never split at its hyphen."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gen-project",
        description="Write a synthetic Django project of any size.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--models", help="number of models (≥ 1); required unless --like")
    parser.add_argument("--apps", help="number of apps (default: models / 12)")
    parser.add_argument(
        "--profile",
        default="realistic",
        help="minimal, realistic (default), or the presets startup-heavy (most library weight loaded at start-up, "
        "shared by fork: a django-oscar shop's twin) and request-heavy (a heavy first request, private to each "
        "worker: pretix's twin)",
    )
    parser.add_argument("--seed", default="0", help="seed of every random choice (default 0)")
    parser.add_argument(
        "--output", type=Path, help="directory (default generated/<profile>-m<models>-s<seed>/)"
    )
    parser.add_argument(
        "--rows-per-model", default="20", help="Faker rows per model in db.sqlite3 (default 20)"
    )
    parser.add_argument("--no-db", action="store_true", help="write the source tree only")
    parser.add_argument(
        "--database",
        default="sqlite",
        help="sqlite (default: db.sqlite3 in the project) or postgresql (needs --database-url)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="postgresql://[user@]host[:port]/DBNAME: the database to build (created when missing); "
        "the project uses it when its DATABASE_URL says so",
    )
    parser.add_argument("--force", action="store_true", help="replace a directory generated earlier")
    _add_like_options(parser)
    _add_weight_options(parser)
    return parser


def _add_like_options(parser: argparse.ArgumentParser) -> None:
    like = parser.add_argument_group("twin of an existing project")
    like.add_argument(
        "--like",
        metavar="MODULE_OR_PATH",
        help="inspect this project (a directory with manage.py, or a settings module importable from here) "
        "and generate a twin of it; --models scales the twin",
    )
    like.add_argument(
        "--like-url",
        action="append",
        help="a URL it serves; the first one given is its first request (default /); repeat for more",
    )
    like.add_argument(
        "--like-rounds",
        default="10",
        help="rounds of generating, probing and adjusting the twin at most (default 10; each probes every mode)",
    )


def _add_weight_options(parser: argparse.ArgumentParser) -> None:
    weight = parser.add_argument_group("weight knobs (defaults depend on --profile)")
    weight.add_argument("--fields-per-model", help="mean scalar fields per model")
    weight.add_argument("--relations-per-model", help="mean ForeignKey/OneToOne/ManyToMany fields per model")
    weight.add_argument("--loc-per-model", help="lines of business logic (services) per model")
    weight.add_argument("--imports", help="modules imported beyond Django, from generator.imports (0-30)")
    weight.add_argument(
        "--library-loc", help="lines of library code imported at start-up, whatever the model count"
    )
    weight.add_argument(
        "--view-library-loc", help="lines of library code the views import (loaded on the first request)"
    )
    weight.add_argument(
        "--library-work",
        help="share (0-1) of the start-up library that does work at import (compiles a pattern): time per MB; "
        "up to 4, where every component also validates references with it",
    )
    weight.add_argument("--view-library-work", help="the same for the views' library")
    _add_first_visit_options(parser)
    _add_after_fork_options(parser)


def _add_first_visit_options(parser: argparse.ArgumentParser) -> None:
    weight = parser.add_argument_group("first visits (default: none)")
    weight.add_argument(
        "--first-request-work",
        help="entries (0-1,000,000) the first request of a process builds once and keeps, as loading the template "
        "engine's tag libraries and building schemas do: a prewarming master builds them before the fork",
    )
    weight.add_argument(
        "--view-first-work",
        help="entries (0-100,000) each view builds on its first visit in a process and keeps, as compiling its "
        "templates and building its table and filter classes do: a prewarming master builds them for the URLs it "
        "visits, and its workers inherit them",
    )
    weight.add_argument(
        "--urlconf-at-load",
        help="yes: loading the app imports the URLconf (views, forms, admin), as projects that resolve their URLs "
        "in an app's ready() do; no (default): the first request imports it",
    )


def _add_after_fork_options(parser: argparse.ArgumentParser) -> None:
    after_fork = parser.add_argument_group("after a pre-fork server forks (defaults depend on --profile)")
    after_fork.add_argument(
        "--view-touch-share",
        help="share (0-1) of the start-up library every request uses: looks up, validates and caches, writing "
        "into what a pre-fork master shares with its workers, so those pages become each worker's own",
    )
    after_fork.add_argument(
        "--worker-init-work",
        help="entries (0-1,000,000) of lookup tables every process builds on its first request, which no warm-up "
        "in the master can move: stands for what real libraries rebuild after a fork (database, cache and HTTP "
        "clients with their TLS contexts, exporters restarted by os.register_at_fork, per-process caches)",
    )
    after_fork.add_argument(
        "--request-growth-kb",
        help="KB of objects every process keeps per 1,000 requests it serves (0-100,000): what real projects' "
        "workers gather over long traffic (per-request caches that fill, objects that outlive their request)",
    )
    after_fork.add_argument(
        "--request-cache-kb",
        help="where that growth stops: the per-process cache holds at most this many KB, new entries then "
        "evict the oldest (0: no bound, a slow leak)",
    )
    after_fork.add_argument(
        "--library-objects",
        help="containers (0-5,000,000) the start-up library builds at import and keeps, as registries and choice "
        "tables do: the long-lived population a forked worker inherits, which sets how many objects must age "
        "before its collector next runs a full collection (needs --library-loc)",
    )
    after_fork.add_argument(
        "--request-objects",
        help="container objects (0-1,000,000) every request holds until its response is returned, as real views "
        "hold querysets' rows, forms and template contexts: they set how often a worker's collector runs, and so "
        "when its first full collection makes what the master shared private",
    )


def _weight_options() -> tuple[str, ...]:
    """The options --like chooses itself: the app count, the profile and every weight knob."""
    from generator.options import WEIGHT_NAMES

    return ("apps", "profile", *WEIGHT_NAMES)


def _twin_options(args):
    """Inspect the --like project and fit its twin; returns (options at the requested size, manifest record)."""
    from generator.errors import OptionError
    from generator.inspect_project import inspect_project, resolve_target
    from generator.options import resolve_options
    from generator.twin import (
        GROWTH_REQUESTS,
        PROBE_REQUESTS,
        REAL_INSPECTIONS,
        fit_twin,
        format_round,
        format_targets,
        scale_to,
    )

    defaults = build_parser()
    for name in _weight_options():
        if getattr(args, name) != defaults.get_default(name):
            flag = "--" + name.replace("_", "-")
            raise OptionError(flag, "--like chooses it from the inspected project; drop one of them")
    urls = tuple(args.like_url or ["/"])
    for url in urls:
        if not url.startswith("/"):
            raise OptionError("--like-url", f"expected a URL path starting with '/', got {url!r}")
    checked = resolve_options(args.models or 1, seed=args.seed, rows_per_model=args.rows_per_model)
    if not args.like_rounds.isdigit() or int(args.like_rounds) < 1:
        raise OptionError("--like-rounds", f"expected a whole number of at least 1, got {args.like_rounds!r}")
    target = resolve_target(args.like)
    real = [
        inspect_project(target, urls=urls, requests=PROBE_REQUESTS, growth_requests=GROWTH_REQUESTS)
        for _ in range(REAL_INSPECTIONS)
    ]
    print(
        f"{args.like}: {real[0].own_models} models in {real[0].own_apps} apps outside django.contrib "
        f"({real[0].models} models in all), {real[0].url_patterns} URL patterns; first request {urls[0]} "
        f"(median of {len(real)} probes of every mode)"
    )
    for warning in real[0].warnings:
        print(f"  warning: {warning}")
    with _fit_database(args) as database_env:
        twin = fit_twin(
            real,
            seed=checked.seed,
            rows_per_model=checked.rows_per_model,
            rounds=int(args.like_rounds),
            progress=lambda fit: print("\n".join(format_round(fit)), flush=True),
            database_env=database_env,
        )
    print("\n".join(format_targets(twin.real)))
    if twin.misses():
        print(
            f"  (no round fit {', '.join(twin.misses())}: the twin takes round {twin.chosen + 1}, the closest)"
        )
    options = scale_to(twin.options, checked.models if args.models else twin.options.models)
    record = {"target": args.like, "urls": list(urls), "profile": real[0].as_dict(), **twin.record()}
    return options, record


@contextlib.contextmanager
def _fit_database(args):
    """Where --like runs the twin's rounds: on the database kind the twin is built for (a first connection to
    PostgreSQL is part of a cold first request), in a scratch database beside the one named, dropped after."""
    from generator.database import resolve_database, scratch

    target = resolve_database(args.database, args.database_url)
    if target is None:
        yield None
        return
    with scratch(target) as side:
        yield side.env()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return _generate(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _generate(args) -> int:
    from generator.api import default_output, generate_project
    from generator.database import redact, resolve_database
    from generator.errors import GeneratorError

    try:
        target = resolve_database(args.database, args.database_url)
        options, like = _options(args)
        output = args.output or default_output(options, like=args.like)
        started = time.perf_counter()
        manifest = generate_project(
            options,
            output,
            build_db=not args.no_db,
            force=args.force,
            like=like,
            database_url=target.url if target else None,
        )
    except GeneratorError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Terminated) else signal.SIGINT
        what = "interrupted" if signum == signal.SIGINT else f"terminated by signal {signum}"
        # the output holds what it held before, or (a signal held back during the final rename) the whole project
        print(f"Error: {what}; no partial project was left behind", file=sys.stderr)
        return 128 + signum
    counts = manifest["counts"]
    print(
        f"{output}: {counts['apps']} apps, {counts['models']} models, {counts['url_patterns']} URL patterns, "
        f"{counts['lines_of_code']} lines of code"
        f"{'' if args.no_db else f', {options.rows_per_model} rows per model'} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    if target and not args.no_db:
        print(f"database: {redact(target.url)} (run the project with DATABASE_URL set to it)")
    return 0


def _options(args):
    """The options to generate: a twin fitted to the --like project, or the arguments; (options, --like record)."""
    from generator.api import resolve_options
    from generator.errors import OptionError
    from generator.options import WEIGHT_NAMES

    if args.like:
        return _twin_options(args)
    if args.models is None:
        raise OptionError("--models", "required (or --like to copy an existing project)")
    options = resolve_options(
        args.models,
        apps=args.apps,
        profile=args.profile,
        seed=args.seed,
        rows_per_model=args.rows_per_model,
        **{name: getattr(args, name) for name in WEIGHT_NAMES},
    )
    return options, None


if __name__ == "__main__":
    sys.exit(main())
