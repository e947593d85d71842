"""What the loading modes change, measured: each knob moves a forked worker's private memory or first request.

Each test generates small projects that differ in one knob, loads each like a pre-fork master in a fresh
interpreter, forks one worker that serves the project's URLs through the WSGI application (tests/fork_probe.py),
and compares the workers within the test: ratios, never absolute figures, since the machine is shared.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.api import GenOptions, generate_project, resolve_options

pytestmark = pytest.mark.slow

PROBE = Path(__file__).resolve().parent / "fork_probe.py"
LIBRARY_LOC = 40_000  # about 8 MB: large beside what one small request dirties, quick to import
SMALL = {"models": 6, "apps": 2, "rows_per_model": 2, "imports": 0, "loc_per_model": 20}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Generates (once per set of knobs) and compiles a small project; the knobs leave the models alone, so
    every project shares the database built for the first."""
    root = tmp_path_factory.mktemp("knobs")
    built: dict[GenOptions, Path] = {}

    def make(**knobs) -> Path:
        key = resolve_options(**SMALL, **knobs)
        if key not in built:
            path = root / f"p{len(built)}"
            first = next(iter(built.values()), None)
            generate_project(key, path, build_db=first is None)
            if first is not None:
                shutil.copyfile(first / "db.sqlite3", path / "db.sqlite3")
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(path)], check=True)
            built[key] = path
        return built[key]

    return make


