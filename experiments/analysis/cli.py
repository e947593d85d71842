"""``analyze-results CSV... [--out DIR]``: summary.csv, report.md and PNG plots from result CSVs.

Prints the talk-style seed table and the path of report.md. Bad input (missing file, bad CSV, one CSV given
twice, a --models/--workers point without runs, an --out that cannot be one) prints one ``Error: ...`` line and
exits with status 2. When no run succeeded, report.md is still written (it lists every failed run) and the
distinct causes are printed with their counts: exit status 1. Runs of different sweeps stay apart unless
--pool-sweeps. pandas and matplotlib are imported only once the arguments are parsed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.errors import ExperimentError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analyze-results",
        description="Summarize result CSVs of run-experiments: summary.csv, report.md and plots.",
    )
    parser.add_argument("csv", nargs="+", type=Path, help="result CSV file(s) written by run-experiments")
    parser.add_argument(
        "--out", type=Path, default=None, help="output directory (default: 'analysis' next to the first CSV)"
    )
    parser.add_argument(
        "--models", type=int, default=None, help="models of the seed table (default: largest)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="workers of the seed table (default: largest)"
    )
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap RNG (default: 0)")
    parser.add_argument(
        "--pool-sweeps",
        action="store_true",
        help="pool runs of different sweeps at the same point (default: every sweep is kept apart)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lines, report_path, failures = run(args)
    except ExperimentError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    if failures:
        print("\n".join(failures), file=sys.stderr)
        print(f"Report: {report_path}")
        return 1
    for line in lines:
        print(line)
    print()
    print(f"Report: {report_path}")
    return 0


def run(args: argparse.Namespace) -> tuple[list[str], Path, list[str]]:
    """Load, check, analyse, then write; returns the seed table lines, the path of report.md, and why no run
    succeeded (empty when one did)."""
    out = args.out if args.out is not None else args.csv[0].parent / "analysis"
    if out.exists() and not out.is_dir():
        raise ExperimentError(f"{out}: exists and is not a directory")
    from generator.output import on_kernel_filesystem

    if on_kernel_filesystem(out):
        raise ExperimentError(f"--out: {out} is on /proc or /sys (a kernel filesystem)")
    if args.resamples < 1:
        raise ExperimentError(f"--resamples: must be at least 1, got {args.resamples}")

    from experiments.analysis import plots, report
    from experiments.analysis import stats as analysis

    df = analysis.load_results(args.csv)
    _check_point(df, args.models, args.workers)
    result = analysis.analyze(
        df,
        models=args.models,
        workers=args.workers,
        n_resamples=args.resamples,
        seed=args.seed,
        pool_sweeps=args.pool_sweeps,
    )

    try:
        out.mkdir(parents=True, exist_ok=True)
        result.summary.to_csv(out / "summary.csv", index=False, float_format="%.6g")
        figures = plots.write_plots(result, out)
        report_path = out / "report.md"
        text = report.render_report(result, figures, [str(p) for p in args.csv])
        report_path.write_text(text + _day_section(args.csv, df, out), encoding="utf-8")
    except OSError as exc:
        raise ExperimentError(f"--out: cannot write into {out} ({exc.strerror})") from None
    lines = report.seed_block_lines(result.seed, labels=result.shown(result.seed, ["mode"]))
    glossary = report.seed_glossary_lines(result.seed)
    lines += ["", *glossary] if glossary else []
    if (df["status"] == "ok").any():
        return lines, report_path, []
    from experiments.analysis.failures import no_success_lines

    return lines, report_path, no_success_lines(df)


def _day_section(csv_paths: list[Path], df, out: Path) -> str:
    """Long traffic and recycling, when the runs sent it (their figures and the timeline beside each CSV)."""
    from experiments.analysis import day, day_plots

    found = day.analyze_day(csv_paths, df)
    if found is None:
        return ""
    return "\n" + "\n".join(day.report_lines(found, day_plots.write_day_plots(found, out)))


def _check_point(df, models: int | None, workers: int | None) -> None:
    if models is None and workers is None:
        return
    ok = df[df["status"] == "ok"]
    hit = ok
    if models is not None:
        hit = hit[hit["models"] == models]
    if workers is not None:
        hit = hit[hit["workers"] == workers]
    if hit.empty:
        want = " ".join(f"{k}={v}" for k, v in (("models", models), ("workers", workers)) if v is not None)
        points = sorted({(int(m), int(w)) for m, w in zip(ok["models"], ok["workers"], strict=True)})
        have = ", ".join(f"models={m} workers={w}" for m, w in points[:12]) or "none"
        raise ExperimentError(f"no successful runs with {want} (have: {have})")


if __name__ == "__main__":
    raise SystemExit(main())
