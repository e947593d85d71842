"""The advice as files to paste: the server's configuration, the warm-up module and (uWSGI) the WSGI entry that
calls it. Rendered from Jinja2 templates (``templates/``, StrictUndefined: a missing value is an error, never an
empty string in someone's production configuration); pure: a Deployment in, {file name: text} out.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from experiments.modes import get_mode, warms

TEMPLATE_DIR = Path(__file__).parent / "templates"
CONFIG_FILES = {"gunicorn": "gunicorn.conf.py", "uwsgi": "uwsgi.ini"}
WARMUP_FILE = "prefork_warmup.py"
ENTRY_FILE = "wsgi_prefork.py"
WARMUP_HOST = "127.0.0.1"  # the lab's own warm-up and traffic use it: the measured figures hold for it
MIN_TIMEOUT_S = 30  # gunicorn's default


@dataclass(frozen=True)
class Deployment:
    """Everything the files say."""

    server: str
    server_version: str
    mode: str
    name: str
    root: Path
    settings: str
    wsgi: str  # "module:callable"
    urls: tuple[str, ...]
    workers: int
    max_requests: int
    jitter: int
    recycling_why: str
    startup_s: float  # the slowest start-up measured in the mode
    home: str  # the interpreter's prefix (uWSGI's home)
    summary: tuple[str, ...] = ()  # comment lines: what was measured and predicted
    allowed: tuple[
        tuple[str, tuple[int, ...]], ...
    ] = ()  # URL -> statuses besides 2xx/3xx it answers by design

    @property
    def hooks(self) -> bool:
        """The mode needs code of ours: preloading closes connections before fork; warming and freezing act."""
        mode = get_mode(self.mode)
        return mode.preload or warms(self.mode) or mode.freeze

    @property
    def config_file(self) -> str:
        return CONFIG_FILES[self.server]


@cache
def _environment():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.policies["json.dumps_function"] = json.dumps
    return environment


def gunicorn_timeout(startup_s: float) -> int:
    """Three times the slowest start-up measured, at least gunicorn's default: a sync worker that has not
    reported within ``timeout`` (still importing the app, say) is killed by the master."""
    return max(MIN_TIMEOUT_S, math.ceil(3 * startup_s))


def uwsgi_delta(jitter: int, workers: int) -> int:
    """uWSGI recycles worker i after max-requests + (i - 1) × delta: the jitter spread over the workers."""
    return jitter // (workers - 1) if workers > 1 and jitter else 0


def _context(deployment: Deployment) -> dict:
    mode = get_mode(deployment.mode)
    module, _, attr = deployment.wsgi.partition(":")
    return {
        "name": deployment.name,
        "mode": mode,
        "freeze": mode.freeze,
        "collect": mode.collect_before_freeze,
        "hooks": deployment.hooks,
        "version": _lab_version(),
        "server_version": deployment.server_version,
        "summary": deployment.summary,
        "wsgi": deployment.wsgi,
        "wsgi_module": module,
        "wsgi_attr": attr or "application",
        "root": str(deployment.root),
        "settings": deployment.settings,
        "urls": deployment.urls,
        "allowed": {url: list(codes) for url, codes in deployment.allowed},
        "host": WARMUP_HOST,
        "workers": deployment.workers,
        "max_requests": deployment.max_requests,
        "jitter": deployment.jitter,
        "delta": uwsgi_delta(deployment.jitter, deployment.workers),
        "recycling_why": deployment.recycling_why,
        "timeout": gunicorn_timeout(deployment.startup_s),
        "home": deployment.home,
        "file": deployment.config_file,
    }


def _lab_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("django-prefork-lab")
    except PackageNotFoundError:
        return "unknown"


def render(deployment: Deployment) -> dict[str, str]:
    """{file name: text} of every file the deployment needs."""
    context = _context(deployment)
    environment = _environment()
    files = {
        deployment.config_file: environment.get_template(f"{deployment.config_file}.j2").render(**context)
    }
    if deployment.hooks:
        caller = (
            "gunicorn.conf.py beside it calls it from its hooks."
            if deployment.server == "gunicorn"
            else f"{ENTRY_FILE} beside it calls it as uWSGI imports the app."
        )
        files[WARMUP_FILE] = environment.get_template(f"{WARMUP_FILE}.j2").render(
            **context, caller_note=caller
        )
        if deployment.server == "uwsgi":
            files[ENTRY_FILE] = environment.get_template(f"{ENTRY_FILE}.j2").render(**context)
    return files
