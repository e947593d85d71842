"""The child side of generator/probe.py: a pre-fork master in miniature, standard library and Django only.

generator/probe.py runs this file's source with ``python -c`` in the project's directory (so no module of this
package can shadow one of the project's), one fresh interpreter per mode, and reads one JSON line from stdout.
The request (argv[1], JSON) names the mode, the WSGI application, the URLs, how many requests each child serves,
how many children to fork and whether to count the project's structure.

The interpreter acts as a pre-fork server's master: it loads the app (``prefork``), loads it and serves the URLs
first (``prewarm``: a warm-up, then database connections closed), or leaves loading to the children (``lazy``). Each
forked child loads the app if the master did not, serves every URL through the WSGI callable (in rounds, up to the
requests asked for, counting its own collector's full collections), and stops so the master can read every child's
memory while all are alive (PSS divides shared pages among the living): after the URLs, after one ``gc.collect()``.
Children die with the master (PR_SET_PDEATHSIG) and are killed in ``finally``.
"""

import contextlib
import ctypes
import gc
import importlib
import io
import json
import os
import select
import signal
import sys
import sysconfig
import time

PR_SET_PDEATHSIG = 1
STAGES = ("served", "collected")


def stages(request):
    """Where the master reads every child's memory: after serving, after a full collection, and, when asked,
    after ``growth_requests`` more requests (how memory grows over long traffic)."""
    return (*STAGES, "grown") if request.get("growth_requests") else STAGES


_SMAPS_FIELDS = {"Pss:": "pss", "Private_Clean:": "private", "Private_Dirty:": "private"}
STDLIB = tuple({sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]})


def die_with_parent():
    """SIGKILL this process when its parent dies; exit now if the parent is already gone."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)


def rss_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576


def smaps_mb(pid):
    """(USS, PSS) of a process in MB, from /proc/<pid>/smaps_rollup."""
    values = {"pss": 0, "private": 0}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
        for line in handle:
            parts = line.split()
            if parts and parts[0] in _SMAPS_FIELDS:
                values[_SMAPS_FIELDS[parts[0]]] += int(parts[1])
    return round(values["private"] / 1024, 2), round(values["pss"] / 1024, 2)


def lines_of(names):
    """Source lines of the modules ``names`` outside the standard library: (Django's, everyone else's)."""
    django = other = 0
    for name in names:
        path = getattr(sys.modules.get(name), "__file__", None) or ""
        if not path.endswith(".py") or (path.startswith(STDLIB) and "site-packages" not in path):
            continue
        try:
            with open(path, "rb") as handle:
                count = handle.read().count(b"\n")
        except OSError:
            continue
        if name == "django" or name.startswith("django."):
            django += count
        else:
            other += count
    return django, other


class Phase:
    """What one step costs the process that runs it: seconds, resident MB after it, modules and lines it loads."""

    def __init__(self):
        self.modules_before = set(sys.modules)
        self.rss_before = rss_mb()
        self.started = time.perf_counter()

    def done(self, status=0):
        seconds = time.perf_counter() - self.started
        names = set(sys.modules) - self.modules_before
        django, other = lines_of(names)
        return {
            "seconds": round(seconds, 4),
            "rss_mb": round(rss_mb(), 2),
            "rss_before_mb": round(self.rss_before, 2),
            "modules": len(names),
            "django_lines": django,
            "other_lines": other,
            "status": status,
        }


def load_app(wsgi):
    """The WSGI callable: "module:attr" as a server imports it, or Django's own for DJANGO_SETTINGS_MODULE."""
    if not wsgi:
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()
    module_name, _, attr = wsgi.partition(":")
    return getattr(importlib.import_module(module_name), attr or "application")


def serve(app, url, host):
    """One GET through the WSGI callable, body consumed and closed as a server does; the status code."""
    path, _, query = url.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": host,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
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
    body = app(environ, lambda status, headers, exc_info=None: seen.append(status) or (lambda data: None))
    try:
        for _chunk in body:
            pass
    finally:
        getattr(body, "close", lambda: None)()
    return int(seen[0].split()[0]) if seen else 0


