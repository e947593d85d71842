"""``advise``'s command line → a checked Request; ExperimentError ``--option: why`` for the first bad one. Reads
the project's manage.py and nothing else: loading the project is run.py's."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from experiments.advice.plan import MIN_REPETITIONS, SAMPLES, Request, check_modes, parse_memory
from experiments.errors import ExperimentError
from experiments.modes import MODE_NAMES

MAX_CORES = 1024
MAX_WORKERS = 64
MAX_REPETITIONS = 100
MAX_REQUESTS = 100_000
MAX_URLS = 20
MIN_LIFECYCLE = 5 * SAMPLES  # readings enough in a worker's second half for a slope


def cores_here() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _project(value: str) -> tuple[Path, str, str]:
    """(root, settings module, name) of PROJECT."""
    from generator.errors import GeneratorError
    from generator.inspect_project import resolve_target

    try:
        target = resolve_target(value, option="PROJECT")
    except GeneratorError as exc:
        raise ExperimentError(str(exc)) from None
    path = Path(value).expanduser()
    name = path.resolve().name if path.is_dir() else target.settings_module.split(".")[0]
    return target.root, target.settings_module, name


def _whole(option: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ExperimentError(f"{option}: must be from {low:,} to {high:,}, got {value:,}")
    return value


def _urls(values: list[str] | None) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[int, ...]], ...]]:
    """(paths, allowed): ``/api/=401,403`` names a URL that answers those statuses by design (an API root
    without credentials), which then measure the page as 2xx and 3xx do."""
    urls, allowed = [], []
    for value in values or ["/"]:
        url, _, statuses = value.partition("=")
        if not url.startswith("/") or any(c.isspace() for c in url):
            raise ExperimentError(
                f"--url: expected a path starting with '/' (=STATUS,… optional), got {value!r}"
            )
        if statuses:
            if not re.fullmatch(r"\d{3}(,\d{3})*", statuses) or not all(
                100 <= int(s) <= 599 for s in statuses.split(",")
            ):
                raise ExperimentError(
                    f"--url: expected {url}=STATUS[,STATUS…] with HTTP statuses, got {value!r}"
                )
            allowed.append((url, tuple(sorted({int(s) for s in statuses.split(",")}))))
        urls.append(url)
    if len(urls) > MAX_URLS:
        raise ExperimentError(f"--url: at most {MAX_URLS} URLs, got {len(urls)}")
    return tuple(urls), tuple(allowed)


def _wsgi(value: str | None) -> str:
    if value is None:
        return ""
    module, _, attr = value.partition(":")
    if not all(part.isidentifier() for part in module.split(".")) or (attr and not attr.isidentifier()):
        raise ExperimentError(
            f"--wsgi: expected module:callable, e.g. mysite.wsgi:application, got {value!r}"
        )
    return value


def check_database_url(url: str | None) -> str:
    if not url:
        return ""
    from generator.database import redact

    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise ExperimentError(f"--database-url: {redact(url)!r}: {exc}") from None
        if parts.path.strip("/"):
            return url
    elif parts.scheme == "sqlite" and parts.path:
        return url
    raise ExperimentError(
        f"--database-url: expected postgresql://[user@]host[:port]/DBNAME or sqlite:///PATH, got {redact(url)!r}"
    )


def _python(value: str | None) -> str:
    if not value:
        return ""
    path = Path(value).expanduser().absolute()
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ExperimentError(f"--python: no executable interpreter at {path}")
    return os.path.normpath(path)


def _workers(text: str) -> tuple[int, ...]:
    if not re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", text):
        raise ExperimentError(f"--measure-workers: expected worker counts such as 1,2,4, got {text!r}")
    counts = sorted({int(part) for part in text.split(",")})
    if len(counts) < 2 or counts[0] < 1 or counts[-1] > MAX_WORKERS:
        raise ExperimentError(
            f"--measure-workers: at least two different counts from 1 to {MAX_WORKERS} (a line needs two), "
            f"got {text!r}"
        )
    return tuple(counts)


def check_request(args: argparse.Namespace) -> Request:
    """The Request of ``args``, every option checked in the order of the help."""
    root, settings, name = _project(args.project)
    if not args.memory:
        raise ExperimentError("--memory: required: the server's memory budget, e.g. --memory 4GiB")
    try:
        memory = parse_memory(args.memory)
    except ValueError as exc:
        raise ExperimentError(f"--memory: {exc}") from None
    cores = _whole("--cores", args.cores if args.cores is not None else cores_here(), 1, MAX_CORES)
    urls, allowed = _urls(args.url)
    wsgi = _wsgi(args.wsgi)
    database_url = check_database_url(args.database_url)
    python = _python(args.python)
    output = (args.output or Path("advice") / name).expanduser().absolute()
    modes = check_modes([m.strip() for m in args.modes.split(",")], args.server) if args.modes else MODE_NAMES
    workers = _workers(args.measure_workers)
    lifecycle = args.lifecycle_requests
    if lifecycle and not MIN_LIFECYCLE <= lifecycle <= MAX_REQUESTS:
        raise ExperimentError(
            f"--lifecycle-requests: 0 (none) or from {MIN_LIFECYCLE} to {MAX_REQUESTS:,}, got {lifecycle:,}"
        )
    return Request(
        root=root,
        settings=settings,
        name=name,
        server=args.server,
        memory_mb=memory,
        memory_text=args.memory.strip(),
        cores=cores,
        urls=urls,
        allowed=allowed,
        output=output,
        wsgi=wsgi,
        database_url=database_url,
        python=python,
        modes=modes,
        workers=workers,
        repetitions=_whole("--repetitions", args.repetitions, MIN_REPETITIONS, MAX_REPETITIONS),
        requests=_whole("--requests", args.requests, 1, MAX_REQUESTS),
        lifecycle_requests=lifecycle,
        fresh=args.fresh,
    )
