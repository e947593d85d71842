"""How fast gen-project writes projects (and their databases), against the targets it must reach.

    .venv/bin/python benchmarks/bench_generator.py            # the three figures of the issue
    .venv/bin/python benchmarks/bench_generator.py --quick    # small sizes, a smoke run

Each figure is one full `generate_project` call (spec, render, write, and the DB build in its own interpreter
where asked), timed with a wall clock; the machine is shared, so run it when nothing else is.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from generator.api import generate_project, resolve_options

FIGURES = (
    # (label, models, build_db, target seconds)
    ("300 models, realistic, no DB", 300, False, 2.0),
    ("10,000 models, realistic, no DB", 10_000, False, 60.0),
    ("3,000 models, realistic, DB with 20 rows/model", 3_000, True, 60.0),
)
QUICK = (("30 models, no DB", 30, False, 2.0), ("100 models, DB", 100, True, 60.0))


def measure(models: int, build_db: bool, workdir: Path) -> tuple[float, dict]:
    out = workdir / f"m{models}-{int(build_db)}"
    started = time.perf_counter()
    manifest = generate_project(resolve_options(models), out, build_db=build_db)
    elapsed = time.perf_counter() - started
    shutil.rmtree(out)
    return elapsed, manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gen-") as tmp:
        for label, models, build_db, target in QUICK if args.quick else FIGURES:
            elapsed, manifest = measure(models, build_db, Path(tmp))
            counts = manifest["counts"]
            verdict = "ok" if elapsed <= target else "OVER"
            line = (
                f"{label:<48} {elapsed:7.2f} s  (target ≤ {target:g} s: {verdict}; {counts['files']} files, "
                f"{counts['lines_of_code']} lines, {counts['url_patterns']} URL patterns)"
            )
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
