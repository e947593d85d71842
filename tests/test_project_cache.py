"""The build cache works where flock does not (a cluster's shared file system): a generated project is built
beside its entry and renamed into place; a half-built entry is replaced, and a builder that loses the race
takes the winner's project. The generator is faked here (it is tested for real elsewhere)."""

from __future__ import annotations

import json

import pytest
from runner_support import write_sweep

from experiments.projects import cache_path, is_built, prepare
from experiments.sweep import load_sweep, parse_sweep
from generator import __version__


@pytest.fixture
def spec(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, {"project": {"models": 10, "rows_per_model": 2}}))
    return sweep.projects[0], sweep.traffic


def fake_generator(monkeypatch, before_return=lambda output: None):
    calls = []

    def generate(options, output, *, build_db=True, force=False):
        calls.append(output)
        output.mkdir(parents=True)
        manifest = {
            "options": options.as_dict(),
            "generator_version": __version__,
            "database": "db.sqlite3",
            "counts": {"models": 10},
            "urls": ["/"],
        }
        (output / "db.sqlite3").write_bytes(b"")
        (output / "manifest.json").write_text(json.dumps(manifest))
        (output / "built_by").write_text(output.name)
        before_return(output)
        return manifest

    monkeypatch.setattr("generator.api.generate_project", generate)
    return calls


def test_a_project_is_built_beside_its_entry_then_renamed_into_place(tmp_path, spec, monkeypatch):
    project, traffic = spec
    calls = fake_generator(monkeypatch)
    cache = tmp_path / "cache"
    stale = cache_path(project, cache)
    stale.mkdir(parents=True)
    (stale / "half-written.py").write_text("")  # a build killed before it wrote its manifest
    prepared = prepare(project, traffic, cache)
    assert prepared.root == stale and is_built(project, cache)
    assert calls[0].parent == cache and calls[0] != stale  # never written in place
    assert not (stale / "half-written.py").exists()
    assert sorted(p.name for p in cache.iterdir()) == ["bytecode", stale.name]  # no scratch or stale copy
    prepare(project, traffic, cache)
    assert len(calls) == 1  # built once


def test_a_builder_that_loses_the_race_takes_the_winners_project(tmp_path, spec, monkeypatch):
    project, traffic = spec
    cache = tmp_path / "cache"
    final = cache_path(project, cache)

    def another_builder_finishes_first(output):
        if not final.exists():
            final.mkdir()
            for name in ("manifest.json", "db.sqlite3"):
                (final / name).write_bytes((output / name).read_bytes())
            (final / "built_by").write_text("the other builder")

    fake_generator(monkeypatch, another_builder_finishes_first)
    prepared = prepare(project, traffic, cache)
    assert prepared.root == final and (final / "built_by").read_text() == "the other builder"
    assert sorted(p.name for p in cache.iterdir()) == ["bytecode", final.name]


def test_a_cached_tree_from_another_generator_version_is_rebuilt(tmp_path):
    spec = parse_sweep("project:\n  models: 3\n  profile: minimal\n", base_dir=tmp_path).projects[0]
    path = cache_path(spec, tmp_path)
    path.mkdir(parents=True)
    (path / "db.sqlite3").write_bytes(b"")
    for version, built in (("0.2.0", False), (__version__, True)):
        manifest = {"options": spec.options_dict, "generator_version": version, "database": "db.sqlite3"}
        (path / "manifest.json").write_text(json.dumps(manifest))
        assert is_built(spec, tmp_path) is built


def test_an_existing_project_without_wsgi_is_served_from_its_wsgi_application(tmp_path):
    """The probe that counts the project reads WSGI_APPLICATION; a project it cannot load is refused, saying
    why, before any server starts."""
    from runner_support import BROKEN, TINY

    from experiments.errors import ExperimentError

    sweep = load_sweep(write_sweep(tmp_path, {"project": {"path": str(TINY), "urls": ["/"]}}))
    project = prepare(sweep.projects[0], sweep.traffic, tmp_path / "cache")
    assert project.wsgi == "tinysite.wsgi:application" and project.models == 2
    broken = write_sweep(
        tmp_path, {"project": {"path": str(BROKEN), "env": {"DJANGO_SETTINGS_MODULE": "tinysite.settings"}}}
    )
    spec = load_sweep(broken).projects[0]
    with pytest.raises(
        ExperimentError, match="no wsgi given, and cannot load .*brokenproject fails on purpose"
    ):
        prepare(spec, sweep.traffic, tmp_path / "cache")
