"""Probe a Django project as a pre-fork server runs it: load, fork, serve, collect, and read each child's memory.

The one place that loads a project to measure or count it: `gen-project --like` (generator/inspect_project.py)
and the runner's count of an existing project (experiments/projects.py) both call it. Per mode it starts a fresh
interpreter in the project's directory that runs ``probe_child.py`` (standard library and Django only):

- ``lazy``: the master loads nothing; each child loads the app, then serves the URLs;
- ``prefork``: the master loads the app, then forks; each child serves the URLs;
- ``prewarm``: the master loads the app and serves the URLs itself first, closes its DB connections, then forks.

Every child serves every URL through the WSGI callable (in rounds when asked for more requests, counting the
full collections its own collector runs); the master reads each child's USS and PSS
(/proc/<pid>/smaps_rollup) after the URLs and again after one full ``gc.collect()`` in the child, while all the
children are alive. The result holds per mode the load (seconds, resident MB, modules and source lines), the
first request, those memory figures, a warning when a first request loaded almost nothing or did not answer 2xx,
and the project's structure: ``models`` counts every model, ``own_models`` those outside ``django.contrib``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from generator.errors import GeneratorError
from generator.probe_types import ChildProbe, ModeProbe, Phase, ProbeResult, Structure, rounded_mean

# What a probe returns lives in probe_types.py; callers import it from here, beside probe() itself.
__all__ = [
    "DEFAULT_CHILDREN",
    "MODES",
    "PROBE_TIMEOUT_S",
    "ChildProbe",
    "ModeProbe",
    "Phase",
    "ProbeError",
    "ProbeResult",
    "ProbeTarget",
    "Structure",
    "count_structure",
    "first_request_warnings",
    "format_probe",
    "probe",
]

MODES = ("lazy", "prefork", "prewarm")
DEFAULT_CHILDREN = 2
PROBE_TIMEOUT_S = 600
# A cold process's first request that loads fewer modules and fewer MB than this was answered without running
# the project's views: from a cache, by a redirect, or by an error page (a page cache: 4 modules, 0 MB). The
# smallest projects we know load more modules: the hand-written fixture 15 on its first request (URLconf, views,
# template engine), a 2-app `minimal` generated project 6; their MB can be ~0, as the heap has room left.
MIN_FIRST_REQUEST_MODULES = 5
MIN_FIRST_REQUEST_MB = 2.0
CHILD_SOURCE = Path(__file__).with_name("probe_child.py")
PR_SET_PDEATHSIG = 1


class ProbeError(GeneratorError):
    """The project did not load, a child failed, or the probe ran out of time."""


@dataclass(frozen=True)
class ProbeTarget:
    """How to load a project: its directory (first on the path, the working directory) and environment.

    ``wsgi`` is "module:callable" as a server imports it; empty means Django's ``get_wsgi_application()`` for
    the ``DJANGO_SETTINGS_MODULE`` in ``env``. ``python`` runs a project that lives in a virtual environment of
    its own (the child needs only the standard library and the project's Django).
    """

    root: Path
    env: tuple[tuple[str, str], ...] = ()
    wsgi: str = ""
    python: str = ""  # the interpreter whose environment holds the project; empty: this one

    @property
    def label(self) -> str:
        return self.wsgi or dict(self.env).get("DJANGO_SETTINGS_MODULE", str(self.root))


def _phase(data: dict | None) -> Phase | None:
    return Phase(**{k: data[k] for k in Phase.__dataclass_fields__ if k in data}) if data else None


def first_request_warnings(
    mode: ModeProbe, min_modules: int = MIN_FIRST_REQUEST_MODULES, min_mb: float = MIN_FIRST_REQUEST_MB
) -> tuple[str, ...]:
    """Why this mode's figures may not describe the project's views: a URL that did not answer 2xx, or a cold
    first request (the master's warm-up in prewarm, the first child's first URL otherwise) that loaded almost nothing."""
    warnings = []
    answers = [mode.warmup_statuses] + [c.statuses for c in mode.children]
    for index, url in enumerate(mode.urls):
        statuses = sorted({s[index] for s in answers if len(s) > index})
        bad = [s for s in statuses if not 200 <= s < 300]
        if bad:
            warnings.append(f"{url} answered {', '.join(map(str, bad))}, not 2xx")
    cold = mode.warmup or (mode.children[0].first_request if mode.children else None)
    if cold is not None and cold.modules < min_modules and cold.mb_added < min_mb:
        warnings.append(
            f"first request {mode.urls[0]} ({mode.mode}) loaded only {cold.modules} modules and "
            f"{cold.mb_added:.1f} MB: answered from a cache, a redirect or an error page?"
        )
    return tuple(warnings)


def _mode_probe(data: dict, urls: tuple[str, ...], min_modules: int, min_mb: float) -> ModeProbe:
    children = tuple(
        ChildProbe(
            pid=c["pid"],
            first_request=_phase(c["first_request"]),
            statuses=tuple(c["statuses"]),
            uss_served_mb=c["uss_served_mb"],
            pss_served_mb=c["pss_served_mb"],
            uss_collected_mb=c["uss_collected_mb"],
            pss_collected_mb=c["pss_collected_mb"],
            load=_phase(c.get("load")),
            full_collections=c.get("full_collections", 0),
            young_collections=c.get("young_collections"),
            served=c.get("served", 0),
            others_ms=c.get("others_ms"),
            urlconf_at_load=c.get("urlconf_at_load"),
            uss_grown_mb=c.get("uss_grown_mb"),
            growth_requests=data.get("growth_requests", 0) if "uss_grown_mb" in c else 0,
            grown_full_collections=c.get("grown_full_collections"),
        )
        for c in data.get("children", [])
    )
    load = _phase(data.get("load")) or (children[0].load if children else None)
    if load is None:
        raise ProbeError(f"probe of mode {data['mode']} neither loaded the app nor forked a child")
    mode = ModeProbe(
        mode=data["mode"],
        urls=urls,
        baseline_rss_mb=data["baseline_rss_mb"],
        load=load,
        children=children,
        warmup=_phase(data.get("warmup")),
        warmup_statuses=tuple(data.get("warmup_statuses", ())),
        master_pss_served_mb=data.get("master", {}).get("pss_served_mb"),
        inherited_objects=data.get("inherited_objects"),
        warmup_others_ms=data.get("warmup_others_ms"),
        urlconf_at_load=data.get("urlconf_at_load", children[0].urlconf_at_load if children else None),
    )
    return replace(mode, warnings=first_request_warnings(mode, min_modules, min_mb))


def _child_setup() -> None:  # pragma: no cover - runs between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _kill_group(process: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGKILL the probe interpreter's process group (it and its forked children), reap it, and wait until the
    group is empty: a killed child may take a moment to go."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.01)


def run_child(target: ProbeTarget, request: dict, timeout: float = PROBE_TIMEOUT_S) -> dict:
    """Run probe_child.py for one request in a fresh interpreter; its JSON answer. The interpreter and every
    child it forked share a new process group, killed whatever happens."""
    # No bytecode beside a user's files, unless the target's environment sends it to a prefix of ours.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **dict(target.env)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target.root), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen(
        [target.python or sys.executable, "-c", CHILD_SOURCE.read_text(), json.dumps(request)],
        cwd=target.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_child_setup,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProbeError(f"probing {target.label} took over {timeout:.0f} s") from None
    finally:
        _kill_group(process)
    if process.returncode != 0:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        raise ProbeError(f"cannot load {target.label} from {target.root}: {last}")
    try:
        return json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise ProbeError(f"unexpected output while probing {target.label}") from None


def _request(
    target: ProbeTarget,
    mode: str,
    urls: tuple[str, ...],
    children: int,
    count: bool,
    requests: int = 0,
    growth_requests: int = 0,
    database: bool = False,
) -> dict:
    return {
        "database": database,
        "mode": mode,
        "wsgi": target.wsgi,
        "urls": list(urls),
        "requests": requests,
        "growth_requests": growth_requests,
        "host": "127.0.0.1",
        "children": children,
        "count": count,
        "timeout": PROBE_TIMEOUT_S,
    }


def probe(
    target: ProbeTarget,
    *,
    urls: tuple[str, ...] = ("/",),
    modes: tuple[str, ...] = MODES,
    children: int = DEFAULT_CHILDREN,
    requests: int = 0,
    growth_requests: int = 0,
    growth_modes: tuple[str, ...] = ("lazy",),
    min_modules: int = MIN_FIRST_REQUEST_MODULES,
    min_mb: float = MIN_FIRST_REQUEST_MB,
    timeout: float = PROBE_TIMEOUT_S,
    database: bool = False,
) -> ProbeResult:
    """Probe ``target`` in each of ``modes`` with ``children`` children serving ``urls`` (in rounds, ``requests``
    in all per child when that is more than the URLs); in ``growth_modes``, each child then serves
    ``growth_requests`` more after a full collection, counting the full collections its own collector runs
    meanwhile, and its memory is read again; ProbeError when it fails.
    ``database``: the structure also holds PostgreSQL's max_connections (one more connection, after the
    measurements)."""
    if not urls or not modes:
        raise ProbeError("probe needs at least one URL and one mode")
    unknown = [m for m in modes if m not in MODES]
    if unknown or children < 0 or (children == 0 and "lazy" in modes):
        raise ProbeError(f"probe: modes must be among {', '.join(MODES)} (lazy needs a child); got {modes}")
    results, structure = [], None
    for index, mode in enumerate(modes):
        # Count once, in the first interpreter: after its measurements, so counting cannot warm anything measured.
        grow = growth_requests if mode in growth_modes else 0
        first = index == 0
        options = {"requests": requests, "growth_requests": grow, "database": database and first}
        request = _request(target, mode, urls, children, count=first, **options)
        data = run_child(target, request, timeout)
        structure = structure or Structure(**data["structure"])
        results.append(_mode_probe(data, tuple(urls), min_modules, min_mb))
    return ProbeResult(target=target.label, structure=structure, modes=tuple(results))


def count_structure(
    target: ProbeTarget, timeout: float = PROBE_TIMEOUT_S, database: bool = False
) -> Structure:
    """Only the structure: load the app in one interpreter and count; ProbeError when it does not load."""
    data = run_child(target, _request(target, "count", ("/",), 0, True, database=database), timeout)
    return Structure(**data["structure"])


def format_probe(result: ProbeResult) -> list[str]:
    """Lines for a person: the structure, then per mode the figures a pre-fork server's workers would show."""
    s = result.structure
    lines = [
        f"{result.target}: {s.models} models ({s.own_models} outside django.contrib), {s.apps} apps "
        f"({s.own_apps} with own models), {s.url_patterns} URL patterns",
        f"{'mode':<8} {'load s':>7} {'MB':>6} {'1st ms':>8} {'1st MB':>7} {'USS MB':>7} {'USS gc':>7} {'PSS':>7} "
        f"{'full gc':>7}",
    ]
    for m in result.modes:
        pss = rounded_mean([c.pss_served_mb for c in m.children])
        cells = [m.first_request_ms, m.first_request_mb, m.child_uss_served_mb, m.child_uss_collected_mb, pss]
        shown = ["—" if v is None else f"{v:.1f}" for v in [*cells, m.child_full_collections]]
        lines.append(
            f"{m.mode:<8} {m.load.seconds:>7.2f} {m.startup_mb:>6.1f} {shown[0]:>8} {shown[1]:>7} "
            f"{shown[2]:>7} {shown[3]:>7} {shown[4]:>7} {shown[5]:>7}"
        )
    lines += [f"warning: {w}" for w in result.warnings]
    return lines
