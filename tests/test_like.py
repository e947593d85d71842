"""`gen-project --like`: inspecting an existing project, fitting a twin, and the library weight knobs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator.api import generate_project
from generator.errors import GeneratorError
from generator.inspect_project import Target, inspect_project, resolve_target
from generator.options import default_output, resolve_options
from generator.render import render_project
from generator.spec import build_spec
from generator.twin import FIT_TOLERANCE, fit_twin, phase_weights, scale_to

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


def test_inspect_counts_an_existing_project():
    profile = inspect_project(resolve_target(str(FIXTURES / "tinyproject")), url="/")
    assert profile.settings_module == "tinysite.settings"
    assert profile.models >= 1 and profile.apps >= 1 and profile.url_patterns >= 1
    assert profile.first_request.status == 200
    assert profile.setup.seconds > 0 and profile.setup.modules > 100  # Django itself
    assert profile.setup.rss_mb > profile.baseline_rss_mb


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
    """A generated project whose library weight we know: the fit has to find it again."""
    path = tmp_path_factory.mktemp("weighed") / "p"
    options = resolve_options(24, apps=3, seed=7, library_loc=60_000, view_library_loc=30_000)
    generate_project(options, path, build_db=False)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(path)], check=True, capture_output=True)
    return options, path


def test_fit_finds_the_weight_of_a_known_project_again(weighed_project):
    options, path = weighed_project
    real = inspect_project(Target(path, "config.settings"))
    twin = fit_twin([real], seed=1)
    last = twin.rounds[-1]
    real_setup, real_first = phase_weights(real)
    # Memory is deterministic, so it must fit; seconds are noisy on a shared machine and are not asserted.
    assert abs(last.setup.mb - real_setup.mb) <= FIT_TOLERANCE * real_setup.mb, twin.rounds
    assert abs(last.first_request.mb - real_first.mb) <= FIT_TOLERANCE * real_first.mb, twin.rounds
    assert twin.options.models == 24 and twin.options.apps == 3
    # The twin's other code differs (seed, fields), so the knobs land near, not on, the true values.
    assert 0.6 * options.library_loc <= twin.options.library_loc <= 1.4 * options.library_loc
    assert 0.6 * options.view_library_loc <= twin.options.view_library_loc <= 1.4 * options.view_library_loc


def test_scale_keeps_the_per_project_weight_and_the_app_density():
    options = resolve_options(80, apps=16, library_loc=1234, view_library_loc=567, fields_per_model=6)
    bigger = scale_to(options, 240)
    assert (bigger.models, bigger.apps) == (240, 48)
    assert (bigger.library_loc, bigger.view_library_loc, bigger.fields_per_model) == (1234, 567, 6)


def test_cli_like_writes_a_scaled_twin_and_records_the_fit(weighed_project, tmp_path):
    _, path = weighed_project
    out = tmp_path / "twin"
    done = subprocess.run(
        [GEN_PROJECT, "--like", str(path), "--models", "48", "--no-db", "--output", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "twin: --library-loc" in done.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["options"]["models"] == 48 and manifest["options"]["apps"] == 6
    profile = manifest["like"]["profile"]
    # django.contrib's models count in `models` only.
    assert profile["own_models"] == 24 and profile["models"] > 24
    assert manifest["options"]["library_loc"] == manifest["like"]["fitted_options"]["library_loc"] > 0


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--imports", "3"], "--imports"),
        (["--apps", "3"], "--apps"),
        (["--library-loc", "10"], "--library-loc"),
        (["--like-url", "nope"], "--like-url"),
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
