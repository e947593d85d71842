"""What prefork and prewarm save, as a function of where a project's weight is loaded.

The placement sweep (experiments/sweeps/placement.yaml) holds the library weight of a 300-model project fixed and
moves it between start-up (imported by the models: loaded before fork, shared) and the first request (imported
by the views: private to each worker). For each start-up share and mode this module computes the memory a mode
saves against lazy (``1 - memory ÷ lazy's memory``, medians at one worker count), after traffic and at steady
state, and places the real projects of calibration on the same axis (their share from their inspection
profiles, their savings from their own runs).

    python -m experiments.analysis.placement results/placement.csv --sweep experiments/sweeps/placement.yaml \
        --real results/calibration --out results/placement-analysis

Writes ``savings.csv``, ``report.md`` and ``savings_vs_share.png``; pure functions, the ``main`` prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SAVING_MODES = ("prefork", "prewarm", "prewarm-freeze")
READINGS = (("memory_mb", "after traffic"), ("memory_steady_mb", "at steady state"))
COLUMNS = ("project", "share", "workers", "mode", "reading", "memory_mb", "lazy_mb", "saving")


def shares_of(sweep) -> dict[str, float]:
    """Project label -> start-up share of its library lines, for the generated projects of a sweep."""
    found = {}
    for spec in sweep.projects:
        options = spec.options_dict
        total = options.get("library_loc", 0) + options.get("view_library_loc", 0)
        if spec.kind == "generated" and total:
            found[spec.label] = options["library_loc"] / total
    return found


def profile_share(profile: dict) -> float | None:
    """Start-up share of what a real project loads: memory added by importing its WSGI app ÷ that plus what its
    first request adds (from an inspection profile, generator.inspect_project.ProjectProfile.as_dict())."""
    try:
        startup = profile["setup"]["rss_mb"] - profile["baseline_rss_mb"]
        first = profile["first_request"]["rss_mb"] - profile["setup"]["rss_mb"]
    except (KeyError, TypeError):
        return None
    total = startup + max(first, 0.0)
    return startup / total if total > 0 else None


def savings(df, shares: dict[str, float], workers: int):
    """One row per project × mode × reading at ``workers``: the median memory, lazy's, and the saving."""
    import pandas as pd

    from experiments.analysis.grouping import ok_rows

    ok = ok_rows(df)
    ok = ok[(ok["workers"] == workers) & ok["project"].isin(list(shares))]
    rows = []
    for project, share in sorted(shares.items(), key=lambda item: item[1]):
        mine = ok[ok["project"] == project]
        for metric, reading in READINGS:
            lazy = mine.loc[mine["mode"] == "lazy", metric].dropna()
            for mode in SAVING_MODES:
                values = mine.loc[mine["mode"] == mode, metric].dropna()
                if lazy.empty or values.empty:
                    continue
                median, base = float(values.median()), float(lazy.median())
                rows.append([project, share, workers, mode, reading, median, base, 1 - median / base])
    return pd.DataFrame(rows, columns=list(COLUMNS))


def real_points(directory: Path, workers: int):
    """The real projects of calibration: their share (probes.json, what `--like` read of them) and savings (their
    own CSV)."""
    import pandas as pd

    from experiments.analysis.loading import load_results

    profiles_path = directory / "probes.json"
    if not profiles_path.is_file():
        return pd.DataFrame(columns=list(COLUMNS))
    profiles = json.loads(profiles_path.read_text())
    frames = []
    for name, entries in sorted(profiles.items()):
        share = profile_share(entries.get("real", {}))
        csv = directory / f"{name}.csv"
        if share is None or not csv.is_file():
            continue
        frames.append(savings(load_results(csv), {name: share}, workers))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))


def report_lines(table, real, workers: int) -> list[str]:
    from experiments.analysis.tables import markdown_table

    lines = [
        "# What prefork and prewarm save, by where the weight is loaded",
        "",
        f"Memory (PSS, {workers} workers) saved against lazy: 1 − mode ÷ lazy, medians. Start-up share: the part "
        "of the library loaded before fork (by the models) rather than by the first request (by the views).",
        "",
    ]
    for title, frame in (("Synthetic (the placement sweep)", table), ("Real projects (calibration)", real)):
        if len(frame) == 0:
            continue
        lines += [f"## {title}", ""]
        rows = [
            [
                r.project,
                f"{r.share:.2f}",
                r.mode,
                r.reading,
                f"{r.lazy_mb:.0f}",
                f"{r.memory_mb:.0f}",
                f"{r.saving:+.0%}",
            ]
            for r in frame.itertuples()
        ]
        header = ["project", "start-up share", "mode", "memory read", "lazy MB", "mode MB", "saved"]
        lines += markdown_table(header, rows, "lrllrrr") + [""]
    lines += ["![Savings vs start-up share](savings_vs_share.png)", ""]
    return lines


def plot(table, real, path: Path, workers: int) -> Path:
    from experiments.analysis.figures import mode_style, new_figure, save

    fig, ax = new_figure()
    for mode in SAVING_MODES:
        colour, marker = mode_style(mode, list(SAVING_MODES))
        for (_metric, reading), style in zip(READINGS, ("--", "-"), strict=True):
            rows = table[(table["mode"] == mode) & (table["reading"] == reading)].sort_values("share")
            if rows.empty:
                continue
            ax.plot(
                rows["share"],
                rows["saving"] * 100,
                style,
                color=colour,
                marker=marker,
                label=f"{mode}, {reading}",
            )
            dots = real[(real["mode"] == mode) & (real["reading"] == reading)]
            face = colour if reading == READINGS[1][1] else "none"  # hollow: after traffic
            ax.scatter(
                dots["share"], dots["saving"] * 100, facecolor=face, marker="*", s=140, edgecolor=colour
            )
            for row in dots.itertuples() if reading == READINGS[1][1] else ():
                ax.annotate(
                    row.project,
                    (row.share, row.saving * 100),
                    fontsize=7,
                    xytext=(4, 4),
                    textcoords="offset points",
                )
    ax.set_xlabel("start-up share of the library weight (0: all on the first request, 1: all at start-up)")
    ax.set_ylabel("memory saved against lazy (%)")
    ax.set_title(f"What each mode saves, by where the weight is loaded ({workers} workers)")
    ax.text(0.01, 0.01, "★ real projects (hollow: after traffic)", transform=ax.transAxes, fontsize="x-small")
    ax.legend(fontsize="x-small")
    return save(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.analysis.placement", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("csv", type=Path)
    parser.add_argument("--sweep", type=Path, required=True, help="the placement sweep file (for the shares)")
    parser.add_argument("--real", type=Path, help="results/calibration: real projects' CSVs and probes.json")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from experiments.analysis.loading import load_results
    from experiments.errors import ExperimentError
    from experiments.sweep import load_sweep

    try:
        table = savings(load_results(args.csv), shares_of(load_sweep(args.sweep)), args.workers)
        real = real_points(args.real, args.workers) if args.real else table.iloc[0:0]
    except ExperimentError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    import pandas as pd

    args.out.mkdir(parents=True, exist_ok=True)
    both = pd.concat([table.assign(kind="synthetic"), real.assign(kind="real")], ignore_index=True)
    both.to_csv(args.out / "savings.csv", index=False, float_format="%.6g")
    plot(table, real, args.out / "savings_vs_share.png", args.workers)
    (args.out / "report.md").write_text("\n".join(report_lines(table, real, args.workers)) + "\n")
    print(f"Report: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
