"""The WSGI wrapper every server loads instead of the measured project; it holds all the mode logic.

The runner copies this file into each run's directory as ``prefork_lab_wrapper.py``; a small server adapter
(experiments/servers/*_entry.py, copied beside it) calls it at the right moments. It must stay standalone:
standard library only, never ``experiments``, and importing it has no side effect, so a server's hooks may
import it in any process. The measured project is imported unchanged.

Configuration comes from the environment, never from which server imported us:

PREFORK_LAB_PRELOAD  "1": ``create_app`` runs in the master before fork; "0": in each worker after fork
PREFORK_LAB_WARM     "before-fork" | "after-fork" | "none": who sends the warm-up requests through the app
PREFORK_LAB_FREEZE   "1": gc disabled while loading, collected and frozen before fork, re-enabled after fork
PREFORK_LAB_FREEZE_COLLECT  "0": with freeze, no collection before gc.freeze() (Python's documented recipe)
PREFORK_LAB_MODE     the mode's name, for messages only
PREFORK_LAB_APP      "package.module:callable" of the project's WSGI application
PREFORK_LAB_NOTIFY   the runner's unix datagram socket: a path, or "@name" (abstract)
PREFORK_LAB_WARMUP   warm-up URLs, separated by newlines
PREFORK_LAB_HOST     Host header of warm-up requests, e.g. "127.0.0.1:8123"
PREFORK_LAB_CONTROL  secret token of the runner's control requests (removed from the environment at import)
PREFORK_LAB_PHASES   "0": no phase probes (prefork_lab_phases.py, copied beside us, times loading and first requests)
PREFORK_LAB_OBJECTS  a file path: when preloading, snapshot the master's objects there just before fork (the
                     runner then reads which of their pages each worker made private); absent: no snapshot.
                     The writer, prefork_lab_snapshot.py, is copied beside us for these runs only
PREFORK_LAB_STRICT_FORK  "1": leave DB connections the project opened while loading open, so that workers
                     inherit them and the run fails; default: close them before fork and report ``closed``

The adapter's duties: ``application = create_app()`` where the server loads its app; ``worker_forked()`` right
after each fork (in the worker); ``worker_ready()`` when a worker is about to accept requests;
``worker_retiring()`` when a worker leaves on its server's orders (it is also registered with ``atexit``).

Messages sent to the runner (one datagram each, ASCII, space separated):
    forked <pid> <monotonic_ns>
    loaded <pid> <monotonic_ns> <seconds to import the app> <the default database's engine: sqlite, postgresql…>
    warmed <pid> <monotonic_ns> <seconds of warm-up> <statuses joined by ",">
    ready <pid> <monotonic_ns>
    collected <pid> <monotonic_ns> <json: gc collections per generation since ready, collect_ms, frozen>
    exited <pid> <monotonic_ns> <exit status>  (sent by an adapter's child-exit hook, in the master)
    retired <pid> <monotonic_ns> <requests served>  (the worker itself, as it leaves: recycled by its server)
    closed <pid> <monotonic_ns> <count> <names joined by ",">  (DB connections the app opened while it loaded,
                                                              closed before fork)
    phases <pid> <monotonic_ns> <json: seconds per step of loading the app, the slowest apps>
    firstreq <pid> <monotonic_ns> <json: ms of URLconf import, DB connect, templates, view in a first request>
    error <pid> <monotonic_ns> <traceback>

A request carrying ``X-Prefork-Lab-Control: <token>`` never reaches the project: the worker runs one full
garbage collection, reports ``collected`` and holds the request until the runner releases it (a datagram on
the abstract socket ``<notify>-release-<pid>``), so that each held worker leaves the next control request to
another one. Every other response gets headers:
    X-Prefork-Lab-Worker: pid of the worker
    X-Prefork-Lab-First: "1" on that worker's first request, else "0"
    X-Prefork-Lab-Loaded-In: "master" when the app was imported before fork, else "worker"
    X-Prefork-Lab-Warmed: number of warm-up requests sent through this worker's app before it was ready
    X-Prefork-Lab-Frozen: gc.get_freeze_count() in the worker when it became ready
    X-Prefork-Lab-GC: collections per generation since the worker became ready, before this request, e.g. "41,3,1"
"""

import atexit
import contextlib
import ctypes
import gc
import importlib
import io
import json
import os
import socket
import sys
import time
import traceback

PR_SET_PDEATHSIG = 1
SIGKILL = 9

