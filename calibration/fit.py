"""Fit the `--like` twin of each real calibration project, probed as its sweep measures it.

    python calibration/fit.py oscarshop pretix   # default: every real project

Runs what `gen-project --like` runs (generator/twin.py), on the real project as its calibration sweep names it
(directory, WSGI application, environment, URLs, interpreter), writes the fit to
``results/calibration/fits/<name>.json`` and the twin's options into the sweep's ``<name>-twin`` block. A fit is
not re-run by `make calibration`: its seconds depend on the machine, and the committed sweeps are what was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from prepare import PROJECTS as REAL_PROJECTS  # noqa: E402 - beside this file, on sys.path[0]

from experiments.databases.cluster import SUPERUSER  # noqa: E402

SWEEPS = REPO / "experiments" / "sweeps"
FITS = REPO / "results" / "calibration" / "fits"
PROJECTS = tuple(REAL_PROJECTS)  # every real project prepare.py lays out
# The twin's options written in its sweep, in this order.
SWEEP_KEYS = (
    "models",
    "apps",
    "fields_per_model",
    "relations_per_model",
    "loc_per_model",
    "library_loc",
    "library_work",
    "view_library_loc",
    "view_library_work",
    "view_touch_share",
    "worker_init_work",
    "request_objects",
    "library_objects",
    "first_request_work",
    "view_first_work",
    "urlconf_at_load",
)


def twin_database_env(twin) -> dict[str, str] | None:
    """Where the twin's probes run: on the database its sweep runs it on (PostgreSQL: a database of its own in the
    cluster ``calibration/nautobot_db.py`` started, with the sweep's connection settings), else SQLite (None)."""
    if twin.database.kind != "postgresql":
        return None
    host = os.environ.get("NAUTOBOT_DB_HOST")
    if not host:
        raise SystemExit(
            f"Error: {twin.label} runs on PostgreSQL: run the fit inside calibration/nautobot_db.py, whose "
            "cluster holds the twin's database too"
        )
    return {"DATABASE_URL": f"postgresql://{SUPERUSER}@/twin_fit?host={host}", **twin.database.env()}


def fit(name: str, resume: bool = False) -> dict:
    from experiments.sweep import load_sweep
    from generator.inspect_project import Target, inspect_project
    from generator.twin import PROBE_REQUESTS, REAL_INSPECTIONS, fit_twin, format_round, format_targets

    real, twin_spec = load_sweep(SWEEPS / f"calibration-{name}.yaml").projects[:2]
    env = dict(real.env)
    settings = env.pop("DJANGO_SETTINGS_MODULE", real.wsgi.split(".")[0] + ".settings")
    target = Target(Path(real.path), settings)
    profiles = [
        inspect_project(
            target, env=env, urls=real.urls, wsgi=real.wsgi, python=real.python, requests=PROBE_REQUESTS
        )
        for _ in range(REAL_INSPECTIONS)
    ]
    print(f"{name}: {profiles[0].own_models} models, {profiles[0].own_apps} apps", flush=True)
    # Resuming begins from the knobs of the committed fit: fewer rounds, the same targets and rule to stop.
    start = json.loads((FITS / f"{name}.json").read_text())["fitted_options"] if resume else None
    twin = fit_twin(
        profiles,
        progress=lambda r: print("\n".join(format_round(r)), flush=True),
        start=start,
        database_env=twin_database_env(twin_spec),
    )
    print("\n".join(format_targets(twin.real)))
    if twin.misses():
        print(f"  missed: {', '.join(twin.misses())} (the twin takes round {twin.chosen + 1}, the closest)")
    return {"project": name, "urls": list(real.urls), "profile": profiles[0].as_dict(), **twin.record()}


def write_twin(name: str, options: dict) -> None:
    """Replace the options of the sweep's ``<name>-twin`` block (the lines up to the next block or key); what
    the twin runs on (``database``, ``conn_max_age``, ``pool``: the real project's choice, not fitted) stays."""
    from experiments.sweep.keys import DATABASE_KEYS

    path = SWEEPS / f"calibration-{name}.yaml"
    lines = path.read_text().splitlines()
    start = lines.index(f"  - name: {name}-twin") + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("    "))
    kept = [line for line in lines[start:end] if line.strip().split(":")[0] in DATABASE_KEYS]
    lines[start:end] = [f"    {key}: {options[key]}" for key in SWEEP_KEYS] + kept
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", help=f"any of {', '.join(PROJECTS)} (default: all)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="begin from the knobs of each project's committed fit, not from none",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.projects if name not in PROJECTS]
    if unknown:
        parser.error(f"unknown project {unknown[0]!r}; choose from {', '.join(PROJECTS)}")
    FITS.mkdir(parents=True, exist_ok=True)
    for name in args.projects or PROJECTS:
        record = fit(name, resume=args.resume)
        (FITS / f"{name}.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        write_twin(name, record["fitted_options"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
