"""The glue that runs Nautobot without Redis: the two django-redis calls its code makes, on a local-memory cache."""

import importlib.util
from pathlib import Path

GLUE = (
    Path(__file__).resolve().parent.parent / "calibration" / "projects" / "nautobot" / "calibration_cache.py"
)


def _cache():
    spec = importlib.util.spec_from_file_location("calibration_cache", GLUE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LocalMemoryCache("nautobot-test", {})


def test_delete_pattern_deletes_the_keys_a_glob_matches_and_no_other():
    cache = _cache()
    for key in ("tree_queries(1)", "tree_queries(2)", "tree_queries", "openapi_schema_cache_en", "other"):
        cache.set(key, 1)
    assert cache.delete_pattern("tree_queries(*)") == 2
    assert cache.delete_pattern("openapi_schema_cache_*") == 1
    assert [
        k for k in ("tree_queries(1)", "tree_queries", "openapi_schema_cache_en", "other") if k in cache
    ] == [
        "tree_queries",
        "other",
    ]


def test_one_key_names_one_lock_that_excludes_another_holder():
    cache = _cache()
    with cache.lock("ipam-prefix-1", timeout=10):
        assert not cache.lock("ipam-prefix-1").acquire(blocking=False)
        other = cache.lock("ipam-prefix-2")
        assert other.acquire(blocking=False)
        other.release()
    assert cache.lock("ipam-prefix-1").acquire(blocking=False)
