"""Which freeze recipe keeps a worker's memory shared: collect before ``gc.freeze()``, or not?

    python benchmarks/bench_freeze_recipes.py --project generated/realistic-m300-s0
    python benchmarks/bench_freeze_recipes.py --project generated/realistic-m3000-s0 --requests 20

The lab's ``prewarm-freeze`` collects, then freezes, just before fork; Python's gc documentation freezes without
collecting ("avoid creating freed holes in memory pages in the parent"). For each recipe, and for plain
prewarm, ``freeze_recipe_child.py`` loads and warms a generated project in a fresh interpreter, forks one
worker that serves ``--requests`` requests, and reports the worker's USS after serving and after one full
collection. Memory only (no timing), so it can run beside other work.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.api import choose_urls  # noqa: E402

CHILD = Path(__file__).with_name("freeze_recipe_child.py")
RECIPES = (
    ("none", "prewarm (no freeze)"),
    ("collect-freeze", "collect + freeze (lab)"),
    ("freeze", "freeze only (docs)"),
)


def measure(project: Path, recipe: str, requests: int, urls: tuple[str, ...]) -> dict:
    done = subprocess.run(
        [sys.executable, str(CHILD), str(project), recipe, str(requests), *urls],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"Error: {recipe}: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a generated project (with its database)")
    parser.add_argument("--requests", type=int, default=20, help="requests the worker serves (default 20)")
    parser.add_argument("--max-urls", type=int, default=8, help="URLs warmed and served, as the runner picks")
    args = parser.parse_args()
    manifest = json.loads((args.project / "manifest.json").read_text())
    urls = choose_urls(manifest["urls"], args.max_urls)
    print(f"{args.project.name}: {args.requests} requests over {len(urls)} URLs; worker USS in MB")
    print(f"{'recipe':<26} {'master':>8} {'after traffic':>14} {'after a collection':>19}")
    for recipe, label in RECIPES:
        found = measure(args.project.resolve(), recipe, args.requests, urls)
        print(
            f"{label:<26} {found['master_uss_mb']:>8.1f} {found['uss_mb']:>14.1f} {found['uss_collected_mb']:>19.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
