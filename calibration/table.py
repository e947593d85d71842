"""Write results/calibration/table.md and table.csv: real projects against their `--like` twins and the profiles.

    python calibration/table.py              # probe every real project and twin again, then build the table
    python calibration/table.py --no-inspect # reuse results/calibration/probes.json

Reads the runner's CSVs written by the calibration-<project>.yaml sweeps (each: the real project and its twin,
interleaved in one plan) and by calibration-profiles.yaml (`realistic`, `startup-heavy` and `request-heavy`). The
probes (generator/probe.py, as `--like` runs them) need the real projects (calibration/prepare.py); the twins are
regenerated from their sweep's options.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from experiments.analysis.calibration import (  # noqa: E402
    ABSOLUTE,
    INTERVAL,
    MODES,
    RHYTHM_MARGIN,
    TOLERANCE,
    comparison_rows,
    position_lines,
    position_rows,
    ratio_intervals,
    rhythm_rows,
    run_medians,
    run_values,
    table_lines,
)
from experiments.analysis.stats import load_results  # noqa: E402
from experiments.sweep import load_sweep  # noqa: E402

SWEEPS = REPO / "experiments" / "sweeps"
RESULTS = REPO / "results" / "calibration"
# The real projects the fit method was developed and tuned on, then those it was run on unchanged.
TUNED = ("oscarshop", "pretix", "wikisite", "nautobot")
HELD_OUT = ("wagtailsite", "pretalx")
REAL = (*TUNED, *HELD_OUT)
PROFILES = ("realistic", "startup-heavy", "request-heavy")
# What the probe shows per mode, compared for information: (figure of ModeFigures, unit).
PROBE_FIGURES = (
    ("load_s", "s"),
    ("first_ms", "ms"),
    ("uss_mb", "MB"),
    ("uss_collected_mb", "MB"),
    ("young_per_request", "/request"),
    ("inherited_objects", "objects"),
    ("first_full_collections", ""),
    ("other_url_ms", "ms"),
    ("urlconf_at_load", ""),
)


def _labels(name: str) -> list[str]:
    """The projects of one calibration sweep: the real project and `<name>-twin`, or the profiles."""
    return list(PROFILES) if name == "profiles" else [name, f"{name}-twin"]


def _projects(name: str) -> dict:
    """{label: project} of one calibration sweep; needs the real projects installed."""
    sweep = load_sweep(SWEEPS / f"calibration-{name}.yaml")
    projects = {project.label: project for project in sweep.projects}
    wanted = _labels(name)
    if sorted(projects) != sorted(wanted):
        raise SystemExit(f"Error: calibration-{name}.yaml should name the projects {', '.join(wanted)}")
    return projects


def _probe(name: str, workdir: Path) -> dict:
    from fit import twin_database_env  # beside this file, on sys.path[0]

    from generator.inspect_project import Target, inspect_project
    from generator.options import GenOptions
    from generator.twin import PROBE_REQUESTS, inspect_generated

    projects = _projects(name)
    real = projects[name]
    env = dict(real.env)
    settings = env.pop("DJANGO_SETTINGS_MODULE", real.wsgi.split(".")[0] + ".settings")
    profile = inspect_project(
        Target(Path(real.path), settings),
        env=env,
        urls=real.urls,
        wsgi=real.wsgi,
        python=real.python,
        requests=PROBE_REQUESTS,
    )
    twin_spec = projects[f"{name}-twin"]
    options = GenOptions(**twin_spec.options_dict)
    # On the database its sweep runs it on, as its fit probed it.
    twin = inspect_generated(options, workdir / name, database_env=twin_database_env(twin_spec))[0]
    return {"real": profile.as_dict(), "twin": twin.as_dict()}


def inspect(names: tuple[str, ...]) -> dict:
    with tempfile.TemporaryDirectory(prefix="prefork-lab-calibration-") as workdir:
        return {name: _probe(name, Path(workdir)) for name in names}


def probe_figures(profile: dict) -> dict[tuple[str, str], float]:
    """{(figure, mode): value} of a probed profile (ProjectProfile.as_dict()); a figure an older probe did not
    read is left out."""
    return {
        (figure, m["mode"]): m[figure]
        for m in profile["modes"]
        for figure, _unit in PROBE_FIGURES
        if m.get(figure) is not None
    }


@functools.cache
def _results(name: str):
    """The rows of one calibration sweep, read once."""
    return load_results(RESULTS / f"{name}.csv")


def _rows_of(name: str):
    # From the committed rows alone: the table regenerates where the real projects are not installed.
    results = _results(name)
    missing = sorted(set(_labels(name)) - set(results["project"]))
    if missing:
        raise SystemExit(f"Error: {name}.csv holds no rows of {', '.join(missing)}")
    return {label: results[results["project"] == label] for label in _labels(name)}


def _medians(name: str) -> dict[str, dict]:
    return {label: run_medians(rows) for label, rows in _rows_of(name).items()}


def _repetitions(name: str) -> int:
    return int(_results(name)["repetition"].max())


def _model_range() -> str:
    """ "19 to 186": the fewest and most models outside django.contrib among the real projects' rows."""
    counts = [int(_results(name).query("project == @name")["models"].max()) for name in REAL]
    return f"{min(counts)} to {max(counts)}"


