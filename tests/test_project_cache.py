"""The runner's cache of generated projects is reused only when the same generator wrote it."""

import json

from experiments.projects import cache_path, is_built
from experiments.sweep import parse_sweep
from generator import __version__


def test_a_cached_tree_from_another_generator_version_is_rebuilt(tmp_path):
    spec = parse_sweep("project:\n  models: 3\n  profile: minimal\n", base_dir=tmp_path).projects[0]
    path = cache_path(spec, tmp_path)
    path.mkdir(parents=True)
    (path / "db.sqlite3").write_bytes(b"")
    for version, built in (("0.2.0", False), (__version__, True)):
        manifest = {"options": spec.options_dict, "generator_version": version, "database": "db.sqlite3"}
        (path / "manifest.json").write_text(json.dumps(manifest))
        assert is_built(spec, tmp_path) is built