def serve_all(app, urls, host, requests=0):
    """(the first URL as a phase: a cold first request, the statuses, the mean ms of each other URL's first visit
    or None); then more rounds over the URLs until ``requests`` were served in all, as a worker's traffic."""
    phase, full = Phase(), full_collections()
    first = {**phase.done(serve(app, urls[0], host)), "full_collections": full_collections() - full}
    started = time.perf_counter()
    statuses = [first["status"]] + [serve(app, url, host) for url in urls[1:]]
    others_ms = round((time.perf_counter() - started) * 1000 / (len(urls) - 1), 2) if len(urls) > 1 else None
    for number in range(len(urls), requests):
        serve(app, urls[number % len(urls)], host)
    return first, statuses, others_ms


def urlconf_loaded():
    """Whether loading the app already imported the root URLconf (most leave it to the first request)."""
    from django.conf import settings

    return getattr(settings, "ROOT_URLCONF", None) in sys.modules


def full_collections():
    """How many full (oldest generation) collections this process has run."""
    return gc.get_stats()[-1]["collections"]


def young_collections():
    """Collections of the youngest generation this process ran: one per 700 containers allocated and alive."""
    return gc.get_stats()[0]["collections"]


def close_connections():
    """No child may inherit the master's database connection (what a prewarming server does before fork)."""
    db = sys.modules.get("django.db")
    if db is not None:
        db.connections.close_all()


def child_main(request, app, report, go):
    """A forked child: load if needed, serve the URLs, stop at each stage until the master has read memory."""
    die_with_parent()
    out = {"pid": os.getpid()}
    if app is None:
        phase, app = Phase(), load_app(request["wsgi"])
        out["load"], out["urlconf_at_load"] = phase.done(), urlconf_loaded()
    before, young = full_collections(), young_collections()
    out["first_request"], out["statuses"], out["others_ms"] = serve_all(
        app, request["urls"], request["host"], request["requests"]
    )
    # Whether the worker's own collector has already reached what the master shared decides its private memory.
    out["full_collections"] = full_collections() - before
    out["young_collections"] = young_collections() - young
    out["served"] = max(len(request["urls"]), request["requests"])
    for stage in stages(request):
        if stage == "collected":
            gc.collect()
        elif stage == "grown":  # after the collection: what serving keeps, without the step a first one makes
            before = full_collections()
            for number in range(request["growth_requests"]):
                serve(app, request["urls"][number % len(request["urls"])], request["host"])
            # The collector's rhythm under long traffic: how often it reaches the oldest generation on its own.
            out["grown_full_collections"] = full_collections() - before
        os.write(report, (json.dumps({**out, "stage": stage}) + "\n").encode())
        out = {}
        if os.read(go, 1) != b"g":
            break


def fork_children(request, app):
    """Fork the children; returns [(pid, report_fd, go_fd)] in the master."""
    children = []
    for _ in range(request["children"]):
        report_r, report_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                for _pid, fd_a, fd_b in children:
                    os.close(fd_a)
                    os.close(fd_b)
                os.close(report_r)
                os.close(go_w)
                child_main(request, app, report_w, go_r)
                os._exit(0)
            except BaseException as exc:
                import traceback

                traceback.print_exc()
                error = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
                os.write(report_w, (json.dumps(error) + "\n").encode())
                os._exit(1)
        os.close(report_w)
        os.close(go_r)
        children.append((pid, report_r, go_w))
    return children


def read_report(pid, fd, deadline):
    """One JSON line from a child, or RuntimeError when it dies or the deadline passes."""
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise RuntimeError(f"child {pid} did not report in time")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RuntimeError(f"child {pid} exited before reporting (its traceback is above)")
        data += chunk
    report = json.loads(data)
    if "error" in report:
        raise RuntimeError(f"child {pid}: {report['error']}")
    return report


def run_children(request, app):
    """Fork, then at each stage: wait for every child, read every child's memory, release them all."""
    children = fork_children(request, app)
    deadline = time.monotonic() + request["timeout"]
    results = {pid: {"pid": pid} for pid, _r, _w in children}
    master = {}
    reaped = False
    try:
        for stage in stages(request):
            for pid, report, _go in children:
                results[pid].update(
                    {k: v for k, v in read_report(pid, report, deadline).items() if k != "stage"}
                )
            for pid, _report, _go in children:
                results[pid][f"uss_{stage}_mb"], results[pid][f"pss_{stage}_mb"] = smaps_mb(pid)
            master[f"uss_{stage}_mb"], master[f"pss_{stage}_mb"] = smaps_mb(os.getpid())
            for _pid, _report, go in children:
                os.write(go, b"g")
        for pid, _report, _go in children:
            os.waitpid(pid, 0)
        reaped = True
    finally:
        for pid, report, go in children:
            os.close(report)
            os.close(go)
            if not reaped:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
    return [results[pid] for pid, _r, _w in children], master


