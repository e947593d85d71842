"""Runs of different projects, sweeps or servers never share a statistic; one CSV never counts twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from experiments.analysis import cli as analyze_cli
from experiments.analysis import plots, report
from experiments.analysis import stats as analysis
from experiments.analysis.stats import load_results, per_worker_memory, scaling, seed_table, summarize
from experiments.summary import summarize as runner_summary
from experiments.sweep import parse_sweep

FIXTURES = Path(__file__).parent / "fixtures" / "analysis"


def write(rows: list[dict], path: Path) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def run(project: str, models: int, mode: str, workers: int, memory: float, **extra) -> dict:
    """One ok run; startup and first query follow memory so that every metric tells projects apart."""
    return {
        "sweep": "s",
        "run_id": f"{project}-{models}-{mode}-{workers}-{extra.pop('rep', 1)}",
        "project": project,
        "models": models,
        "mode": mode,
        "workers": workers,
        "status": "ok",
        "memory_mb": memory,
        "startup_s": memory / 100,
        "first_query_ms": memory / 10,
        **extra,
    }


def real_and_twin(tmp_path: Path) -> pd.DataFrame:
    """A real project and its twin at the same model count, 3 repetitions, 1 and 4 workers: the twin weighs
    twice as much and costs 30 MB per worker against the real project's 10."""
    rows = []
    for rep in (1, 2, 3):
        for mode in ("lazy", "prewarm"):
            for workers in (1, 4):
                rows.append(run("shop", 89, mode, workers, 100 + 10 * workers, rep=rep))
                rows.append(run("shop-twin", 89, mode, workers, 200 + 30 * workers, rep=rep))
    return load_results(write(rows, tmp_path / "calibration.csv"))


def test_two_projects_with_the_same_model_count_get_medians_of_their_own(tmp_path):
    s = summarize(real_and_twin(tmp_path), ["memory_mb"], n_resamples=50)
    at = s[(s["mode"] == "lazy") & (s["workers"] == 4)].set_index("project")["median"]
    assert at.to_dict() == {"shop": 140.0, "shop-twin": 320.0}  # merged, it was one median of 230


def test_the_talk_table_and_its_blocks_name_the_projects(tmp_path):
    df = real_and_twin(tmp_path)
    table = seed_table(df, n_resamples=50)
    assert table[["project", "mode"]].values.tolist() == [
        ["shop", "lazy"],
        ["shop", "prewarm"],
        ["shop-twin", "lazy"],
        ["shop-twin", "prewarm"],
    ]
    a = analysis.analyze(df, n_resamples=50)
    text = "\n".join(report.report_lines(a, [], ["calibration.csv"]))
    assert "| project | mode | n | startup (s) |" in text
    assert "| shop-twin | lazy | 3 | 3.2 [3.2–3.2] | 13 | 320 [320–320] | 903 |" in text
    assert "[lazy] project=shop models=89 workers=4" in text
    assert "[lazy] project=shop-twin models=89 workers=4" in text


def test_memory_per_worker_is_fitted_per_project(tmp_path):
    fits = per_worker_memory(real_and_twin(tmp_path)).set_index(["project", "mode"])["slope"]
    assert fits["shop", "lazy"] == pytest.approx(10) and fits["shop-twin", "lazy"] == pytest.approx(30)


def test_plots_label_the_projects_when_there_are_several(tmp_path, monkeypatch):
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or path)
    a = analysis.analyze(real_and_twin(tmp_path), n_resamples=50)
    result = plots.plot_memory_vs_workers(
        a.summary, a.per_worker, tmp_path / "m.png", models=89, title="t", keys=a.keys
    )
    assert result.path is not None
    legend = [t.get_text() for t in figures[-1].axes[0].get_legend().get_texts()]
    assert legend == [
        "lazy · shop: +10.0 MB/worker (R²=1.00)",
        "prewarm · shop: +10.0 MB/worker (R²=1.00)",
        "lazy · shop-twin: +30.0 MB/worker (R²=1.00)",
        "prewarm · shop-twin: +30.0 MB/worker (R²=1.00)",
    ]


