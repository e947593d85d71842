"""Run inside a generated project (its own interpreter): load it like a pre-fork master, fork one worker, serve.

Usage: python fork_probe.py PROJECT_DIR MODE [REQUESTS]
MODE is ``prefork`` (load ``config.wsgi`` then fork) or ``prewarm`` (also serve every URL once in the master,
close the database connections, then fork). The master collects and freezes its objects just before the fork,
so that a full collection in the worker (a matter of allocation counts, not of the project) cannot blur what is
measured. The worker serves the manifest's URLs through the WSGI application, REQUESTS of them in all (default
one round), and prints one JSON line: the first request's milliseconds, the median of the later ones, and the
worker's private memory (USS, from /proc/self/smaps_rollup) after serving.
"""

import gc
import io
import json
import os
import statistics
import sys
import time


def _uss_mb() -> float:
    private = 0
    with open("/proc/self/smaps_rollup") as handle:
        for line in handle:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                private += int(line.split()[1])
    return private / 1024


def _get(application, url: str) -> tuple[int, float]:
    """One GET through the WSGI application: (status, milliseconds)."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": url,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status = []
    started = time.perf_counter()
    body = application(environ, lambda code, headers, exc_info=None: status.append(code))
    try:
        for _chunk in body:
            pass
    finally:
        getattr(body, "close", lambda: None)()
    return int(status[0].split()[0]), (time.perf_counter() - started) * 1000


def _worker(application, urls: list[str], requests: int, out) -> None:
    statuses, times = [], []
    for number in range(requests):
        status, ms = _get(application, urls[number % len(urls)])
        statuses.append(status)
        times.append(ms)
    report = {
        "first_ms": times[0],
        "later_ms": statistics.median(times[1:]) if len(times) > 1 else None,
        "uss_mb": _uss_mb(),
        "statuses": sorted(set(statuses)),
    }
    out.write(json.dumps(report).encode())


def main(project: str, mode: str, requests: int | None = None) -> int:
    os.chdir(project)
    sys.path.insert(0, project)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    from config.wsgi import application
    from django.db import connections

    with open("manifest.json") as handle:
        urls = json.load(handle)["urls"]
    if mode == "prewarm":
        for url in urls:
            _get(application, url)
        connections.close_all()
    gc.collect()
    gc.freeze()
    report = _in_worker(lambda out: _worker(application, urls, requests or len(urls), out))
    if report is None:
        return 1
    print(report.decode())
    return 0


def _in_worker(work) -> bytes | None:
    """Fork one worker that runs ``work(out)`` and exits; what it wrote to ``out``, or None (an error line
    printed) when it failed or wrote nothing."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns into the caller's code
        code = 1
        try:
            os.close(read)
            with os.fdopen(write, "wb") as out:
                work(out)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as handle:
        report = handle.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not report:
        print(json.dumps({"error": f"worker exited with status {status}"}))
        return None
    return report


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:])))