def _fork(project: Path, mode: str, requests: int | None = None) -> dict:
    result = subprocess.run(
        [sys.executable, str(PROBE), str(project), mode, *([str(requests)] if requests else [])],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["statuses"] == [200]
    return report


def test_library_loaded_at_start_up_is_shared_by_fork_and_loaded_by_the_views_is_not(project):
    at_start_up = project(library_loc=LIBRARY_LOC, view_library_loc=0)
    in_views = project(library_loc=0, view_library_loc=LIBRARY_LOC)
    shared, private = _fork(at_start_up, "prefork")["uss_mb"], _fork(in_views, "prefork")["uss_mb"]
    assert private > 1.25 * shared, (shared, private)


def test_view_touch_share_makes_what_the_master_shared_private(project):
    library = {"library_loc": LIBRARY_LOC, "view_library_loc": 0}
    shares = {share: project(view_touch_share=share, **library) for share in (0.0, 0.5, 1.0)}
    prefork = {share: _fork(path, "prefork")["uss_mb"] for share, path in shares.items()}
    assert prefork[0] < prefork[0.5] < prefork[1], prefork
    assert prefork[1] > 1.2 * prefork[0], prefork
    # Even when the master filled every cache before the fork, each request still writes into them.
    prewarm = {share: _fork(shares[share], "prewarm")["uss_mb"] for share in (0, 1)}
    assert prewarm[1] > 1.1 * prewarm[0], prewarm


@pytest.mark.timing
def test_worker_init_work_is_paid_by_each_worker_however_warm_the_master(project):
    none = project(library_loc=LIBRARY_LOC, view_library_loc=0)
    much = project(library_loc=LIBRARY_LOC, view_library_loc=0, worker_init_work=15_000)
    # The master served every URL before forking: the worker's first request still builds the tables.
    plain, working = _fork(none, "prewarm", 12), _fork(much, "prewarm", 12)
    assert working["first_ms"] > 2 * plain["first_ms"], (plain, working)
    assert working["first_ms"] > 2 * working["later_ms"], working  # once per process, not per request


def test_request_growth_grows_a_worker_with_its_requests_until_the_cache_bound(project):
    """Over long traffic: a worker keeps request_growth_kb per 1,000 requests it serves, up to request_cache_kb."""
    none = project(library_loc=0, view_library_loc=0)
    # 16 KB a request: the growth is linear in the requests, so 500 of them show what 2,000 at 4 KB would
    leak = project(library_loc=0, view_library_loc=0, request_growth_kb=16_000)
    bounded = project(library_loc=0, view_library_loc=0, request_growth_kb=16_000, request_cache_kb=800)
    short = {name: _fork(path, "prefork", 50)["uss_mb"] for name, path in (("none", none), ("leak", leak))}
    long = {name: _fork(path, "prefork", 500)["uss_mb"] for name, path in (("none", none), ("leak", leak))}
    grown = long["leak"] - long["none"]
    # 500 requests keep about 8 MB, 50 keep a tenth of it (allocator overhead aside)
    assert 5 < grown < 12, (short, long)
    assert short["leak"] - short["none"] < grown / 3, (short, long)
    capped = _fork(bounded, "prefork", 500)["uss_mb"] - long["none"]
    assert capped < 2.5, capped  # the bound holds about 0.8 MB: new entries evict the oldest


def _probe(path: Path, **asked) -> dict:
    """Every mode of a generated project, read by the lab's own probe (a pre-fork master in miniature)."""
    from generator.inspect_project import Target, inspect_project

    urls = [u for u in json.loads((path / "manifest.json").read_text())["urls"] if "<" not in u][:3]
    return {m.mode: m for m in inspect_project(Target(path, "config.settings"), urls=urls, **asked).modes}


def test_request_objects_set_the_collectors_rhythm_and_with_it_what_a_worker_makes_private(project):
    """Each request holding 7,000 containers runs ten more young collections, and over 21 requests brings every
    worker to full collections of its own, which write into every object the master shared."""
    library = {"library_loc": LIBRARY_LOC, "view_library_loc": 0}
    idle = _probe(project(**library), requests=21)
    busy = _probe(project(request_objects=7_000, **library), requests=21)
    for mode in ("lazy", "prefork", "prewarm"):
        added = busy[mode].young_per_request - idle[mode].young_per_request
        assert 8.5 <= added <= 10.5, (mode, idle[mode], busy[mode])
    assert idle["prewarm"].full_collections == 0 and busy["prewarm"].full_collections >= 1, (idle, busy)
    for mode in ("lazy", "prefork", "prewarm"):  # those of the first request are among them
        assert 0 <= busy[mode].first_full_collections <= busy[mode].full_collections, busy[mode]
    assert busy["prewarm"].uss_mb > 1.5 * idle["prewarm"].uss_mb, (idle["prewarm"], busy["prewarm"])


def test_library_objects_are_inherited_and_space_out_full_collections(project):
    """200,000 containers kept by the start-up library: a prefork worker inherits them in its oldest generation,
    and a full collection waits until a quarter as many again have aged, so over long traffic a worker runs
    fewer of them."""
    library = {"library_loc": LIBRARY_LOC, "view_library_loc": 0, "request_objects": 3_500}
    few = _probe(project(**library), growth_requests=300)
    many = _probe(project(library_objects=200_000, **library), growth_requests=300)
    added = many["prefork"].inherited_objects - few["prefork"].inherited_objects
    assert 190_000 <= added <= 210_000, (few["prefork"], many["prefork"])
    assert many["lazy"].gen2_per_1k < 0.5 * few["lazy"].gen2_per_1k, (few["lazy"], many["lazy"])


def _probe_modes(path: Path, modes: tuple[str, ...]):
    """The lab's probe itself, for what ModeFigures leaves out (each child's readings)."""
    from generator.probe import ProbeTarget, probe

    urls = tuple(u for u in json.loads((path / "manifest.json").read_text())["urls"] if "<" not in u)[:4]
    return probe(
        ProbeTarget(path, (("DJANGO_SETTINGS_MODULE", "config.settings"),)),
        urls=urls,
        modes=modes,
        children=1,
    )


@pytest.mark.timing
def test_view_first_work_is_paid_once_per_view_and_inherited_from_a_warm_master(project):
    """6,000 entries a view (some 190 ms here): each URL's first visit builds them, a later visit does not, and a
    prewarming master's warm-up builds them for its workers."""
    plain = _probe_modes(project(library_loc=0, view_library_loc=0), ("prefork", "prewarm"))
    built = _probe_modes(
        project(library_loc=0, view_library_loc=0, view_first_work=6_000), ("prefork", "prewarm")
    )
    cold, warm = built.mode("prefork"), built.mode("prewarm")
    assert cold.other_url_ms > max(100, 4 * plain.mode("prefork").other_url_ms), (plain, built)
    assert warm.warmup_others_ms > max(100, 4 * plain.mode("prewarm").warmup_others_ms), (plain, built)
    # The master built them before the fork: its worker visits the same views without building anything.
    assert warm.children[0].others_ms < cold.other_url_ms / 3, (cold, warm)
    # A cold worker's first request pays for its own view too.
    assert cold.first_request_ms > plain.mode("prefork").first_request_ms + 0.4 * cold.other_url_ms


@pytest.mark.timing
def test_first_request_work_is_paid_once_and_moved_by_a_warm_up(project):
    """6,000 entries built on the first request of a process lineage: a cold worker's first request pays them,
    a prewarmed worker's does not (its master built them), and no later URL does."""
    plain = _probe_modes(project(library_loc=0, view_library_loc=0), ("prefork", "prewarm"))
    site = _probe_modes(
        project(library_loc=0, view_library_loc=0, first_request_work=6_000), ("prefork", "prewarm")
    )
    added = site.mode("prefork").first_request_ms - plain.mode("prefork").first_request_ms
    assert added > 100, (plain, site)
    assert site.mode("prewarm").first_request_ms < plain.mode("prewarm").first_request_ms + added / 3
    assert site.mode("prefork").other_url_ms < plain.mode("prefork").other_url_ms + added / 3


def test_urlconf_at_load_moves_the_views_import_from_the_first_request_to_the_start_up(project):
    lazy = _probe_modes(project(library_loc=0, view_library_loc=0), ("lazy", "prefork"))
    eager = _probe_modes(
        project(library_loc=0, view_library_loc=0, urlconf_at_load=True), ("lazy", "prefork")
    )
    assert [m.urlconf_at_load for m in lazy.modes] == [False, False]
    assert [m.urlconf_at_load for m in eager.modes] == [True, True]
    moved = (
        lazy.mode("prefork").children[0].first_request.modules
        - eager.mode("prefork").children[0].first_request.modules
    )
    assert moved >= 10, (lazy.mode("prefork"), eager.mode("prefork"))  # views, forms, admin of each app
    assert eager.mode("prefork").load.modules >= lazy.mode("prefork").load.modules + moved
