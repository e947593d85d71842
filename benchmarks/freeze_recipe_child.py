"""Run in a generated project's interpreter: load and warm it like a pre-fork master, freeze by one recipe, fork.

    python freeze_recipe_child.py PROJECT_DIR RECIPE REQUESTS URL [URL ...]

RECIPE: ``none`` (prewarm: the collector on throughout), ``collect-freeze`` (the lab's prewarm-freeze: collector
off while loading, ``gc.collect()`` then ``gc.freeze()`` before fork) or ``freeze`` (Python's gc documentation:
collector off while loading, ``gc.freeze()`` before fork, no collection). One worker, collector on, serves
REQUESTS requests over the URLs; prints one JSON line with its private memory (USS) after serving and after a
full collection. Standard library, the test suite's fork probe and the project only: nothing of the lab is loaded into the master.
"""

import gc
import json
import os
import sys
from pathlib import Path

# The test suite's fork probe is the same kind of child (standard library only): its WSGI GET, its USS reading
# and its forked worker.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fork_probe import _get as get  # noqa: E402
from fork_probe import _in_worker as in_worker  # noqa: E402
from fork_probe import _uss_mb as uss_mb  # noqa: E402


def serve(application, urls: list[str], requests: int, out) -> None:
    gc.enable()
    for number in range(requests):
        get(application, urls[number % len(urls)])
    after_traffic = uss_mb()
    gc.collect()
    out.write(
        json.dumps({"uss_mb": round(after_traffic, 1), "uss_collected_mb": round(uss_mb(), 1)}).encode()
    )


def main(project: str, recipe: str, requests: int, urls: list[str]) -> int:
    if recipe != "none":
        gc.disable()
    os.chdir(project)
    sys.path.insert(0, project)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    from config.wsgi import application
    from django.db import connections

    for url in urls:
        get(application, url)
    connections.close_all()
    if recipe == "collect-freeze":
        gc.collect()
    if recipe != "none":
        gc.freeze()
    master = uss_mb()
    report = in_worker(lambda out: serve(application, urls, requests, out))
    if report is None:
        return 1
    print(json.dumps({"recipe": recipe, "master_uss_mb": round(master, 1), **json.loads(report)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]))
