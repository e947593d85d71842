"""Where loading and the first request spend their time, timed inside the process that does it.

Copied into each run directory as ``prefork_lab_phases.py`` beside the wrapper, which calls it; standalone
(standard library, and Django's own classes patched in place — never the project's code). Start-up probes wrap
the Django steps every project goes through: the settings import, ``apps.populate`` (each app's module, its
models, its ``ready()``) and the middleware chain; they are installed before the project's WSGI module is
imported, and import only Django modules that importing any WSGI application imports anyway. First-request
probes wrap the URLconf import, opening a database connection and loading a template, and count only while a
worker serves its first request.

A patch is one function call around a step that takes milliseconds: it does not move what it explains.
"""

import sys
import time

_startup = {"settings": 0.0, "apps_import": 0.0, "models": 0.0, "ready": 0.0, "middleware": 0.0}
_apps = {}  # label -> {"import_s", "models_s", "ready_s", "modules"}
_request = {"on": False, "urlconf": 0.0, "db_connect": 0.0, "templates": 0.0}


def _timed(total, key, function):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            total[key] += time.perf_counter() - started

    return timed


def _app(label):
    return _apps.setdefault(label, {"import_s": 0.0, "models_s": 0.0, "ready_s": 0.0, "modules": 0})


def _patch_apps():
    from django.apps.config import AppConfig

    create = AppConfig.create.__func__
    import_models = AppConfig.import_models

    def timed_create(cls, entry):
        started, before = time.perf_counter(), len(sys.modules)
        config = create(cls, entry)
        seconds = time.perf_counter() - started
        _startup["apps_import"] += seconds
        figures = _app(config.label)
        figures["import_s"] += seconds
        figures["modules"] += len(sys.modules) - before
        return config

    def timed_import_models(self):
        started, before = time.perf_counter(), len(sys.modules)
        try:
            return import_models(self)
        finally:
            seconds = time.perf_counter() - started
            _startup["models"] += seconds
            figures = _app(self.label)
            figures["models_s"] += seconds
            figures["modules"] += len(sys.modules) - before
            _time_ready_of(self)  # populate calls every ready() after every import_models()

    AppConfig.create = classmethod(timed_create)
    AppConfig.import_models = timed_import_models


def _time_ready_of(config):
    ready = config.ready  # the subclass's own method, bound

    def timed_ready():
        started = time.perf_counter()
        try:
            return ready()
        finally:
            seconds = time.perf_counter() - started
            _startup["ready"] += seconds
            _app(config.label)["ready_s"] += seconds
            config.__dict__.pop("ready", None)  # the class's method again, as if never wrapped

    config.ready = timed_ready


def install_startup_probes():
    """False when Django is not importable (a plain WSGI app: nothing to time)."""
    try:
        from django.conf import LazySettings
        from django.core.handlers.base import BaseHandler
    except ImportError:
        return False

    LazySettings._setup = _timed(_startup, "settings", LazySettings._setup)
    BaseHandler.load_middleware = _timed(_startup, "middleware", BaseHandler.load_middleware)
    _patch_apps()
    return True


def startup_report(load_s):
    """Seconds per step of loading, ``other`` being what the steps leave of ``load_s`` (the project's own
    module-level code); the slowest apps by import + models + ready()."""
    report = {name: round(value, 6) for name, value in _startup.items()}
    report["other"] = round(max(0.0, load_s - sum(_startup.values())), 6)
    slowest = sorted(_apps.items(), key=lambda item: -sum(v for k, v in item[1].items() if k != "modules"))
    report["apps"] = {label: {k: round(v, 6) for k, v in figures.items()} for label, figures in slowest[:15]}
    return report


def _first_request_only(key, function):
    def timed(*args, **kwargs):
        if not _request["on"]:
            return function(*args, **kwargs)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _request[key] += time.perf_counter() - started

    return timed


def install_request_probes():
    """In a worker, just before its first request (importing the DB and template layers if it has not yet:
    a first request that needs them imports them anyway). False when the app is not a Django app."""
    if "django" not in sys.modules:
        return False
    import django.urls.resolvers as resolvers
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.template.engine import Engine

    resolvers.import_module = _first_request_only("urlconf", resolvers.import_module)
    BaseDatabaseWrapper.connect = _first_request_only("db_connect", BaseDatabaseWrapper.connect)
    Engine.get_template = _first_request_only("templates", Engine.get_template)
    return True


class _Produced(list):
    """A response body produced in full (the view runs while it is produced, and is timed with it) that
    still closes like the original: Django's close() sends request_finished, which closes connections."""

    def __init__(self, chunks, close):
        super().__init__(chunks)
        self._close = close

    def close(self):
        if self._close is not None:
            self._close()


def first_request(app, environ, start_response):
    """Serve the worker's first request with the probes counting; returns (body, report)."""
    before = len(sys.modules)
    _request["on"] = True
    started = time.perf_counter()
    try:
        original = app(environ, start_response)
        body = _Produced(original, getattr(original, "close", None))
    finally:
        _request["on"] = False
    total = time.perf_counter() - started
    parts = {key: round(_request[key] * 1000, 3) for key in ("urlconf", "db_connect", "templates")}
    parts["view"] = round(max(0.0, total * 1000 - sum(parts.values())), 3)
    parts["total"] = round(total * 1000, 3)
    parts["modules"] = len(sys.modules) - before
    return body, parts