MODE = os.environ.get("PREFORK_LAB_MODE", "")
PRELOAD = os.environ.get("PREFORK_LAB_PRELOAD", "1") == "1"
WARM = os.environ.get("PREFORK_LAB_WARM", "none")
FREEZE = os.environ.get("PREFORK_LAB_FREEZE", "0") == "1"
FREEZE_COLLECT = os.environ.get("PREFORK_LAB_FREEZE_COLLECT", "1") == "1"
APP_SPEC = os.environ.get("PREFORK_LAB_APP", "")
NOTIFY = os.environ.get("PREFORK_LAB_NOTIFY", "")
if NOTIFY.startswith("@"):
    NOTIFY = "\0" + NOTIFY[1:]
WARMUP = [u for u in os.environ.get("PREFORK_LAB_WARMUP", "").split("\n") if u]
HOST = os.environ.get("PREFORK_LAB_HOST", "127.0.0.1")
CONTROL_TOKEN = os.environ.pop("PREFORK_LAB_CONTROL", "")  # the project must not read it
CONTROL_HEADER = "HTTP_X_PREFORK_LAB_CONTROL"
CONTROL_HOLD_S = 120.0
PHASES = os.environ.get("PREFORK_LAB_PHASES", "1") == "1"
OBJECTS = os.environ.get("PREFORK_LAB_OBJECTS", "")
STRICT_FORK = os.environ.get("PREFORK_LAB_STRICT_FORK", "0") == "1"

try:  # copied beside us by the runner; absent when the wrapper is used alone
    import prefork_lab_phases as phases
except ImportError:
    phases = None
if not PHASES:
    phases = None
snapshot = None
if OBJECTS:  # the objects probe's writer, copied beside us for the runs that take it; imported by those alone
    import prefork_lab_snapshot as snapshot

_state = {
    "app": None,
    "served": False,
    "warmed": 0,
    "loaded_in": "worker",
    "frozen": "0",
    "gc_at_ready": None,
    "collected": False,
    "requests": 0,
    "retired": False,
}


def notify(*parts):
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


def _load_app():
    probed = phases is not None and phases.install_startup_probes()
    started = time.perf_counter()
    module_name, _, attr = APP_SPEC.partition(":")
    module = importlib.import_module(module_name)
    app = getattr(module, attr or "application")
    seconds = time.perf_counter() - started
    notify("loaded", os.getpid(), time.monotonic_ns(), f"{seconds:.6f} {_database_engine()}")
    if probed:
        report = json.dumps(phases.startup_report(seconds), separators=(",", ":"))
        notify("phases", os.getpid(), time.monotonic_ns(), report)
    return app


def _database_engine():
    """The default database's engine as the settings name it ("-": none, or no Django): read, never imported,
    since importing its backend here would move that import into the master."""
    conf = sys.modules.get("django.conf")
    try:
        engine = conf.settings.DATABASES["default"]["ENGINE"]
    except Exception:  # noqa: BLE001 - any project: no Django, no settings, no default database
        return "-"
    name = str(engine).rsplit(".", 1)[-1]
    return {"sqlite3": "sqlite"}.get(name, name) or "-"


def _call(app, url):
    """One GET through the WSGI app, in this process; returns the status code as text."""
    path, _, query = url.partition("?")
    host, _, port = HOST.partition(":")
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

    def start_response(status, headers, exc_info=None):
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
    return seen[0] if seen else "?"


def _close_connections():
    """Close every DB connection and pool, so that no worker inherits the master's socket or file handle."""
    db = sys.modules.get("django.db")
    if db is None:
        return
    for connection in db.connections.all(initialized_only=True):
        connection.close()
        if connection.alias in getattr(type(connection), "_connection_pools", {}):
            connection.close_pool()  # Django 5.1+ pools; reading .pool would create one


def _open_connections():
    """The DB connections and pools open in this process, by alias; right after fork, inherited ones."""
    db = sys.modules.get("django.db")
    if db is None:
        return []
    found = []
    for connection in db.connections.all(initialized_only=True):
        in_memory = getattr(connection, "is_in_memory_db", lambda: False)()  # no file, no socket: a copy
        if getattr(connection, "connection", None) is not None and not in_memory:
            found.append(f"{connection.alias} ({connection.vendor} connection)")
        if connection.alias in getattr(type(connection), "_connection_pools", {}):
            found.append(f"{connection.alias} ({connection.vendor} pool)")
    return found


def _warm_up(app, before_fork):
    started = time.perf_counter()
    statuses = [_call(app, url) for url in WARMUP]
    if before_fork:
        # every worker would inherit them; a worker's own connections after its own warm-up are its to keep (a
        # project that holds a cursor across requests breaks when they are closed under it)
        _close_connections()
    _state["warmed"] = len(WARMUP)
    notify(
        "warmed",
        os.getpid(),
        time.monotonic_ns(),
        f"{time.perf_counter() - started:.6f}",
        ",".join(statuses),
    )