def build_table(profiles: dict) -> tuple[list[dict], list[dict]]:
    """(comparison rows, position rows)."""
    medians = {name: _medians(name) for name in REAL}
    rows: list[dict] = []
    for name in REAL:
        title = f"--like twin of {name}" + (
            " (held out: the fit method run unchanged)" if name in HELD_OUT else ""
        )
        title += f", median of {_repetitions(name)}"
        real, twin = medians[name][name], medians[name][f"{name}-twin"]
        runs = {label: run_values(rows) for label, rows in _rows_of(name).items()}
        intervals = ratio_intervals(runs[name], runs[f"{name}-twin"])
        rows += comparison_rows(title, real, twin, intervals=intervals) + rhythm_rows(title, real, twin)
    probe_cells = tuple((figure, unit, mode, False) for mode in MODES for figure, unit in PROBE_FIGURES)
    for name in REAL:
        rows += comparison_rows(
            f"{name}: what the probe shows (2 workers in one process tree, as `--like` fits), for information",
            probe_figures(profiles[name]["real"]),
            probe_figures(profiles[name]["twin"]),
            decides=False,
            cells=probe_cells,
        )
    positions = position_rows({name: medians[name][name] for name in REAL}, _medians("profiles"))
    return rows, positions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-inspect", action="store_true", help="reuse results/calibration/probes.json")
    parser.add_argument(
        "--inspect",
        nargs="+",
        choices=REAL,
        metavar="PROJECT",
        help="probe these again, reuse the others' probes",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where table.md and table.csv go")
    args = parser.parse_args(argv)
    import pandas as pd

    profiles_path = RESULTS / "probes.json"
    if args.no_inspect:
        profiles = json.loads(profiles_path.read_text())
    else:
        kept = json.loads(profiles_path.read_text()) if args.inspect else {}
        profiles = {**kept, **inspect(tuple(args.inspect or REAL))}
        profiles = {name: profiles[name] for name in REAL}
        profiles_path.write_text(json.dumps(profiles, indent=1, sort_keys=True) + "\n")
    rows, positions = build_table(profiles)
    repetitions = sorted({_repetitions(name) for name in REAL})
    runs = " or ".join(map(str, repetitions))
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "table.csv", index=False, float_format="%.4g")
    pd.DataFrame(positions).to_csv(args.out / "positions.csv", index=False, float_format="%.4g")
    header = [
        "# Calibration: real Django projects against synthetic ones",
        "",
        "Generated by `python calibration/table.py` from the runner's CSVs in this directory (uWSGI, 4 workers,",
        f"median of {runs} interleaved repetitions, as each section says) and the probes in probes.json. Every",
        "cell the lab reports decides, in both readings: lazy / prefork / prewarm × start-up, memory (total PSS",
        "after traffic), first query, mean worker USS; and memory and mean worker USS at steady state (after one",
        f"full collection in every worker): 18 cells. A twin passes a cell within ±{TOLERANCE:.0%} of the real",
        f"project, or within {ABSOLUTE['ms']:.0f} ms / {ABSOLUTE['MB']:.0f} MB where values are small. Beside each",
        f"ratio, its {INTERVAL:.0%} bootstrap interval (each side's runs resampled): how far this machine's noise",
        "alone moves it; the verdict stays on the medians. Beside the",
        "cells, the full collections a worker ran on its own within the traffic, per mode (the collector's",
        f"rhythm): a twin passes only if its workers run as many, within {RHYTHM_MARGIN:g} per worker.",
        f"The fit method was developed on {', '.join(TUNED)} (the rhythm's knobs on Nautobot); {', '.join(HELD_OUT)}",
        "were held out and fitted with it unchanged. The twins fitted before those knobs existed keep them at 0;",
        "the probes below show their young collections per request and inherited objects beside the real ones'.",
    ]
    names = list(REAL)
    where = [
        "",
        "## Where the profiles sit among the real projects",
        "",
        f"The profiles at 60 models (calibration-profiles.yaml; the real projects have {_model_range()}), each ranked from",
        "the smallest among the real projects and itself.",
        "",
        *position_lines(positions, names, list(PROFILES)),
    ]
    (args.out / "table.md").write_text("\n".join(header + table_lines(table) + where) + "\n")
    print(f"wrote {args.out / 'table.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
