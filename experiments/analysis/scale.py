"""What a model costs at start-up: the real projects' marginal cost per model beside the generator's.

Three least-squares lines, each of a start-up figure against models:

- **per app, within a project**: each own app's import + models seconds (the per-app phases the wrapper records,
  ``startup_phases`` → ``apps`` in the details) against the models it defines (counted by the probe), over the
  processes that loaded the app alone (a preloading master: lazy workers load side by side and share the cores);
- **across sizes, the generator**: start-up seconds, the apps' import + models phases and memory at ready against
  the model count, at a fixed library weight (the scaling sweep: medians per size, one mode, one worker count);
- **across the real projects**: the start-up seconds, MB and library lines their probe read (the prefork
  master's load; the lines outside Django and the standard library) against their own models.

The wrapper lists a process's 15 slowest apps only: an own app missing from a full list counts at that list's
fastest time, at most what it cost. Pure functions over rows (dicts) and counts; ``main`` reads, formatters
return lines.

    python -m experiments.analysis.scale --real results/calibration --sweep results/scaling.csv \
        --sweep-file experiments/sweeps/scaling.yaml --out results/calibration/scale.md
"""

from __future__ import annotations

from experiments.analysis.calibration import position
from experiments.analysis.scale_fit import (
    DJANGO_APPS,
    LISTED_APPS,
    REAL_FIGURES,
    SWEEP_FIGURES,
    Line,
    across_projects,
    app_points,
    loading_processes,
    per_app,
    real_figures,
    sweep_lines,
    sweep_sizes,
)

TALK_MODELS = 300  # the talk's project: where the real projects' line is read beyond them


def _per_model(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.2f} ms"
    if unit == "MB":
        return f"{value:.3f} MB"
    return f"{value:,.0f} {unit}"


def _r2(line: Line | None) -> str:
    return "—" if line is None or line.r2 != line.r2 else f"{line.r2:.2f}"