def test_single_project_plots_keep_the_mode_alone_in_the_legend(tmp_path, monkeypatch):
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or path)
    a = analysis.analyze(load_results(FIXTURES / "sweep.csv"), n_resamples=50)
    plots.write_plots(a, tmp_path)
    legends = [[t.get_text() for t in fig.axes[0].get_legend().get_texts()] for fig in figures]
    assert legends[0] == ["lazy", "prefork", "prewarm"]


def test_growth_across_sizes_joins_a_projects_sizes_never_another_project(tmp_path):
    """A generated series at 30, 300 and 3,000 models (memory = 50 + 0.1 × models) beside a real project at
    300 models weighing 900 MB: pooled, the real project bends the line; per series it is exact."""
    rows = [run(f"realistic-m{m}-s0", m, "lazy", 4, 50 + 0.1 * m) for m in (30, 300, 3000)]
    rows.append(run("shop", 300, "lazy", 4, 900))
    df = load_results(write(rows, tmp_path / "r.csv"))
    fits = scaling(df, ["memory_mb"])
    assert fits["series"].tolist() == ["realistic-m*-s0"]  # the real project alone has no growth to fit
    assert fits.iloc[0]["slope"] == pytest.approx(10.0)  # MB per 100 models
    figures = []
    a = analysis.analyze(df, n_resamples=50)
    from unittest import mock

    with mock.patch.object(plots, "_save", lambda fig, path: figures.append(fig) or path):
        plots.plot_metric_vs_models(
            a.summary, "memory_mb", tmp_path / "x.png", workers=4, title="t", keys=a.keys
        )
    legend = [t.get_text() for t in figures[-1].axes[0].get_legend().get_texts()]
    assert legend == ["lazy · realistic-m*-s0", "lazy · shop"]


@pytest.mark.parametrize(
    "options",
    [{"rows_per_model": [5, 7]}, {"apps": [1, 2]}],
    ids=["rows_per_model", "apps (its default follows the size)"],
)
def test_a_generated_option_set_is_one_series_across_sizes_and_never_another(tmp_path, options):
    """A sweep of two sizes (24 and 48 models) and two values of an option: each value is one project at two
    sizes (memory = 50 + models, +100 for the second value), so growth is measured once per value, exactly."""
    name, values = next(iter(options.items()))
    text = yaml.safe_dump({"project": {"models": [24, 48], **options}, "server": {"modes": ["lazy"]}})
    sweep = parse_sweep(text, base_dir=tmp_path)
    rows = [
        run(p.label, p.models, "lazy", 2, 50 + p.models + 100 * values.index(p.options_dict[name]), rep=r)
        for p in sweep.projects
        for r in (1, 2)
    ]
    df = load_results(write(rows, tmp_path / "r.csv"))
    fits = scaling(df, ["memory_mb"])
    assert len(fits) == 2, sorted({p.label for p in sweep.projects})
    assert fits["slope"].tolist() == pytest.approx([100.0, 100.0])  # MB per 100 models
    assert sorted(fits["intercept"].round(6)) == pytest.approx([50.0, 150.0])


