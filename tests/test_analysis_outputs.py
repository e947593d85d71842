"""Plots, report.md and the analyze-results command, on the fixture CSVs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from report_support import assert_every_table_described

from experiments.analysis import cli as analyze_cli
from experiments.analysis import plots, report
from experiments.analysis import stats as analysis
from experiments.analysis.stats import load_results

FIXTURES = Path(__file__).parent / "fixtures" / "analysis"
SWEEP = FIXTURES / "sweep.csv"
SEED = FIXTURES / "seed.csv"
REPO = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOT_FILES = (  # drawn from the fixture CSVs, which hold no steady-state reading and no phase timings
    "startup_vs_models.png",
    "memory_vs_models.png",
    "first_query_vs_models.png",
    "memory_vs_workers.png",
    "startup_vs_workers.png",
)
NEWER_PLOT_FILES = (  # skipped for those CSVs, saying which metric they lack
    ("memory_steady_vs_workers.png", "memory_steady_mb"),
    ("startup_phases.png", "phase_settings_s"),
    ("first_request_phases.png", "phase_urlconf_ms"),
    ("private_memory.png", "worker_private_anon_mb_mean"),
)


@pytest.fixture(scope="module")
def sweep_analysis() -> analysis.Analysis:
    return analysis.analyze(load_results(SWEEP), n_resamples=300)


def assert_real_png(path: Path) -> None:
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert len(data) > 10_000, f"{path}: only {len(data)} bytes"
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] >= 400 and pixels.shape[1] >= 600
    assert pixels[..., :3].std() > 0.05, f"{path}: looks blank"


# ------------------------------------------------------------------------------------------------ plots


def test_write_plots_writes_four_valid_pngs(sweep_analysis, tmp_path):
    results = {r.filename: r for r in plots.write_plots(sweep_analysis, tmp_path)}
    assert sorted(results) == sorted([*PLOT_FILES, *(name for name, _metric in NEWER_PLOT_FILES)])
    for name in PLOT_FILES:
        assert results[name].path == tmp_path / name and not results[name].skipped
        assert_real_png(results[name].path)
    for name, metric in NEWER_PLOT_FILES:
        assert results[name].path is None and metric in results[name].skipped, results[name]


def test_plots_skip_a_single_x_value_and_remove_stale_files(tmp_path):
    a = analysis.analyze(load_results(FIXTURES / "old_columns.csv"), n_resamples=100)
    (tmp_path / "memory_vs_workers.png").write_bytes(b"stale")
    results = plots.write_plots(a, tmp_path)
    assert all(r.path is None for r in results)
    assert "single value of models (50)" in results[0].skipped
    assert "single value of workers (2)" in results[3].skipped
    assert not list(tmp_path.glob("*.png"))
    text = report.render_report(a, results, ["old_columns.csv"])
    assert text.count("_Skipped: a single value of") == 5


def test_plot_with_nonpositive_values_falls_back_to_linear_axis(tmp_path):
    df = load_results(SWEEP)
    df.loc[df["mode"] == "lazy", "first_query_ms"] = 0.0
    a = analysis.analyze(df, n_resamples=100)
    r = plots.plot_metric_vs_models(
        a.summary, "first_query_ms", tmp_path / "fq.png", workers=4, title="t", log_y=True
    )
    assert "linear y axis" in r.note
    assert_real_png(r.path)


# ----------------------------------------------------------------------------------------------- report


def test_seed_block_matches_the_talk_format():
    table = analysis.seed_table(load_results(SEED), n_resamples=100)
    lines = report.seed_block_lines(table)
    prewarm = lines[lines.index("[prewarm] models=300 workers=4") :]
    assert prewarm == [
        "[prewarm] models=300 workers=4",
        "startup       = 0.46 s",
        "memory        = 74 MB",
        "first_query   = 11 ms",
    ]
    assert lines[:4] == [
        "[lazy] models=300 workers=4",
        "startup       = 0.30 s",
        "memory        = 150 MB",
        "first_query   = 250 ms",
    ]
    assert lines[4] == ""
    assert report.seed_block_lines(table.iloc[0:0]) == ["(no successful runs to tabulate)"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.456, "0.46"),
        (9.31, "9.3"),
        (11.4, "11"),
        (3747.2, "3747"),
        (0.0012, "0.0012"),
        (float("nan"), "n/a"),
    ],
)
def test_fmt(value, text):
    assert report.fmt(value) == text


def test_report_has_talk_figures_tables_and_plots(sweep_analysis, tmp_path):
    results = plots.write_plots(sweep_analysis, tmp_path)
    text = report.render_report(sweep_analysis, results, [str(SWEEP)])
    for figure in (
        "| 13 |",
        "| 903 |",
        "| 3747 |",
        "| 132 |",
        "| 769 |",
        "| 85 |",
        "| 9 |",
        "| 316 |",
        "| 121 |",
    ):
        assert figure in text, figure
    assert "25 MB per extra worker" in text
    assert "| prefork | 400 | 1–8 | 24.8 |" in text  # measured slope beside the talk's 25
    for name in PLOT_FILES:
        assert f"]({name})" in text
    assert "```\n[lazy] models=800 workers=4\nstartup       = 0.70 s" in text
    assert "failed 1, timeout 1" in text and "prefork-m800-w4-r4" in text


def test_report_names_every_mode_present(tmp_path):
    extra = tmp_path / "extra.csv"
    extra.write_text(
        "mode,models,workers,status,startup_s,memory_mb,first_query_ms,error\n"
        "prewarm-freeze,800,4,ok,0.9,130,13,\n"
        "prewarm-freeze,100,4,ok,0.3,100,9,\n"
        "custom-mode,800,4,failed,,,,crashed\n",
        encoding="utf-8",
    )
    df = load_results([SWEEP, extra])
    a = analysis.analyze(df, n_resamples=100)
    text = report.render_report(a, plots.write_plots(a, tmp_path), [str(SWEEP), str(extra)])
    for mode in set(df["mode"]):
        assert mode in text, mode
    assert "| prewarm-freeze | 1 | 0.90 [0.90–0.90] | — |" in text  # not in the talk


# -------------------------------------------------------------------------------------------------- CLI


def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    assert analyze_cli.main([str(SWEEP), str(SEED), "--out", str(out), "--resamples", "200"]) == 0
    stdout = capsys.readouterr().out.splitlines()
    assert stdout[0] == "[lazy] models=800 workers=4"
    assert stdout[-1] == f"Report: {out / 'report.md'}"
    assert sorted(p.name for p in out.iterdir()) == sorted(["summary.csv", "report.md", *PLOT_FILES])
    for name in PLOT_FILES:
        assert_real_png(out / name)
    header = (out / "summary.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(
        [
            "sweep",
            "server",
            "python",
            "database",
            "project",
            "models",
            "mode",
            "workers",
            "threads",
            "recycling",
            *analysis.STAT_COLUMNS,
        ]
    )
    assert "lazy, prefork, prewarm" in (out / "report.md").read_text(encoding="utf-8")


def test_cli_seed_point_options_and_default_out(tmp_path, capsys):
    csv = tmp_path / "run.csv"
    shutil.copy(SEED, csv)
    assert analyze_cli.main([str(csv), "--models", "300", "--workers", "2", "--resamples", "50"]) == 0
    stdout = capsys.readouterr().out
    assert stdout.startswith("[lazy] models=300 workers=2\nstartup       = 0.28 s\n")
    assert (tmp_path / "analysis" / "report.md").is_file()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["{missing}"], "missing.csv: no such file"),
        (["{bad}"], "missing_column.csv: missing required column(s) workers"),
        (["{sweep}", "{missing}"], "missing.csv: no such file"),
        (["{sweep}", "--models", "123"], "no successful runs with models=123"),
        (["{sweep}", "--out", "{file}"], "exists and is not a directory"),
    ],
)
def test_cli_bad_input_exit_2_one_line_nothing_written(tmp_path, capsys, args, fragment):
    (tmp_path / "a_file").write_text("x")
    names = {
        "missing": tmp_path / "missing.csv",
        "bad": FIXTURES / "missing_column.csv",
        "sweep": SWEEP,
        "file": tmp_path / "a_file",
    }
    argv = [a.format(**names) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    assert analyze_cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("Error: ")
    assert fragment in captured.err
    assert not (tmp_path / "out").exists()
    assert not (FIXTURES / "analysis").exists()


def test_cli_when_no_run_succeeded_exits_1_and_names_the_causes(tmp_path, capsys):
    """Three runs failed for two causes: the log lines after each cause differ (pids), the causes do not."""
    log = " | log: spawned uWSGI worker 1 (pid: {pid}, cores: 1)"
    errors = [
        ("failed", "warm-up GET /shop/: HTTP 404 (an error page is not a measurement)" + log.format(pid=101)),
        ("failed", "warm-up GET /shop/: HTTP 404 (an error page is not a measurement)" + log.format(pid=202)),
        ("timeout", "timeout: 0 of 2 workers ready after 60 s"),
    ]
    lines = ["mode,models,workers,status,error"]
    lines += [f'lazy,30,2,{status},"{error}"' for status, error in errors]
    csv = tmp_path / "failed.csv"
    csv.write_text("\n".join(lines) + "\n")
    assert analyze_cli.main([str(csv), "--out", str(tmp_path / "out"), "--resamples", "20"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "No run succeeded: 3 run(s), none ok. The causes (runs, status: cause):",
        "  2× failed: warm-up GET /shop/: HTTP 404 (an error page is not a measurement)",
        "  1× timeout: timeout: 0 of 2 workers ready after 60 s",
    ]
    assert "no successful runs to tabulate" not in captured.out
    report_text = (tmp_path / "out" / "report.md").read_text()
    assert "| failed | warm-up GET /shop/: HTTP 404 (an error page is not a measurement) |" in report_text
    empty = tmp_path / "empty.csv"
    empty.write_text("mode,models,workers,status,error\n")
    assert analyze_cli.main([str(empty), "--out", str(tmp_path / "none"), "--resamples", "20"]) == 1
    assert capsys.readouterr().err == "No run to analyse: the CSV holds no runs.\n"


@pytest.mark.parametrize(
    "arguments",
    [
        ["results/scaling.csv"],
        ["results/servers.csv", "results/servers-workers.csv", "--pool-sweeps", "--models", "300"],
        ["{sweep}"],
    ],
    ids=["scaling", "servers", "fixture with failures and two hosts"],
)
def test_every_table_of_the_report_and_the_terminal_has_a_glossary(tmp_path, capsys, arguments):
    """One line under every table per column, naming what it counts with its unit (the registry's words)."""
    fixture = tmp_path / "sweep.csv"
    text = SWEEP.read_text().splitlines()
    fixture.write_text(
        "\n".join([text[0], *text[1:5], *(t.replace("fixture-box", "node-2") for t in text[5:])])
    )
    argv = [
        a.format(sweep=fixture) if a.startswith("{") else str(REPO / a) if a.endswith(".csv") else a
        for a in arguments
    ]
    assert analyze_cli.main([*argv, "--out", str(tmp_path / "out"), "--resamples", "20"]) == 0
    report_text = (tmp_path / "out" / "report.md").read_text()
    assert_every_table_described(report_text)
    if "fixture" in arguments[0]:
        assert "## Per host" in report_text and "## Runs left out" in report_text
    out = capsys.readouterr().out
    assert "\nstartup: launch until every worker is ready to accept (s)\n" in out
    assert "memory: total PSS of master and workers after warm traffic (MB)" in out


def test_plots_read_without_the_readme(tmp_path, monkeypatch):
    """Axes labelled for people with units, a log axis saying so, server and project in every title, values on
    bars, both memory readings, and error bars promised only where drawn."""
    import re

    figures = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.setdefault(Path(path).stem, fig) or path)
    a = analysis.analyze(load_results(REPO / "results" / "scaling.csv"), n_resamples=50)
    results = {r.name: r for r in plots.write_plots(a, tmp_path)}
    assert set(figures) == set(results)
    for name, fig in figures.items():
        title = fig.get_suptitle() or fig.axes[0].get_title()
        assert "uWSGI" in title and "realistic-m" in title, (name, title)
        for ax in fig.axes:
            for text in (ax.get_xlabel(), ax.get_ylabel()):
                assert not re.search(r"[a-z]_[a-z]", text), (name, text)  # no column name
            for axis, scale in ((ax.get_xlabel(), ax.get_xscale()), (ax.get_ylabel(), ax.get_yscale())):
                assert (scale == "log") == axis.endswith("(log scale)"), (name, axis, scale)
    assert figures["first_query_vs_models"].axes[0].get_yscale() == "log"
    assert [ax.get_title() for ax in figures["memory_vs_models"].axes] == ["after traffic", "at steady state"]
    for name in ("startup_phases", "first_request_phases", "private_memory"):
        ax = figures[name].axes[0]
        totals = [t.get_text() for t in ax.texts]
        assert len(totals) >= len(ax.get_xticks()) and all(totals), (name, totals)
        assert not results[name].error_bars
    legend = [t.get_text() for t in figures["private_memory"].axes[0].get_legend().get_texts()]
    assert legend[0].startswith("USS at steady state")
    plots_text = "\n".join(report._plots_section(list(results.values())))
    assert plots_text.count("error bars") == sum(r.error_bars for r in results.values()) == 6


