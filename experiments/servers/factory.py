"""A server by name: the one place that imports every server module (each imports the plan's RunSpec)."""

from __future__ import annotations

from experiments.errors import ExperimentError
from experiments.servers import SERVER_NAMES


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