def count_structure():
    """Models (all, outside django.contrib), apps, fields and relations per own model, URL patterns, own apps' models."""
    from django.apps import apps
    from django.urls import URLResolver, get_resolver

    def count(resolver):
        return sum(count(p) if isinstance(p, URLResolver) else 1 for p in resolver.url_patterns)

    own = [c for c in apps.get_app_configs() if not c.name.startswith("django.contrib.")]
    own_models = [model for c in own for model in c.get_models()]
    app_models = {c.label: sum(1 for _ in c.get_models()) for c in own}
    fields = relations = 0
    for model in own_models:
        for f in model._meta.get_fields(include_hidden=False):
            if getattr(f, "auto_created", False) and not f.concrete:
                continue
            if f.is_relation and (f.many_to_many or f.many_to_one or f.one_to_one) and not f.auto_created:
                relations += 1
            elif getattr(f, "concrete", False) and not f.is_relation and not getattr(f, "primary_key", False):
                fields += 1
    n = max(1, len(own_models))
    return {
        **settings_read(),
        "models": len(apps.get_models()),
        "own_models": len(own_models),
        "apps": len(apps.get_app_configs()),
        "own_apps": sum(1 for c in own if any(True for _ in c.get_models())),
        "fields_per_model": round(fields / n, 2),
        "relations_per_model": round(relations / n, 2),
        "url_patterns": count(get_resolver()),
        "app_models": app_models,
    }


def settings_read():
    """WSGI_APPLICATION, and the default database's vendor, connection age (s, None: for ever) and pool (Django
    5.1+: its size, 0 none, -1 psycopg's default): what a deployment is configured from; no connection opened."""
    from django.conf import settings
    from django.db import connections

    default = settings.DATABASES.get("default", {})
    pool = default.get("OPTIONS", {}).get("pool", False)
    pool_size = (
        (pool.get("max_size") or pool.get("min_size") or -1) if isinstance(pool, dict) else -1 if pool else 0
    )
    return {
        "wsgi_application": getattr(settings, "WSGI_APPLICATION", None) or "",
        "database_vendor": connections["default"].vendor if default else "",
        "conn_max_age": default.get("CONN_MAX_AGE", 0),
        "pool_size": pool_size,
    }


def max_connections():
    """PostgreSQL's max_connections (one connection, closed again); None elsewhere or when unreachable."""
    from django.db import connections

    connection = connections["default"]
    if connection.vendor != "postgresql":
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_connections")
            return int(cursor.fetchone()[0])
    except Exception:  # noqa: BLE001 - an unreachable server is reported as unknown, not as a failed probe
        return None
    finally:
        connections.close_all()


def main(request):
    """Run one mode and return its JSON-able result."""
    result = {
        "mode": request["mode"],
        "baseline_rss_mb": round(rss_mb(), 2),
        "growth_requests": request.get("growth_requests", 0),
    }
    app = None
    if request["mode"] in ("prefork", "prewarm"):
        phase = Phase()
        app = load_app(request["wsgi"])
        result["load"] = phase.done()
        result["urlconf_at_load"] = urlconf_loaded()
        if request["mode"] == "prewarm":
            warmup = serve_all(app, request["urls"], request["host"])
            result["warmup"], result["warmup_statuses"], result["warmup_others_ms"] = warmup
            close_connections()
    # What a worker inherits in the oldest generation: a full collection waits until a quarter as many again aged.
    result["inherited_objects"] = len(gc.get_objects(generation=2))
    if request["children"]:
        result["children"], result["master"] = run_children(request, app)
    if request["count"]:
        if app is None:  # lazy: only the children loaded it; loading now cannot change what they measured
            load_app(request["wsgi"])
        result["structure"] = count_structure()
        if request.get("database"):
            result["structure"]["max_connections"] = max_connections()
    return result


if __name__ == "__main__":
    die_with_parent()
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