def test_cli_modules_do_not_import_pandas_or_matplotlib_at_import_time():
    code = (
        "import sys, experiments.analysis.cli, experiments.analysis.plots, experiments.analysis.report;"
        "bad = [m for m in ('pandas', 'matplotlib', 'numpy') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cli_runs_as_a_module(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "experiments.analysis.cli", str(tmp_path / "none.csv")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.startswith("Error: ") and "none.csv" in done.stderr


def test_report_shows_inherited_objects_only_where_the_probe_ran(tmp_path):
    header = "mode,models,workers,status,startup_s,memory_mb,first_query_ms,worker_private_anon_mb_mean,error"
    rows = [
        "lazy,30,2,ok,0.5,90,40,30,",
        "prewarm,30,2,ok,0.4,60,5,12,",
        "prewarm-freeze,30,2,ok,0.4,50,5,4,",
    ]
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    probed = tmp_path / "probed.csv"
    probed.write_text(
        "\n".join(
            [
                header + ",inherited_objects_mb,worker_private_objects_mb_mean",
                rows[0] + ",,",
                rows[1] + ",16.0,15.2",
                rows[2] + ",16.4,2.5",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    texts = {}
    for path in (plain, probed):
        a = analysis.analyze(load_results(path), n_resamples=50)
        texts[path.stem] = "\n".join(report.report_lines(a, [], [str(path)]))
    assert (
        "What each worker keeps private" in texts["plain"]
        and "Inherited Python objects" not in texts["plain"]
    )
    assert "| prewarm | 16.0 | 15.2 | 95 % |" in texts["probed"]
    assert "| prewarm-freeze | 16.4 | 2.5 | 15 % |" in texts["probed"]
    objects_table = texts["probed"].split("Inherited Python objects")[1].split("\n\n")[1]
    assert "| prewarm |" in objects_table and "| lazy |" not in objects_table
