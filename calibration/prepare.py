"""Lay out the real projects that calibrate the `realistic` profile, each with its SQLite database.

Run after ``pip install -e '.[calibration]'`` (``make calibration`` does both). Writes under
``generated/calibration/`` by default:

- ``oscarshop/``: a django-oscar shop set up as Oscar's "Building your own shop" guide says (the settings, URLconf and
  WSGI glue are in ``calibration/projects/oscarshop``; every app is Oscar's), migrated.
- ``pretix/``: pretix, the ticket shop, used as shipped: only a ``pretix.cfg`` naming the data directory; migrated,
  and its static files compiled with ``pretix rebuild`` as a deployment does.

A project is rebuilt only when its directory lacks the ``.prepared`` stamp. A failure removes the half-made directory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STAMP = ".prepared"

PRETIX_CONFIG = """\
[pretix]
instance_name=calibration
url=http://127.0.0.1
datadir=data
[django]
debug=off
[database]
backend=sqlite3
"""


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})}, check=True, stdin=subprocess.DEVNULL)


def prepare_oscarshop(target: Path) -> None:
    shutil.copytree(
        HERE / "projects" / "oscarshop", target, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3")
    )
    _run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=target)


def prepare_pretix(target: Path) -> None:
    target.mkdir(parents=True)
    (target / "data").mkdir()
    (target / "pretix.cfg").write_text(PRETIX_CONFIG)
    env = {"PRETIX_CONFIG_FILE": str(target / "pretix.cfg")}
    _run([sys.executable, "-m", "pretix", "migrate", "--no-input", "-v0"], cwd=target, env=env)
    _run([sys.executable, "-m", "pretix", "rebuild"], cwd=target, env=env)


PROJECTS = {"oscarshop": prepare_oscarshop, "pretix": prepare_pretix}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "generated" / "calibration")
    parser.add_argument("projects", nargs="*", help=f"any of {', '.join(PROJECTS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.projects if name not in PROJECTS]
    if unknown:
        parser.error(f"unknown project {unknown[0]!r}; choose from {', '.join(PROJECTS)}")
    for name in args.projects or PROJECTS:
        target = args.out / name
        if (target / STAMP).is_file():
            print(f"{name}: ready in {target}")
            continue
        shutil.rmtree(target, ignore_errors=True)
        print(f"{name}: preparing in {target} …", flush=True)
        try:
            PROJECTS[name](target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / STAMP).write_text("")
        print(f"{name}: ready in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
