"""The child probe: real interpreters that load a project, fork children, serve URLs and read their memory."""

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from experiments.projects import choose_urls, count_existing
from generator.api import generate_project
from generator.inspect_project import ModeFigures, Target, inspect_project
from generator.options import resolve_options
from generator.probe import (
    ChildProbe,
    ModeProbe,
    Phase,
    ProbeError,
    ProbeTarget,
    count_structure,
    first_request_warnings,
    format_probe,
    probe,
)

FIXTURES = Path(__file__).parent / "fixtures"
TINY = ProbeTarget(
    (FIXTURES / "tinyproject").resolve(),
    (("DJANGO_SETTINGS_MODULE", "tinysite.settings"),),
    "tinysite.wsgi:application",
)
CHILD_MARKER = b"The child side of generator/probe.py"


def _probe_processes(*roots: Path) -> list[int]:
    """Pids of every live probe interpreter working in one of ``roots`` and of the children it forked (they share
    its command line and directory, even once orphaned). Others may be probing other projects on this machine
    meanwhile."""
    wanted = {str(root) for root in roots}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if CHILD_MARKER in handle.read() and os.readlink(f"/proc/{entry}/cwd") in wanted:
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def tiny_copy(tmp_path_factory) -> ProbeTarget:
    """The fixture project in a directory of this module's own: other tests (here or on another xdist worker)
    probe the shared one meanwhile, and the processes left behind are told apart by their directory."""
    root = tmp_path_factory.mktemp("probed") / "tinyproject"
    shutil.copytree(TINY.root, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return ProbeTarget(root, TINY.env, TINY.wsgi)


@pytest.fixture(scope="module")
def tiny(tiny_copy):
    return probe(tiny_copy, urls=("/", "/notes/3/"), children=2)


def test_every_mode_forks_children_that_serve_every_url_and_are_measured(tiny, tiny_copy):
    assert [m.mode for m in tiny.modes] == ["lazy", "prefork", "prewarm"]
    for mode in tiny.modes:
        assert len(mode.children) == 2 and len({c.pid for c in mode.children}) == 2
        for child in mode.children:
            assert child.statuses == (200, 200)
            assert 0 < child.uss_served_mb <= child.pss_served_mb
            assert child.uss_collected_mb > 0
        assert (mode.warmup is not None) == (mode.mode == "prewarm")
        assert all((c.load is not None) == (mode.mode == "lazy") for c in mode.children)
        assert mode.load.modules > 100 and mode.load.seconds > 0  # Django itself
    assert not tiny.warned, tiny.warnings
    assert not _probe_processes(tiny_copy.root)


def test_the_modes_move_memory_and_work_where_a_prefork_server_does(tiny):
    lazy, prefork, prewarm = (tiny.mode(name) for name in ("lazy", "prefork", "prewarm"))
    # A lazy child imported Django itself: those pages are its own; a forked child shares the master's.
    assert lazy.child_uss_served_mb > prefork.child_uss_served_mb + 5
    # The warm-up imported in the master what a prefork child's first request imports (URLconf, views, templates).
    cold = prefork.children[0].first_request.modules
    assert prewarm.warmup.modules >= cold >= 5
    assert all(c.first_request.modules < cold for c in prewarm.children)


def test_each_url_after_the_first_is_timed_and_the_urlconf_is_found_where_it_loads(tiny, tiny_copy):
    for mode in tiny.modes:
        assert mode.other_url_ms is not None and 0 < mode.other_url_ms < 5000
        assert mode.urlconf_at_load is False  # tinysite leaves it to the first request
    assert tiny.mode("prewarm").other_url_ms == tiny.mode("prewarm").warmup_others_ms
    eager = ProbeTarget(tiny_copy.root, (*tiny_copy.env, ("TINY_EAGER_URLCONF", "1")), tiny_copy.wsgi)
    loaded = probe(eager, urls=("/", "/notes/3/"), modes=("lazy", "prefork"), children=1)
    assert [m.urlconf_at_load for m in loaded.modes] == [True, True]
    # What the load imported, the first request no longer does: the views' module among them.
    assert (
        loaded.mode("prefork").children[0].first_request.modules
        < tiny.mode("prefork").children[0].first_request.modules
    )
    assert probe(tiny_copy, urls=("/",), modes=("prefork",), children=1).mode("prefork").other_url_ms is None


def test_structure_counts_every_model_and_those_outside_django_contrib(tiny):
    s = tiny.structure
    # tinysite: notes (2 models) beside django.contrib.auth (3) and contenttypes (1).
    assert (s.models, s.own_models, s.apps, s.own_apps, s.url_patterns) == (6, 2, 3, 1, 2)
    assert s.relations_per_model == 0.5
    assert s.app_models == {"notes": 2}


def test_count_existing_and_inspect_count_the_same_models():
    counts = count_existing(TINY.root, TINY.wsgi, dict(TINY.env))
    profile = inspect_project(Target(TINY.root, "tinysite.settings"))
    expected = {
        "models": 2,
        "all_models": 6,
        "apps": 1,
        "url_patterns": 2,
        "wsgi": "tinysite.wsgi:application",
    }
    assert counts == expected  # wsgi: the settings' WSGI_APPLICATION, as a server names it
    assert (profile.own_models, profile.models, profile.own_apps) == (2, 6, 1)


def test_a_redirect_and_a_404_are_flagged():
    # APPEND_SLASH redirects /notes/3 to /notes/3/; /nope/ matches no pattern.
    result = probe(TINY, urls=("/notes/3", "/nope/"), modes=("prefork",), children=1)
    assert result.warned
    assert any(w.startswith("/notes/3 answered 301") for w in result.warnings), result.warnings
    assert any(w.startswith("/nope/ answered 404") for w in result.warnings), result.warnings
    assert "warning: /nope/ answered 404, not 2xx" in format_probe(result)


def _phase(modules: int, mb: float, status: int = 200) -> Phase:
    return Phase(
        seconds=0.01,
        rss_mb=50 + mb,
        modules=modules,
        django_lines=0,
        other_lines=0,
        status=status,
        rss_before_mb=50,
    )


def _mode(first: Phase, *, warmup: Phase | None = None) -> ModeProbe:
    child = ChildProbe(1, first, (first.status,), 1.0, 1.0, 1.0, 1.0)
    return ModeProbe(
        "prefork", ("/",), 10.0, _phase(500, 30), (child,), warmup, (warmup.status,) if warmup else ()
    )


@pytest.mark.parametrize(
    ("modules", "mb", "warned"),
    [(40, 3.0, False), (4, 0.0, True), (4, 1.5, True), (40, 0.0, False), (4, 3.0, False)],
)
def test_a_cold_first_request_that_loads_almost_nothing_is_flagged(modules, mb, warned):
    assert bool(first_request_warnings(_mode(_phase(modules, mb)))) == warned
    # In prewarm the master's warm-up is the cold request; a warm child loading nothing is expected.
    assert bool(first_request_warnings(_mode(_phase(0, 0.0), warmup=_phase(modules, mb)))) == warned


def test_a_project_that_does_not_load_is_one_error_naming_it():
    broken = ProbeTarget((FIXTURES / "brokenproject").resolve(), (), "tinysite.wsgi:application")
    with pytest.raises(
        ProbeError, match="^cannot load tinysite.wsgi:application .*brokenproject fails on purpose"
    ):
        count_structure(broken)
    with pytest.raises(ProbeError, match="lazy needs a child"):
        probe(TINY, modes=("lazy",), children=0)


def test_a_probe_out_of_time_leaves_no_process_behind(tmp_path):
    (tmp_path / "slowsite.py").write_text(
        "import time\nfrom django.conf import settings\nfrom django.http import HttpResponse\nfrom django.urls import path\n"
        "settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=['*'], SECRET_KEY='x')\n"
        "def slow(request):\n    time.sleep(60)\n    return HttpResponse('late')\n"
        "urlpatterns = [path('', slow)]\n"
        "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n"
    )
    started = time.monotonic()
    with pytest.raises(ProbeError, match="took over 3 s"):
        probe(ProbeTarget(tmp_path, (), "slowsite:application"), modes=("prefork",), children=2, timeout=3)
    assert time.monotonic() - started < 20
    assert not _probe_processes(tmp_path)


def test_another_interpreter_runs_the_child(tmp_path):
    # A python that cannot import Django fails to load the project: the child ran under it, not under ours.
    (tmp_path / "python").write_text(f'#!/bin/sh\nexec {sys.executable} -I "$@"\n')
    (tmp_path / "python").chmod(0o755)
    isolated = ProbeTarget(TINY.root, TINY.env, TINY.wsgi, python=str(tmp_path / "python"))
    with pytest.raises(ProbeError, match="No module named 'tinysite'"):
        count_structure(isolated)


def test_a_generated_project_probes_with_its_manifest_counts(tmp_path):
    manifest = generate_project(
        resolve_options(8, apps=2, profile="minimal", rows_per_model=2), tmp_path / "p"
    )
    urls = choose_urls(manifest["urls"], 3)
    result = probe(
        ProbeTarget(
            tmp_path / "p", (("DJANGO_SETTINGS_MODULE", "config.settings"),), "config.wsgi:application"
        ),
        urls=urls,
        modes=("prefork", "prewarm"),
        children=2,
    )
    assert result.structure.own_models == manifest["counts"]["models"] == 8
    assert result.structure.own_apps == manifest["counts"]["apps"] == 2
    assert result.structure.url_patterns == manifest["counts"]["url_patterns"]
    assert len(result.structure.app_models) == 2 and sum(result.structure.app_models.values()) == 8
    assert not result.warned, result.warnings
    assert all(c.statuses == (200,) * len(urls) for m in result.modes for c in m.children)


RHYTHM_SITE = """\
import gc
from django.conf import settings
from django.http import HttpResponse
from django.urls import path
settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=['*'], SECRET_KEY='x')
served = [0]
def every_fourth(request):
    served[0] += 1
    if served[0] % 4 == 0:
        gc.collect()
    return HttpResponse('ok')
urlpatterns = [path('', every_fourth)]
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
"""


def test_the_growth_stage_counts_the_full_collections_a_child_runs_per_1000_requests(tmp_path):
    """A view that runs a full collection every fourth request it serves: 25 in the 100 growth requests of each
    child, whatever it served before (its 6 requests, the master's warm-up) and without our own collection. Each
    explicit collection restarts the collector's counts, so it runs none on its own in between."""
    (tmp_path / "rhythmsite.py").write_text(RHYTHM_SITE)
    target = ProbeTarget(tmp_path, (), "rhythmsite:application")
    result = probe(target, children=2, requests=6, growth_requests=100, growth_modes=("lazy", "prewarm"))
    lazy, prefork, prewarm = (result.mode(name) for name in ("lazy", "prefork", "prewarm"))
    for mode in (lazy, prewarm):
        assert mode.child_gen2_per_1k == 250, mode.children
        assert ModeFigures.of(mode).gen2_per_1k == mode.child_gen2_per_1k
        assert all(c.full_collections >= 1 for c in mode.children)  # the 4th of its 6: counted apart
    assert prefork.child_gen2_per_1k is None and ModeFigures.of(prefork).gen2_per_1k is None