def test_two_sweeps_stay_apart_unless_pooled(tmp_path, capsys):
    first = write([run("p", 10, "lazy", 2, 100, rep=r) for r in (1, 2, 3)], tmp_path / "a.csv")
    rows = [{**run("p", 10, "lazy", 2, 300, rep=r), "sweep": "t"} for r in (1, 2, 3)]
    second = write(rows, tmp_path / "b.csv")
    out = tmp_path / "out"
    assert analyze_cli.main([str(first), str(second), "--out", str(out), "--resamples", "50"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    memory = summary[summary["metric"] == "memory_mb"]
    assert memory[["sweep", "median"]].values.tolist() == [["s", 100.0], ["t", 300.0]]
    assert "[lazy] sweep=s models=10 workers=2" in capsys.readouterr().out
    pooled = tmp_path / "pooled"
    assert (
        analyze_cli.main(
            [str(first), str(second), "--out", str(pooled), "--pool-sweeps", "--resamples", "50"]
        )
        == 0
    )
    summary = pd.read_csv(pooled / "summary.csv")
    assert "sweep" not in summary.columns
    assert summary[summary["metric"] == "memory_mb"]["median"].tolist() == [200.0]
    assert "Sweeps pooled: s, t." in (pooled / "report.md").read_text()


def test_one_csv_given_twice_is_refused(tmp_path, capsys):
    csv = tmp_path / "r.csv"
    shutil.copy(FIXTURES / "seed.csv", csv)
    (tmp_path / "link.csv").symlink_to(csv)
    for second in (str(csv), str(tmp_path / "." / "r.csv"), str(tmp_path / "link.csv")):
        assert analyze_cli.main([str(csv), second, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("Error: ") and "given twice" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_a_copy_of_a_csv_counts_once_and_a_retried_run_is_kept(tmp_path):
    rows = [run("p", 10, "lazy", 2, 100 + r, rep=r, started_at=f"2025-01-01T00:0{r}:00") for r in (1, 2, 3)]
    retried = {**rows[0], "status": "failed", "memory_mb": None, "started_at": "2025-01-01T00:00:00"}
    original = write([retried, *rows], tmp_path / "a.csv")
    copy = tmp_path / "copy.csv"
    shutil.copy(original, copy)
    df = load_results([original, copy])
    assert len(df) == 4 and df.attrs["duplicates"] == 4
    assert (df["run_id"] == rows[0]["run_id"]).sum() == 2  # the failed try and its retry: two records
    s = summarize(df, ["memory_mb"], n_resamples=50)
    assert s["n"].tolist() == [3]
    a = analysis.analyze(df, n_resamples=50)
    assert "4 row(s) repeating a run of an earlier CSV" in "\n".join(report.report_lines(a, [], ["a", "b"]))


def test_optional_identity_columns_group_when_present(tmp_path):
    rows = [{**run("p", 10, "lazy", 2, 100, rep=r), "server": "uwsgi"} for r in (1, 2)]
    rows += [{**run("p", 10, "lazy", 2, 300, rep=r), "server": "gunicorn"} for r in (1, 2)]
    s = summarize(load_results(write(rows, tmp_path / "r.csv")), ["memory_mb"], n_resamples=50)
    assert sorted(s[["server", "median"]].values.tolist()) == [["gunicorn", 300.0], ["uwsgi", 100.0]]
    # a CSV written before the database was an axis ran on SQLite: load_results says so, in one place
    without = load_results(write([r for r in rows if r["server"] == "uwsgi"], tmp_path / "u.csv"))
    assert set(summarize(without)["database"]) == {"sqlite"}
    assert set(summarize(without)["threads"]) == {1}


def test_runs_with_other_threads_per_worker_are_never_pooled(tmp_path):
    rows = [{**run("p", 10, "lazy", 2, 100, rep=r), "threads": 1} for r in (1, 2)]
    rows += [{**run("p", 10, "lazy", 2, 300, rep=r), "threads": 4} for r in (1, 2)]
    s = summarize(load_results(write(rows, tmp_path / "r.csv")), ["memory_mb"], n_resamples=50)
    assert sorted(s[["threads", "median"]].values.tolist()) == [[1, 100.0], [4, 300.0]]  # pooled: one of 200


def test_the_runners_summary_names_projects_that_share_a_model_count():
    rows = [
        {"status": "ok", "mode": "lazy", "models": "89", "workers": "4", "project": p, "memory_mb": m}
        for p, m in (("shop", "140"), ("shop-twin", "320"))
    ]
    lines = runner_summary(rows)
    assert lines[0] == "project=shop models=89 workers=4" and lines[2].split()[:3] == ["lazy", "—", "140"]
    assert lines[4] == "project=shop-twin models=89 workers=4" and lines[6].split()[:3] == [
        "lazy",
        "—",
        "320",
    ]
