"""Count the models of each app of the real calibration projects: results/calibration/app_models.json.

    python calibration/count_apps.py              # every real project
    python calibration/count_apps.py pretix

The probe's count (generator/probe.py, as the runner counts an existing project) of each real project as its
calibration sweep names it (directory, WSGI application, environment, interpreter): one interpreter loads it and
counts, measuring nothing and writing nothing (no bytecode). It needs the real projects
(calibration/prepare.py). The scale analysis (experiments/analysis/scale.py) reads these counts where probes.json
holds none: probes written before the probe counted models app by app.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SWEEPS = REPO / "experiments" / "sweeps"
OUTPUT = REPO / "results" / "calibration" / "app_models.json"
PROJECTS = ("oscarshop", "pretalx", "pretix", "wagtailsite", "wikisite")


def count(name: str) -> dict:
    """{"models": own models, "app_models": {app label: models}} of one real project, outside django.contrib."""
    from experiments.sweep import load_sweep
    from generator.probe import ProbeTarget, count_structure

    real = next(p for p in load_sweep(SWEEPS / f"calibration-{name}.yaml").projects if p.label == name)
    env = {"PYTHONDONTWRITEBYTECODE": "1", **dict(real.env)}
    structure = count_structure(ProbeTarget(Path(real.path), tuple(env.items()), real.wsgi, real.python))
    return {"own_models": structure.own_models, "app_models": structure.app_models}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", help=f"any of {', '.join(PROJECTS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.projects if name not in PROJECTS]
    if unknown:
        parser.error(f"unknown project {', '.join(unknown)}; choose among {', '.join(PROJECTS)}")
    counts = json.loads(OUTPUT.read_text()) if OUTPUT.is_file() else {}
    for name in args.projects or PROJECTS:
        counts[name] = count(name)
        print(f"{name}: {counts[name]['own_models']} models in {len(counts[name]['app_models'])} apps")
    OUTPUT.write_text(json.dumps(dict(sorted(counts.items())), indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
