"""WSGI wrapper that uWSGI loads instead of the measured project; it holds all the mode logic.

The runner copies this file into each run's directory as ``prefork_lab_wrapper.py`` and puts that directory on
uWSGI's python path, so it must stay standalone: standard library and ``uwsgi`` only, never ``experiments``.
The measured project is imported unchanged. Configuration comes from environment variables:

PREFORK_LAB_MODE     lazy | prefork | prewarm | prewarm-freeze
PREFORK_LAB_APP      "package.module:callable" of the project's WSGI application
PREFORK_LAB_NOTIFY   the runner's unix datagram socket (readiness events): a path, or "@name" (abstract)
PREFORK_LAB_WARMUP   warm-up URLs, separated by newlines (prewarm modes)
PREFORK_LAB_HOST     Host header of warm-up requests, e.g. "127.0.0.1:8123"

Messages sent to the runner (one datagram each, ASCII, space separated):
    loaded <pid> <monotonic_ns> <seconds to import the app>
    warmed <pid> <monotonic_ns> <seconds of warm-up> <statuses joined by ",">
    ready <pid> <monotonic_ns>
    error <pid> <monotonic_ns> <traceback>
Response headers added to every response:
    X-Prefork-Lab-Worker: pid of the worker
    X-Prefork-Lab-First: "1" on that worker's first request, else "0"
    X-Prefork-Lab-Loaded-In: "master" when the app was imported before fork, else "worker"
    X-Prefork-Lab-Warmed: number of warm-up requests made before fork
    X-Prefork-Lab-Frozen: gc.get_freeze_count() in the worker
"""

import ctypes
import gc
import importlib
import io
import os
import socket
import sys
import time
import traceback

PR_SET_PDEATHSIG = 1
SIGKILL = 9

MODE = os.environ.get("PREFORK_LAB_MODE", "prefork")
APP_SPEC = os.environ.get("PREFORK_LAB_APP", "")
NOTIFY = os.environ.get("PREFORK_LAB_NOTIFY", "")
if NOTIFY.startswith("@"):
    NOTIFY = "\0" + NOTIFY[1:]
WARMUP = [u for u in os.environ.get("PREFORK_LAB_WARMUP", "").split("\n") if u]
HOST = os.environ.get("PREFORK_LAB_HOST", "127.0.0.1")

_state = {"served": False, "warmed": 0, "loaded_in": "worker", "frozen": "0"}


def _notify(*parts):
    if not NOTIFY:
        return
    message = " ".join(str(p) for p in parts).encode("utf-8", "replace")[:60000]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message, NOTIFY)
    except OSError:
        pass  # the runner is gone; nothing to tell


def _die_with_parent():
    """Kill this process (SIGKILL) as soon as its parent dies: no orphan survives the master."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _worker_id():
    try:
        import uwsgi

        return uwsgi.worker_id()
    except ImportError:
        return -1


def _load_app():
    module_name, _, attr = APP_SPEC.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr or "application")


def _warm_up(app):
    statuses = []
    host, _, port = HOST.partition(":")
    for url in WARMUP:
        path, _, query = url.partition("?")
        environ = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": host,
            "SERVER_PORT": port or "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": HOST,
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        seen = []

        def start_response(status, headers, exc_info=None, seen=seen):
            seen.append(status.split(" ", 1)[0])
            return lambda data: None

        body = app(environ, start_response)
        try:
            for _chunk in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        statuses.append(seen[0] if seen else "?")
    _state["warmed"] = len(WARMUP)
    return statuses


def _close_connections():
    """Close every DB connection so no worker inherits the master's socket or file handle."""
    db = sys.modules.get("django.db")
    if db is not None:
        db.connections.close_all()


def _ready():
    _notify("ready", os.getpid(), time.monotonic_ns())


def _postfork():
    _die_with_parent()
    _state["frozen"] = str(gc.get_freeze_count())  # walks a list: once here, never per request
    _ready()


def _load_in_master():
    started = time.perf_counter()
    app = _load_app()
    _notify("loaded", os.getpid(), time.monotonic_ns(), f"{time.perf_counter() - started:.6f}")
    _state["loaded_in"] = "master"
    if MODE in ("prewarm", "prewarm-freeze"):
        started = time.perf_counter()
        statuses = _warm_up(app)
        _close_connections()
        _notify(
            "warmed",
            os.getpid(),
            time.monotonic_ns(),
            f"{time.perf_counter() - started:.6f}",
            ",".join(statuses),
        )
    if MODE == "prewarm-freeze":
        gc.collect()
        gc.freeze()  # all objects so far go to the permanent generation: the GC no longer writes to them
    return app


def _load_in_worker():
    _die_with_parent()
    started = time.perf_counter()
    app = _load_app()
    _notify("loaded", os.getpid(), time.monotonic_ns(), f"{time.perf_counter() - started:.6f}")
    return app


def _boot():
    if _worker_id() > 0:  # lazy-apps: we are already a worker
        app = _load_in_worker()
        _ready()
        return app
    app = _load_in_master()
    try:
        import uwsgidecorators

        uwsgidecorators.postfork(_postfork)
    except ImportError:  # not under uWSGI (unit use): nothing forks
        pass
    return app


try:
    _app = _boot()
except BaseException:
    _notify("error", os.getpid(), time.monotonic_ns(), traceback.format_exc())
    raise


def application(environ, start_response):
    first = "0" if _state["served"] else "1"
    _state["served"] = True
    extra = [
        ("X-Prefork-Lab-Worker", str(os.getpid())),
        ("X-Prefork-Lab-First", first),
        ("X-Prefork-Lab-Loaded-In", _state["loaded_in"]),
        ("X-Prefork-Lab-Warmed", str(_state["warmed"])),
        ("X-Prefork-Lab-Frozen", _state["frozen"]),
    ]

    def wrapped_start_response(status, headers, exc_info=None):
        return start_response(status, list(headers) + extra, exc_info)

    return _app(environ, wrapped_start_response)
