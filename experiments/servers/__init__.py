"""Pre-fork servers: the one list of them and what each offers, one file per server behind base.py.

Names only, importing no server module, so that the sweep, the plan and the analysis read them without loading
a server (whose modules import the plan); ``experiments.servers.factory.get_server`` builds one by name.
"""

from __future__ import annotations

SERVER_NAMES: tuple[str, ...] = ("uwsgi", "gunicorn", "granian")
DEFAULT_SERVER = "uwsgi"
# How people write each name: figures' titles.
SERVER_LABELS: dict[str, str] = {"uwsgi": "uWSGI", "gunicorn": "gunicorn", "granian": "granian"}
# Servers that never import the app before their workers start: only the modes whose preload is False run on
# them. Kept here, so that the sweep can refuse the others without importing a server module.
LAZY_ONLY: tuple[str, ...] = ("granian",)
# Which server offers which recycling policy; every one of them replaces the worker by a fresh fork.
RECYCLING_SERVERS: dict[str, tuple[str, ...]] = {
    "max_requests": ("uwsgi", "gunicorn"),
    "reload_on_rss": ("uwsgi",),
    "max_worker_lifetime": ("uwsgi",),
    "min_worker_lifetime": ("uwsgi",),
}


def supports_preload(name: str) -> bool:
    return name not in LAZY_ONLY