def create_app():
    """Import the project's app (in the master when preloading, else in the worker) and return ours."""
    try:
        if PRELOAD:
            _state["loaded_in"] = "master"
            if FREEZE:
                gc.disable()  # no collection while loading: fewer freed holes in the pages fork will share
        _state["app"] = _load_app()
        opened = _open_connections() if PRELOAD else []
        if WARM == "before-fork":
            _warm_up(_state["app"], before_fork=PRELOAD)
        if opened and not STRICT_FORK:
            # the project queried while it loaded: close before fork, as a careful deployment's pre-fork hook does
            _close_connections()
            notify("closed", os.getpid(), time.monotonic_ns(), len(opened), ",".join(opened))
        if FREEZE:
            if FREEZE_COLLECT:
                gc.collect()
            gc.freeze()  # everything so far goes to the permanent generation: no collection writes to it again
        if PRELOAD and OBJECTS:
            snapshot.snapshot_objects(OBJECTS)
    except BaseException:
        notify("error", os.getpid(), time.monotonic_ns(), traceback.format_exc())
        raise
    return application


def worker_forked():
    """Right after fork, in the worker. A DB connection open now was inherited from the master: every worker
    would share one socket or file handle, so the run fails, naming it."""
    _die_with_parent()
    if FREEZE:
        gc.enable()
    notify("forked", os.getpid(), time.monotonic_ns())
    atexit.register(worker_retiring)  # uWSGI runs atexit hooks in a worker it recycles
    inherited = _open_connections()
    if inherited:
        message = f"a database connection was inherited across fork: {', '.join(inherited)}"
        notify("error", os.getpid(), time.monotonic_ns(), message)


def worker_ready():
    """The worker is about to accept: warm it up first when asked, then tell the runner."""
    try:
        if WARM == "after-fork":
            _warm_up(_state["app"], before_fork=False)
    except BaseException:
        notify("error", os.getpid(), time.monotonic_ns(), traceback.format_exc())
        raise
    _state["frozen"] = str(gc.get_freeze_count())  # walks a list: once here, never per request
    _state["gc_at_ready"] = [stats["collections"] for stats in gc.get_stats()]
    notify("ready", os.getpid(), time.monotonic_ns())


def worker_retiring():
    """The worker leaves on its server's orders (max requests, RSS, lifetime): tell the runner, once."""
    if _state["retired"] or _state["gc_at_ready"] is None:
        return
    _state["retired"] = True
    notify("retired", os.getpid(), time.monotonic_ns(), _state["requests"])


def _collections_since_ready():
    now = [stats["collections"] for stats in gc.get_stats()]
    return [a - b for a, b in zip(now, _state["gc_at_ready"] or [0] * len(now), strict=True)]


def _collect_and_hold(start_response):
    pid = os.getpid()
    if _state["collected"]:  # a second control request met the same worker: answer at once
        body = json.dumps({"pid": pid, "again": True}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    since_ready = _collections_since_ready()
    release = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        if NOTIFY:
            release.bind(f"{NOTIFY}-release-{pid}")
        started = time.perf_counter()
        gc.collect()
        report = {
            "pid": pid,
            "collections": since_ready,
            "collect_ms": round((time.perf_counter() - started) * 1000, 3),
            "frozen": gc.get_freeze_count(),
        }
        _state["collected"] = True
        notify("collected", pid, time.monotonic_ns(), json.dumps(report, separators=(",", ":")))
        if NOTIFY:
            release.settimeout(CONTROL_HOLD_S)
            with contextlib.suppress(OSError):  # no release within the hold: answer anyway
                release.recv(64)
    finally:
        release.close()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode()]


def application(environ, start_response):
    if CONTROL_TOKEN and environ.get(CONTROL_HEADER) == CONTROL_TOKEN:
        return _collect_and_hold(start_response)
    first = "0" if _state["served"] else "1"
    _state["served"] = True
    _state["requests"] += 1
    extra = [
        ("X-Prefork-Lab-Worker", str(os.getpid())),
        ("X-Prefork-Lab-First", first),
        ("X-Prefork-Lab-Loaded-In", _state["loaded_in"]),
        ("X-Prefork-Lab-Warmed", str(_state["warmed"])),
        ("X-Prefork-Lab-Frozen", _state["frozen"]),
        ("X-Prefork-Lab-GC", ",".join(map(str, _collections_since_ready()))),
    ]

    def wrapped_start_response(status, headers, exc_info=None):
        return start_response(status, list(headers) + extra, exc_info)

    if first == "1" and phases is not None and phases.install_request_probes():
        body, report = phases.first_request(_state["app"], environ, wrapped_start_response)
        notify("firstreq", os.getpid(), time.monotonic_ns(), json.dumps(report, separators=(",", ":")))
        return body
    return _state["app"](environ, wrapped_start_response)
