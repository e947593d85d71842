"""Pre-fork servers behind one interface (base.py), one file per server."""

from __future__ import annotations

from experiments.errors import ExperimentError

SERVER_NAMES: tuple[str, ...] = ("uwsgi", "gunicorn", "granian")
DEFAULT_SERVER = "uwsgi"
# Servers that never import the app before their workers start: only the modes whose preload is False run on
# them. Kept here, so that the sweep can refuse the others without importing a server module.
LAZY_ONLY: tuple[str, ...] = ("granian",)


def supports_preload(name: str) -> bool:
    return name not in LAZY_ONLY


def get_server(name: str, executable: str | None = None, python: str | None = None):
    """The server called ``name`` for the interpreter ``python`` (default: ours), its program found.

    ExperimentError naming the fix when it is missing.
    """
    if name == "uwsgi":
        from experiments.servers.uwsgi import Uwsgi

        return Uwsgi(executable, python)
    if name == "gunicorn":
        from experiments.servers.gunicorn import Gunicorn

        return Gunicorn(executable, python)
    if name == "granian":
        from experiments.servers.granian import Granian

        return Granian(executable, python)
    raise ExperimentError(f"unknown server {name!r}; choose from {', '.join(SERVER_NAMES)}")
