"""Write results/calibration/table.md and table.csv: real projects against `realistic` and their `--like` twins.

    python calibration/table.py              # inspect every project again, then build the table
    python calibration/table.py --no-inspect # reuse results/calibration/profiles.json

Reads the runner's CSVs written by the calibration-<project>.yaml sweeps (each: the real project, its twin and
the default profile, interleaved in one plan). Inspecting needs the real projects
(calibration/prepare.py); the synthetic ones are regenerated, without a database, from their sweep's options.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from experiments.analysis.calibration import comparison_rows, run_medians, table_lines  # noqa: E402
from experiments.analysis.stats import load_results  # noqa: E402
from experiments.sweep import load_sweep  # noqa: E402

SWEEPS = REPO / "experiments" / "sweeps"
RESULTS = REPO / "results" / "calibration"
PROJECTS = REPO / "generated" / "calibration"
# name: (how to load it, its first URL, extra environment)
REAL = {
    "oscarshop": (str(PROJECTS / "oscarshop"), "/catalogue/", {}),
    "pretix": ("pretix.settings", "/", {"PRETIX_CONFIG_FILE": "pretix.cfg"}),
}


def _inspect_real(name: str) -> dict:
    from generator.inspect_project import inspect_project, resolve_target

    target, url, env = REAL[name]
    cwd = PROJECTS / name
    previous = Path.cwd()
    os.chdir(cwd)  # a settings module is found from the working directory, as gen-project --like does
    try:
        return inspect_project(resolve_target(target), url=url, env=env).as_dict()
    finally:
        os.chdir(previous)


def _inspect_generated(options: dict, path: Path) -> dict:
    from generator.options import GenOptions
    from generator.twin import inspect_generated

    return inspect_generated(GenOptions(**options), path).as_dict()


def _sweep(name: str):
    """The calibration sweep of one real project: its projects are [real, --like twin, default realistic]."""
    sweep = load_sweep(SWEEPS / f"calibration-{name}.yaml")
    real, twin, default = sweep.projects
    return real, twin, default


def inspect_all() -> dict:
    profiles: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="prefork-lab-calibration-") as workdir:
        for name in REAL:
            _, twin, default = _sweep(name)
            profiles[name] = {
                "real": _inspect_real(name),
                "twin": _inspect_generated(twin.options_dict, Path(workdir) / f"{name}-twin"),
                "default": _inspect_generated(default.options_dict, Path(workdir) / f"{name}-default"),
            }
    return profiles


def _roles(results, name: str) -> dict[str, str]:
    """{role: project label} in one calibration CSV. The runner labels a generated project with a hash suffix
    exactly when its options differ from its profile's defaults: that is the twin, the bare label the default."""
    generated = sorted(label for label in results["project"].unique() if label != name)
    default = [label for label in generated if re.fullmatch(r"realistic-m\d+-s\d+", label)]
    twin = [label for label in generated if label not in default]
    if len(default) != 1 or len(twin) != 1:
        raise SystemExit(
            f"Error: {name}.csv should hold {name}, one twin and one default project: {generated}"
        )
    return {"real": name, "twin": twin[0], "default": default[0]}


def build_table(profiles: dict) -> list[dict]:
    medians: dict[str, dict] = {}
    for name in REAL:
        results = load_results(RESULTS / f"{name}.csv")
        medians[name] = {
            role: run_medians(results[results["project"] == label])
            for role, label in _roles(results, name).items()
        }
    rows: list[dict] = []
    for name in REAL:
        rows += comparison_rows(
            f"--like twin of {name}",
            [medians[name]["real"]],
            [medians[name]["twin"]],
            [profiles[name]["real"]],
            [profiles[name]["twin"]],
        )
    rows += comparison_rows(
        "default realistic vs the real projects' median (each at the real project's model count)",
        [medians[name]["real"] for name in REAL],
        [medians[name]["default"] for name in REAL],
        [profiles[name]["real"] for name in REAL],
        [profiles[name]["default"] for name in REAL],
    )
    for name in REAL:
        models = profiles[name]["real"]["own_models"]
        rows += comparison_rows(
            f"default realistic at {models} models vs {name} alone (for information)",
            [medians[name]["real"]],
            [medians[name]["default"]],
            [profiles[name]["real"]],
            [profiles[name]["default"]],
            decides=False,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-inspect", action="store_true", help="reuse results/calibration/profiles.json")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where table.md and table.csv go")
    args = parser.parse_args(argv)
    import pandas as pd

    from experiments.analysis.calibration import TOLERANCE

    profiles_path = RESULTS / "profiles.json"
    if args.no_inspect:
        profiles = json.loads(profiles_path.read_text())
    else:
        profiles = inspect_all()
        profiles_path.write_text(json.dumps(profiles, indent=1, sort_keys=True) + "\n")
    rows = build_table(profiles)
    repetitions = max(int(load_results(RESULTS / f"{name}.csv")["repetition"].max()) for name in REAL)
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "table.csv", index=False, float_format="%.4g")
    header = [
        "# Calibration: real Django projects against synthetic ones",
        "",
        "Generated by `python calibration/table.py` from the runner's CSVs in this directory (lazy / prefork /",
        f"prewarm, 4 workers, median of {repetitions} repetitions) and the inspection profiles in profiles.json",
        "(one load each). Rows marked in the last column decide: the synthetic value must lie within",
        f"±{TOLERANCE:.0%} of the real one. memory_per_worker_mb is the total PSS after traffic divided by the",
        "workers. Several real projects reduce to the median of their medians.",
    ]
    (args.out / "table.md").write_text("\n".join(header + table_lines(table)) + "\n")
    print(f"wrote {args.out / 'table.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
