"""Generated projects are real Django projects: they pass `check`, build their DB and serve every URL."""

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.api import generate_project, resolve_options


@st.composite
def small_projects(draw, profile):
    models = draw(st.integers(1, 24))
    apps = draw(st.integers(1, min(models, 4)))
    seed = draw(st.integers(0, 10**6))
    rows = draw(st.integers(1, 6))
    # The library's weight is exercised by the mid-size test below; here only its shape varies, kept small.
    library = {
        "library_loc": draw(st.integers(0, 2_000)),
        "view_library_loc": draw(st.integers(0, 2_000)),
        "library_work": draw(st.sampled_from([0.0, 0.5, 1.0, 1.5])),
        "view_touch_share": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "worker_init_work": draw(st.sampled_from([0, 300])),
    }
    return resolve_options(models, apps=apps, profile=profile, seed=seed, rows_per_model=rows, **library)


def _assert_healthy(report: dict, expected_urls: int) -> None:
    assert report["problems"] == []
    assert report["failures"] == {}
    assert report["checked"] == expected_urls


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["minimal", "realistic"])
def test_property_generated_projects_check_build_and_serve(profile, tmp_path_factory, probe):
    @settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(options=small_projects(profile))
    def check(options):
        out = tmp_path_factory.mktemp(profile) / "p"
        manifest = generate_project(options, out)
        assert manifest["counts"]["models"] == options.models
        _assert_healthy(probe(out), len(manifest["urls"]))

    check()


@pytest.mark.slow
def test_manage_py_check_and_a_mid_size_project(tmp_path, probe):
    options = resolve_options(60, seed=42, rows_per_model=4)
    manifest = generate_project(options, tmp_path / "p")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=tmp_path / "p", capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    report = probe(tmp_path / "p")
    _assert_healthy(report, len(manifest["urls"]))
    assert report["posted"] == 5
