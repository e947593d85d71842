"""`gen-project --like`: inspecting an existing project, fitting a twin, and the library weight knobs."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from generator.api import generate_project
from generator.errors import GeneratorError
from generator.inspect_project import ProjectProfile, Target, inspect_project, resolve_target
from generator.options import default_output, resolve_options
from generator.render import render_project
from generator.spec import build_spec
from generator.twin import (
    FIT_TOLERANCE,
    KNOBS,
    MB_ABSOLUTE,
    TIME_TOLERANCE,
    Knob,
    _KnobFit,
    _next_options,
    fit_twin,
    inspect_generated,
    scale_to,
    structure_options,
    targets,
)

FIXTURES = Path(__file__).parent / "fixtures"
GEN_PROJECT = str(Path(sys.executable).parent / "gen-project")


def _library_lines(files: dict[str, str]) -> int:
    return sum(text.count("\n") for path, text in files.items() if path.startswith("config/vendor/"))


@pytest.mark.parametrize("loc", [1, 500, 20_000, 150_000])
def test_library_knobs_write_about_as_many_lines_as_asked(loc):
    startup = _library_lines(
        render_project(build_spec(resolve_options(6, library_loc=loc, view_library_loc=0)))
    )
    views = _library_lines(
        render_project(build_spec(resolve_options(6, library_loc=0, view_library_loc=loc)))
    )
    for lines in (startup, views):
        assert loc <= lines <= loc * 1.05 + 120


def test_no_library_no_vendor_package():
    files = render_project(build_spec(resolve_options(6, library_loc=0, view_library_loc=0)))
    assert not [path for path in files if path.startswith("config/vendor")]


def test_startup_library_is_imported_by_models_and_view_library_by_views():
    spec = build_spec(resolve_options(30, apps=3, imports=0, library_loc=3_000, view_library_loc=2_000))
    files = render_project(spec)
    for app in spec.apps:
        models, views = files[f"{app.label}/models.py"], files[f"{app.label}/views.py"]
        assert all(f"import {module} as" in models for module in app.imports)
        assert all(f"import {module}  #" in views for module in app.view_imports)
    startup = {m for app in spec.apps for m in app.imports}
    in_views = {m for app in spec.apps for m in app.view_imports}
    assert startup and in_views and not startup & in_views
    assert startup | in_views == {module.dotted for module in spec.library}
    for module in spec.library:
        compile(files[f"config/vendor/{module.name}.py"], module.name, "exec")


def test_resolve_target_reads_manage_py_and_refuses_the_rest(tmp_path):
    target = resolve_target(str(FIXTURES / "tinyproject"))
    assert target == Target((FIXTURES / "tinyproject").resolve(), "tinysite.settings")
    assert resolve_target("pretix.settings").settings_module == "pretix.settings"
    for bad in (str(tmp_path), "no such/place", "a b", ""):
        with pytest.raises(GeneratorError, match="^--like: "):
            resolve_target(bad)


def test_inspect_counts_an_existing_project_and_probes_every_mode():
    profile = inspect_project(resolve_target(str(FIXTURES / "tinyproject")), url="/", requests=4)
    assert profile.settings_module == "tinysite.settings"
    assert profile.models >= 1 and profile.apps >= 1 and profile.url_patterns >= 1
    assert profile.first_request.status == 200
    assert profile.setup.seconds > 0 and profile.setup.modules > 100  # Django itself
    assert profile.setup.rss_mb > profile.baseline_rss_mb
    assert [m.mode for m in profile.modes] == ["lazy", "prefork", "prewarm"]
    lazy, prefork = profile.mode("lazy"), profile.mode("prefork")
    assert lazy.uss_mb > prefork.uss_mb > 0  # a lazy worker loaded Django itself
    assert all(m.uss_collected_mb > 0 and m.first_ms > 0 for m in profile.modes)
    assert type(profile).from_dict(profile.as_dict()) == profile


def test_inspect_serves_several_urls_and_warns_about_a_redirect():
    target = resolve_target(str(FIXTURES / "tinyproject"))
    clean = inspect_project(target, urls=("/", "/notes/2/"))
    redirected = inspect_project(target, urls=("/", "/notes/2"))
    assert not clean.warnings and clean.first_request.status == 200
    assert redirected.warnings == ("/notes/2 answered 301, not 2xx",)


def test_inspect_names_like_when_the_project_does_not_load():
    broken = FIXTURES / "brokenproject"
    with pytest.raises(GeneratorError, match="^--like: cannot load tinysite.settings"):
        inspect_project(Target(broken, "tinysite.settings"))


@pytest.fixture(scope="module")
def weighed_project(tmp_path_factory):
    """A generated project whose library weight and post-fork behaviour we know: the fit has to find them again."""
    path = tmp_path_factory.mktemp("weighed") / "p"
    options = resolve_options(
        24,
        apps=3,
        seed=7,
        library_loc=60_000,
        view_library_loc=30_000,
        view_touch_share=0.4,
        # 3 young collections a request: over 12 requests too few for a full collection to blur the share
        request_objects=2_100,
        rows_per_model=5,
    )
    generate_project(options, path)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(path)], check=True, capture_output=True)
    return options, path


MEMORY_KNOBS = tuple(knob for knob in KNOBS if not knob.timed)


def test_fit_finds_the_memory_of_a_known_project_again_in_every_mode(weighed_project):
    options, path = weighed_project
    urls = ("/", *[u for u in json.loads((path / "manifest.json").read_text())["urls"] if u != "/"][:2])
    real = inspect_project(Target(path, "config.settings"), urls=urls, requests=12)
    twin = fit_twin([real], seed=1, rows_per_model=5, knobs=MEMORY_KNOBS)
    wanted, last = targets(real), twin.rounds[twin.chosen].figures
    # Memory is deterministic, so it must fit: where the weight is loaded and what a forked worker makes its own.
    for name in ("startup_mb", "first_request_mb", "prewarm_uss_mb"):
        assert abs(last[name] - wanted[name]) <= max(FIT_TOLERANCE * wanted[name], MB_ABSOLUTE), (
            name,
            twin.rounds,
        )
    # The collector's rhythm is counted, so it is found again closely.
    assert 2.5 <= wanted["prewarm_young_per_request"] <= 3.5, wanted
    assert 0.8 * options.request_objects <= twin.options.request_objects <= 1.2 * options.request_objects
    assert not twin.misses()
    assert twin.options.models == 24 and twin.options.apps == 3
    # The twin's other code differs (seed, fields, URLs), so the knobs land near, not on, the true values.
    assert 0.6 * options.library_loc <= twin.options.library_loc <= 1.4 * options.library_loc
    assert 0.6 * options.view_library_loc <= twin.options.view_library_loc <= 1.4 * options.view_library_loc
    # Touching moves a prewarm worker by a few MB only, beside a base the seed also moves: the share is found
    # loosely, but must leave 0.
    assert 0.1 <= twin.options.view_touch_share <= 1.0, twin.rounds


def _fits() -> dict[str, _KnobFit]:
    """Every target at 100."""
    return {k.name: _KnobFit(k, 100.0) for k in KNOBS}


def _measured(**changes) -> dict[str, float]:
    return {k.target: 100.0 for k in KNOBS} | changes


def _small(**knobs):
    return replace(resolve_options(10, apps=2, library_loc=0, view_library_loc=0), **knobs)


def test_a_knob_moves_only_once_the_targets_it_depends_on_fit():
    options = _small(library_loc=50_000, view_library_loc=10_000)
    # Placement misses: what workers dirty and the start-up seconds wait for it; placement itself moves.
    moved = _next_options(options, _fits(), _measured(startup_mb=80.0, prewarm_uss_mb=70.0, startup_s=50.0))
    assert moved.library_loc > options.library_loc
    assert moved.view_touch_share == options.view_touch_share and moved.library_work == options.library_work
    # Placement fits: the share and the working share move, towards their targets.
    moved = _next_options(options, _fits(), _measured(prewarm_uss_mb=70.0, startup_s=50.0))
    assert moved.view_touch_share > 0 and moved.library_work > options.library_work
    # A prewarm worker's first request too slow: the per-process tables shrink; they cannot go below 0.
    assert _next_options(options, _fits(), _measured(prewarm_first_ms=500.0)).worker_init_work == 0
    more = _next_options(options, _fits(), _measured(prewarm_first_ms=40.0))
    tables = next(k for k in KNOBS if k.name == "worker_init_work")
    assert more.worker_init_work == round(60.0 / tables.guess)
    # A prewarm worker that collects its young generation less often than the real one's: each request holds more.
    held = next(k for k in KNOBS if k.name == "request_objects")
    busier = _next_options(options, _fits(), _measured(prewarm_young_per_request=80.0))
    assert busier.request_objects == round(20.0 / held.guess)
    # What workers dirty waits for the rhythm: a full collection of their own makes what they inherited private.
    waiting = _next_options(options, _fits(), _measured(prewarm_young_per_request=80.0, prewarm_uss_mb=70.0))
    assert waiting.view_touch_share == options.view_touch_share
    # Fewer objects inherited than the real worker's: the library keeps more, once placement fits; none without it.
    inherited = next(k for k in KNOBS if k.name == "library_objects")
    fits = _fits() | {"library_objects": _KnobFit(inherited, 100_000.0)}
    fewer = _measured(prefork_inherited_objects=40_000.0)
    assert _next_options(options, fits, fewer).library_objects == 60_000
    assert _next_options(options, fits, fewer | {"startup_mb": 50.0}).library_objects == 0
    assert _next_options(_small(), fits, fewer).library_objects == 0
    # A lazy worker that keeps less than the real one's per 1,000 requests: the per-process cache grows faster.
    growth = next(k for k in KNOBS if k.name == "request_growth_kb")
    faster = _next_options(options, _fits(), _measured(lazy_growth_mb_per_1k=80.0))
    assert faster.request_growth_kb == round(20.0 / growth.guess, 3)
    # Other URLs' first visits faster than the real ones': each view builds more; the views' library waits for it.
    first_visit = next(k for k in KNOBS if k.name == "view_first_work")
    slower = _next_options(options, _fits(), _measured(other_url_ms=20.0, first_request_ms=50.0))
    assert slower.view_first_work == round(80.0 / first_visit.guess)
    assert slower.view_library_work == options.view_library_work
    # Without a views' library, what the first request builds once moves instead (never both on one target).
    once = next(k for k in KNOBS if k.name == "first_request_work")
    assert _next_options(options, _fits(), _measured(first_request_ms=40.0)).first_request_work == 0
    bare = _small(library_loc=50_000)
    built = _next_options(bare, _fits(), _measured(first_request_ms=40.0))
    assert (
        built.first_request_work == round(60.0 / once.guess)
        and built.view_library_work == bare.view_library_work
    )
    assert _next_options(options, _fits(), _measured()) == options


def test_noisy_seconds_keep_the_guessed_slope_memory_takes_the_measured_one():
    timed = Knob("library_work", "startup_s", 0.003, 1.0, TIME_TOLERANCE, 0.05, needs="library_loc")
    options = _small(library_loc=100_000)  # guess: 0.3 s per unit of share
    fit = _KnobFit(timed, 0.8)
    fit.step(0.5, 0.7, options)
    # A secant of 5 s per unit of share (noise) is ignored: the guess moves 0.51 → 0.51 + 0.05 / 0.3.
    assert fit.step(0.51, 0.75, options) == 0.677
    memory = _KnobFit(KNOBS[0], 60.0)
    memory.step(10_000, 40.0, options)
    assert memory.step(20_000, 50.0, options) == 30_000  # 1 MB per 1,000 lines, as measured


def test_scale_carries_every_knob_and_keeps_the_app_density():
    options = resolve_options(
        80,
        apps=16,
        library_loc=1234,
        view_library_loc=567,
        fields_per_model=6,
        library_work=0.2,
        view_library_work=0.9,
        view_touch_share=0.35,
        worker_init_work=4321,
        view_first_work=222,
        first_request_work=333,
        urlconf_at_load=True,
    )
    bigger = scale_to(options, 240)
    assert (bigger.models, bigger.apps) == (240, 48)
    assert replace(bigger, models=80, apps=16) == options


def test_cli_like_writes_a_scaled_twin_and_records_the_fit(weighed_project, tmp_path, monkeypatch, capsys):
    """In this process, so that the growth stage can be shorter than --like's 2,000 requests a lazy worker (most
    of this test's time went to them); it still runs, in the real probes and every round. The console script
    itself runs --like in the refusal tests below."""
    from generator import cli
    from generator import twin as fitting

    monkeypatch.setattr(fitting, "GROWTH_REQUESTS", 300)
    _, path = weighed_project
    out = tmp_path / "twin"
    argv = ["--like", str(path), "--like-rounds", "2", "--models", "48", "--no-db", "--output", str(out)]
    status = cli.main(argv)
    done = capsys.readouterr()
    assert status == 0, done.err
    assert "twin: --library-loc" in done.out and "--worker-init-work" in done.out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["options"]["models"] == 48 and manifest["options"]["apps"] == 6
    like = manifest["like"]
    # django.contrib's models count in `models` only.
    assert like["profile"]["own_models"] == 24 and like["profile"]["models"] > 24
    assert [m["mode"] for m in like["real_modes"]] == ["lazy", "prefork", "prewarm"]
    # The growth stage (lazy) counts the collector's rhythm beside the growth, in the real project and each round.
    rhythm = [m["gen2_per_1k"] for m in like["real_modes"]]
    assert rhythm[0] is not None and rhythm[0] >= 0 and rhythm[1:] == [None, None]
    assert like["rounds"][-1]["modes"][0]["gen2_per_1k"] is not None
    assert sum(like["profile"]["app_models"].values()) == 24 and len(like["profile"]["app_models"]) == 3
    assert set(like["targets"]) == {k.target for k in KNOBS}
    assert len(like["rounds"]) == 2 and set(like["rounds"][-1]["knobs"]) == {k.name for k in KNOBS}
    fitted = like["fitted_options"]
    assert manifest["options"]["library_loc"] == fitted["library_loc"] > 0
    for name in ("view_touch_share", "worker_init_work", "library_work", "view_library_work"):
        assert manifest["options"][name] == fitted[name]


def test_cli_like_on_postgresql_fits_there_in_a_scratch_database_dropped_after(
    weighed_project, postgres, tmp_path, monkeypatch, capsys
):
    """--like --database postgresql: the rounds run the twin on PostgreSQL (their first connection is part of a
    cold first request), in a database beside the one named, gone once the twin is built into the named one."""
    from generator import cli
    from generator import twin as fitting

    seen = []
    real_inspect = fitting.inspect_generated
    monkeypatch.setattr(fitting, "GROWTH_REQUESTS", 100)
    monkeypatch.setattr(
        fitting,
        "inspect_generated",
        lambda *a, **k: seen.append(k.get("database_env")) or real_inspect(*a, **k),
    )
    _, path = weighed_project
    name = f"prefork_lab_like_{os.getpid()}"
    argv = ["--like", str(path), "--like-rounds", "1", "--output", str(tmp_path / "twin")]
    argv += ["--database", "postgresql", "--database-url", postgres.url_of(name)]
    try:
        status = cli.main(argv)
        assert status == 0, capsys.readouterr().err
        assert seen and all(urlsplit(env["DATABASE_URL"]).path == f"/{name}_like_fit" for env in seen), seen
        names = [r[0] for r in postgres.admin.execute("SELECT datname FROM pg_database").fetchall()]
        assert name in names and f"{name}_like_fit" not in names
    finally:
        postgres.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--imports", "3"], "--imports"),
        (["--apps", "3"], "--apps"),
        (["--library-loc", "10"], "--library-loc"),
        (["--like-url", "nope"], "--like-url"),
        (["--like-rounds", "0"], "--like-rounds"),
        (["--models", "0"], "--models"),
    ],
)
def test_cli_like_refuses_conflicting_options(extra, option, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [GEN_PROJECT, "--like", str(FIXTURES / "tinyproject"), "--output", str(out), *extra],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: {option}")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_like_of_a_broken_project_is_a_one_line_error(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manage.py").write_text('os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missing.settings")\n')
    done = subprocess.run([GEN_PROJECT, "--like", str(broken)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: --like: cannot load missing.settings")
    assert not (tmp_path / "generated").exists()


def test_default_output_names_the_twin():
    options = resolve_options(10, seed=3)
    assert default_output(options, like="pretix.settings") == Path("generated/like-pretix-m10-s3")
    assert default_output(options, like="/srv/shop/") == Path("generated/like-shop-m10-s3")
    assert default_output(options) == Path("generated/realistic-m10-s3")


def test_the_fit_probes_a_twin_as_the_runner_serves_it():
    from experiments.sweep import DEFAULT_MAX_URLS, DEFAULT_REQUESTS_PER_WORKER
    from generator.twin import PROBE_REQUESTS, RUNNER_URLS

    assert RUNNER_URLS == DEFAULT_MAX_URLS
    assert (
        PROBE_REQUESTS == DEFAULT_REQUESTS_PER_WORKER + 1
    )  # its first request, then its share of the traffic


def test_fit_finds_how_fast_a_known_project_grows(tmp_path, monkeypatch):
    """A project whose workers keep 3,000 KB per 1,000 requests: probed with long traffic, its twin's growth
    knob lands near it (the twin's other code differs, so near, not on). Shorter traffic than --like's keeps
    the test quick; the growth of a minimal project's worker is steady from its first requests on."""
    from generator import twin as fitting

    monkeypatch.setattr(fitting, "GROWTH_REQUESTS", 1000)
    options = resolve_options(12, apps=2, rows_per_model=3, profile="minimal", request_growth_kb=3000)
    path = tmp_path / "growing"
    generate_project(options, path)
    real = inspect_project(Target(path, "config.settings"), requests=12, growth_requests=1000)
    wanted = real.mode("lazy").growth_mb_per_1k
    assert 1.5 < wanted < 3.5, wanted  # about 2.9 MB allocated per 1,000 requests, less what reuses holes
    growth = next(k for k in KNOBS if k.name == "request_growth_kb")
    twin = fit_twin([real], seed=1, rows_per_model=3, knobs=(growth,), rounds=3)
    assert not twin.misses(), twin.rounds
    assert 0.6 * 3000 <= twin.options.request_growth_kb <= 1.4 * 3000, twin.rounds


def test_profiles_probed_before_the_rhythm_and_the_apps_were_counted_still_load():
    probes = json.loads(
        (Path(__file__).parent.parent / "results" / "calibration" / "probes.json").read_text()
    )
    # A profile as the probe wrote it before it read the collector's rhythm and counted the apps.
    newer = (
        "gen2_per_1k",
        "young_per_request",
        "inherited_objects",
        "first_full_collections",
        "other_url_ms",
        "urlconf_at_load",
    )
    current = probes["oscarshop"]["real"]
    old = {k: v for k, v in current.items() if k != "app_models"}
    old["modes"] = [{k: v for k, v in m.items() if k not in newer} for m in current["modes"]]
    for phase in ("setup", "first_request"):
        old[phase] = {k: v for k, v in current[phase].items() if k != "full_collections"}
    profile = ProjectProfile.from_dict(old)
    lazy = profile.mode("lazy")
    assert lazy.gen2_per_1k is None and lazy.young_per_request is None and profile.app_models == {}
    assert lazy.uss_mb == old["modes"][0]["uss_mb"] and profile.first_request.full_collections == 0
    assert targets(profile)["prewarm_young_per_request"] == 0.0
    assert lazy.other_url_ms is None and targets(profile)["other_url_ms"] == 0.0
    # Where the project imports its URLconf is copied, not fitted: unread, the twin leaves it to the first request.
    assert structure_options(profile).urlconf_at_load is False
    eager = replace(profile, modes=tuple(replace(m, urlconf_at_load=True) for m in profile.modes))
    assert structure_options(eager).urlconf_at_load is True


def test_a_twin_is_probed_on_the_database_its_project_runs_on(postgres, tmp_path):
    """A twin of a project on PostgreSQL is built and probed there: its first connection is part of what a first
    request costs. Without the database it would fall back to an empty db.sqlite3 and answer errors."""
    name = f"prefork_lab_twin_{os.getpid()}"
    env = {"DATABASE_URL": postgres.url_of(name), "DATABASE_CONN_MAX_AGE": "300"}
    options = resolve_options(6, apps=2, rows_per_model=2, library_loc=0, view_library_loc=0)
    try:
        (profile,) = inspect_generated(options, tmp_path / "twin", database_env=env)
        assert not profile.warnings, profile.warnings  # every URL answered 2xx from PostgreSQL's rows
        assert not (tmp_path / "twin" / "db.sqlite3").exists()
        again = inspect_generated(options, tmp_path / "again", database=tmp_path / "built", database_env=env)
        assert not again[0].warnings and not (tmp_path / "again" / "db.sqlite3").exists()
    finally:
        postgres.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