def per_app_lines(rows: list[dict]) -> list[str]:
    """The per-app lines as a Markdown table, one row per project."""
    lines = [
        "| project | own models | own apps (always listed) | largest app (models) | apps' import + models | "
        "per model (slope) | per app (intercept) | r² |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        line = row["line"]
        slope, intercept = (
            ("—", "—") if line is None else (_per_model(line.slope, "s"), _per_model(line.intercept, "s"))
        )
        lines.append(
            f"| {row['project']} | {row['models']} | {row['apps']} ({row['always_listed']}) | {row['largest']} | "
            f"{row['seconds']:.2f} s | {slope} | {intercept} | {_r2(line)} |"
        )
    return lines


def sweep_table_lines(sizes: dict[int, dict[str, float]], lines: dict[str, Line | None]) -> list[str]:
    """The generator's sizes, then the slope and r² of each figure."""
    out = [
        "| models | " + " | ".join(heading for _c, heading, _u in SWEEP_FIGURES) + " |",
        "|---:|" + "---:|" * len(SWEEP_FIGURES),
    ]
    for models, values in sizes.items():
        cells = [f"{values[c]:.2f} s" if u == "s" else f"{values[c]:.0f} MB" for c, _h, u in SWEEP_FIGURES]
        out.append(f"| {models:,} | " + " | ".join(cells) + " |")
    slopes = ["—" if lines[c] is None else _per_model(lines[c].slope, u) for c, _h, u in SWEEP_FIGURES]
    out.append("| per model (slope) | " + " | ".join(slopes) + " |")
    out.append("| r² | " + " | ".join(_r2(lines[c]) for c, _h, _u in SWEEP_FIGURES) + " |")
    return out


def across_table_lines(figures: dict[str, dict[str, float]], lines: dict[str, Line | None]) -> list[str]:
    """The real projects' start-up figures, then the slope and r² of each against own models; per project the
    MB per own model, which holds Django and the library too: at most what a model costs."""
    out = [
        "| project | own models | start-up | start-up MB | library lines | MB ÷ own models |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, f in figures.items():
        out.append(
            f"| {name} | {f['own_models']} | {f['load_s']:.2f} s | {f['load_mb']:.1f} MB | "
            f"{f['library_lines']:,.0f} | {f['load_mb'] / f['own_models']:.2f} MB |"
        )
    slopes = ["—" if lines[k] is None else _per_model(lines[k].slope, u) for k, _h, u in REAL_FIGURES]
    out.append("| per own model (slope) | | " + " | ".join(slopes) + " | |")
    out.append("| r² | | " + " | ".join(_r2(lines[k]) for k, _h, _u in REAL_FIGURES) + " | |")
    return out


def finding_lines(
    real_apps: list[dict],
    generator_apps: list[dict],
    generator: dict[str, Line | None],
    across: dict[str, Line | None],
    across_figures: dict[str, dict[str, float]],
    setting: dict,
) -> list[str]:
    """What the figures say, each sentence computed from them: the generator's cost per model at a fixed
    library, the per-app method on the real projects and on the generator, and start-up across the real
    projects against the generator's fixed library."""
    seconds, memory = generator["phase_apps_import_s+phase_models_s"], generator["memory_ready_mb"]
    if seconds is None or memory is None:
        return []
    lines = [
        f"- **The generator at a fixed library weight** ({setting['library_loc']:,} lines): each model adds "
        f"{_per_model(seconds.slope, 's')} to its apps' import + models (r² {_r2(seconds)}) and "
        f"{_per_model(memory.slope, 'MB')} to memory at ready (r² {_r2(memory)})."
    ]
    lines += _per_app_finding(real_apps, generator_apps, seconds)
    lines += _across_finding(across, across_figures, seconds, memory, setting)
    return lines


def _per_app_finding(real_apps: list[dict], generator_apps: list[dict], seconds: Line) -> list[str]:
    real = {r["project"]: r["line"] for r in real_apps if r["line"] is not None}
    own = [r["line"] for r in generator_apps if r["line"] is not None]
    if not real or not own:
        return []
    rank, where = position(seconds.slope, {name: line.slope for name, line in real.items()})
    low, high = min(line.slope for line in own), max(line.slope for line in own)
    found = low <= seconds.slope <= high and min(line.r2 for line in own) >= 0.5
    return [
        f"- **Per app, within a project**, the real projects' slopes run "
        f"{_per_model(min(line.slope for line in real.values()), 's')} to "
        f"{_per_model(max(line.slope for line in real.values()), 's')} per model (r² "
        f"{', '.join(f'{name} {_r2(line)}' for name, line in real.items())}); the generator's cost per model "
        f"would rank {rank} of {len(real) + 1} among them, {where}. Tried on the generator, whose cost per model "
        f"is known, the same method gives {_per_model(low, 's')} to {_per_model(high, 's')} over its sizes (r² "
        f"{', '.join(_r2(line) for line in own)}): "
        + (
            "it finds that cost."
            if found
            else "it misses that cost: within a project an app's seconds hold whatever its models module imports "
            "first, libraries above all, more than its own models, so the real projects' per-app slopes do not "
            "measure what their models cost."
        )
    ]


def _across_finding(
    across: dict[str, Line | None],
    figures: dict[str, dict[str, float]],
    seconds: Line,
    memory: Line,
    setting: dict,
) -> list[str]:
    load_s, load_mb, library = across["load_s"], across["load_mb"], across["library_lines"]
    if None in (load_s, load_mb, library):
        return []
    bounds = [f["load_mb"] / f["own_models"] for f in figures.values()]
    library_loc, small, large = setting["library_loc"], min(setting["sizes"]), max(setting["sizes"])
    return [
        f"- **MB per model**: a real project's start-up MB ÷ its own models ({min(bounds):.2f}–{max(bounds):.2f} "
        f"MB, Django and the libraries included) is the most a model can cost there, "
        f"{min(bounds) / memory.slope:.0f}× or more the generator's {_per_model(memory.slope, 'MB')}; the "
        "per-app phases hold no memory, so what is measured gives no tighter figure.",
        f"- **Across the real projects** start-up grows {_per_model(load_s.slope, 's')} and "
        f"{_per_model(load_mb.slope, 'MB')} per own model (r² {_r2(load_s)}, {_r2(load_mb)}): "
        f"{load_s.slope / seconds.slope:.1f}× and {load_mb.slope / memory.slope:.1f}× what a model adds to the "
        f"generator at a fixed library; their library grows {_per_model(library.slope, 'lines')} per own model "
        f"(r² {_r2(library)}), where the generator's stays at {library_loc:,} lines: "
        f"{library_loc / small:,.0f} per model at {small:,} models, {library_loc / large:,.0f} at {large:,}. Taken "
        f"beyond the real projects ({min(f['own_models'] for f in figures.values())}–"
        f"{max(f['own_models'] for f in figures.values())} own models), that line gives "
        f"{library.at(TALK_MODELS):,.0f} lines at {TALK_MODELS} models.",
    ]


def report_lines(
    real_apps: list[dict],
    generator_apps: list[dict],
    sizes: dict[int, dict[str, float]],
    across_figures: dict[str, dict[str, float]],
    setting: dict,
) -> list[str]:
    """The whole report; ``setting``: the sweep's mode, workers and library_loc, and the sources' names."""
    generator, across = sweep_lines(sizes), across_projects(across_figures)
    return [
        "# What a model costs at start-up: the real projects and the generator",
        "",
        "Generated by `python -m experiments.analysis.scale` from:",
        *[f"- {source}" for source in setting["sources"]],
        "",
        "Least-squares lines of a start-up figure against models (experiments/analysis/scale.py says how each",
        "is read).",
        "",
        "## Per app, within each project",
        "",
        "Each own app's import + models seconds against the models it defines, over the processes that loaded it",
        f"alone (a preloading master); an app missing from a process's list of its {LISTED_APPS} slowest counts at",
        "that list's fastest. Generated projects: the scaling sweep's, one row per size.",
        "",
        *per_app_lines([*real_apps, *generator_apps]),
        "",
        f"## Across sizes: the generator at a fixed library weight ({setting['library_loc']:,} lines)",
        "",
        f"The scaling sweep, {setting['mode']} with {setting['workers']} worker"
        f"{'' if setting['workers'] == 1 else 's'}, median per size.",
        "",
        *sweep_table_lines(sizes, generator),
        "",
        "## Across the real projects",
        "",
        "What each real project's probe read at start-up (the prefork master's load; library: lines outside",
        "Django and the standard library), against its own models.",
        "",
        *across_table_lines(across_figures, across),
        "",
        "## What it shows",
        "",
        *finding_lines(
            real_apps, generator_apps, generator, across, across_figures, {**setting, "sizes": list(sizes)}
        ),
    ]


def _records(path) -> list[dict]:
    from experiments.analysis.loading import load_results

    return load_results(path).astype(object).where(lambda df: df.notna(), None).to_dict("records")


def _read_real(real_dir, app_counts) -> tuple[list[dict], dict[str, dict[str, float]]]:
    """The real projects of results/calibration: per-app rows and start-up figures. Apps are counted by the
    probe: probes.json where it holds them, else ``app_counts`` (calibration/count_apps.py)."""
    import json

    from experiments.details import DetailsLog
    from experiments.errors import ExperimentError

    profiles = json.loads((real_dir / "probes.json").read_text())
    counts = json.loads(app_counts.read_text()) if app_counts.is_file() else {}
    rows, figures = [], {}
    for name, probed in profiles.items():
        apps = probed["real"].get("app_models") or counts.get(name, {}).get("app_models")
        if not apps:
            raise ExperimentError(f"no app's models counted for {name}: run calibration/count_apps.py {name}")
        csv = real_dir / f"{name}.csv"
        processes = loading_processes(_records(csv), DetailsLog(csv).read(), name)
        rows.append(per_app(name, app_points(processes, apps)))
        figures[name] = real_figures(probed["real"])
    return rows, figures


def _read_sweep(csv, sweep_file, mode: str, workers: int) -> tuple[list[dict], dict, int]:
    """The scaling sweep: per-app rows per size (apps counted from the spec the sweep's options build), the
    medians per size, and its library weight (one for every size, or an error)."""
    from experiments.details import DetailsLog
    from experiments.errors import ExperimentError
    from experiments.sweep import load_sweep
    from generator.options import GenOptions
    from generator.spec import build_spec

    rows, details = _records(csv), DetailsLog(csv).read()
    specs = {
        p.label: GenOptions(**p.options_dict)
        for p in load_sweep(sweep_file).projects
        if p.kind == "generated"
    }
    if len({options.library_loc for options in specs.values()}) != 1:
        raise ExperimentError(f"{sweep_file}: its projects' library weights differ; the sweep must fix it")
    generator = []
    for label, options in sorted(specs.items(), key=lambda item: item[1].models):
        apps = {app.label: len(app.models) for app in build_spec(options).apps}
        processes = loading_processes(rows, details, label)
        unknown = {name for apps_of in processes for name in apps_of} - set(apps) - DJANGO_APPS
        if unknown:
            raise ExperimentError(
                f"{label}: apps {', '.join(sorted(unknown))} are not its spec's (another version?)"
            )
        generator.append(per_app(label, app_points(processes, apps)))
    return generator, sweep_sizes(rows, mode, workers), next(iter(specs.values())).library_loc


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys
    from pathlib import Path

    from experiments.errors import ExperimentError

    parser = argparse.ArgumentParser(
        prog="python -m experiments.analysis.scale", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--real", type=Path, required=True, help="results/calibration: CSVs and probes.json")
    parser.add_argument("--app-counts", type=Path, help="default: app_models.json in --real")
    parser.add_argument("--sweep", type=Path, required=True, help="the scaling sweep's CSV")
    parser.add_argument(
        "--sweep-file", type=Path, required=True, help="its sweep file (the projects' options)"
    )
    parser.add_argument("--mode", default="prefork")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="the report, Markdown")
    args = parser.parse_args(argv)
    try:
        real_apps, figures = _read_real(args.real, args.app_counts or args.real / "app_models.json")
        generator_apps, sizes, library_loc = _read_sweep(args.sweep, args.sweep_file, args.mode, args.workers)
    except (ExperimentError, OSError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    setting = {
        "mode": args.mode,
        "workers": args.workers,
        "library_loc": library_loc,
        "sources": [
            f"{args.real}/: the real projects' CSVs and details, probes.json, the apps' models counted by the probe",
            f"{args.sweep} (its details; the apps' models from the specs of {args.sweep_file})",
        ],
    }
    lines = report_lines(real_apps, generator_apps, sizes, figures, setting)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"Report: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
