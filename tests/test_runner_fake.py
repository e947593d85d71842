"""The runner's bookkeeping with a fake executor: rows, resume, --fresh, failures, sidecar, summary, CLI."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from runner_support import write_sweep

from experiments import cli, runner
from experiments.columns import COLUMN_NAMES
from experiments.environment import sidecar_path
from experiments.errors import ExperimentError
from experiments.export_csv import ResultsCsv
from experiments.measure.fake import FakeExecutor
from experiments.progress import Progress, format_duration
from experiments.projects import PreparedProject
from experiments.summary import summarize
from experiments.sweep import load_sweep

SWEEP = {
    "name": "fake",
    "repetitions": 2,
    "seed": 3,
    "warmup_runs": 0,
    "project": {"models": [10, 20], "rows_per_model": 2},
    "server": {"modes": ["lazy", "prefork", "prewarm", "prewarm-freeze"], "workers": [2]},
    "output": "out/fake.csv",
}


@pytest.fixture(autouse=True)
def no_builds(monkeypatch):
    """Projects are 'prepared' instantly; a project with models == 20 + 13 cannot be built."""

    def fake_prepare(spec, traffic, cache_dir=None, runtime=None):
        if spec.models == 33:
            raise ExperimentError("cannot generate project: disk full")
        return PreparedProject(
            spec=spec,
            root=Path("/nonexistent"),
            wsgi="x:y",
            env={},
            urls=("/",),
            models=spec.models,
            apps=1,
            url_patterns=4,
        )

    monkeypatch.setattr(runner, "prepare", fake_prepare)


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_one_row_per_run_written_as_each_run_ends(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))
    seen = []

    def check(run, measurement):
        seen.append(len(rows(sweep.output)))  # the row is on disk before the next run starts

    outcome = runner.run_sweep(sweep, FakeExecutor(), on_run=check)
    assert seen == list(range(1, 17))
    table = rows(sweep.output)
    assert len(table) == 16 == outcome.ran and outcome.failed == 0
    assert list(table[0]) == list(COLUMN_NAMES)
    assert {r["status"] for r in table} == {"ok"}
    assert {r["mode"] for r in table} == {"lazy", "prefork", "prewarm", "prewarm-freeze"}
    assert {r["models"] for r in table} == {"10", "20"} and {r["url_patterns"] for r in table} == {"4"}
    assert all(float(r["startup_s"]) > 0 and float(r["memory_mb"]) > 0 for r in table)
    assert len({r["run_id"] for r in table}) == 16
    assert [r["mode"] for r in table] != sorted(r["mode"] for r in table)  # shuffled


def test_resume_after_an_interruption_skips_finished_runs(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))

    class Interrupting(FakeExecutor):
        def run(self, run, project, after_traffic=None):
            if len(self.calls) == 5:
                raise KeyboardInterrupt
            return super().run(run, project)

    with pytest.raises(KeyboardInterrupt):
        runner.run_sweep(sweep, Interrupting())
    assert len(rows(sweep.output)) == 5
    second = FakeExecutor()
    outcome = runner.run_sweep(sweep, second)
    assert len(second.calls) == 11 and outcome.ran == 11
    table = rows(sweep.output)
    assert len(table) == 16 and len({r["run_id"] for r in table}) == 16
    assert len(outcome.rows) == 16
    again = FakeExecutor()
    runner.run_sweep(sweep, again)
    assert again.calls == []
    sidecar = json.loads(sidecar_path(sweep.output).read_text())
    assert len(sidecar["invocations"]) == 3


def test_fresh_starts_over(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))
    runner.run_sweep(sweep, FakeExecutor())
    executor = FakeExecutor()
    runner.run_sweep(sweep, executor, fresh=True)
    assert len(executor.calls) == 16 and len(rows(sweep.output)) == 16
    sidecar = json.loads(sidecar_path(sweep.output).read_text())
    assert len(sidecar["invocations"]) == 1


def test_failed_runs_are_recorded_the_sweep_goes_on_and_resume_retries_them(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))
    outcome = runner.run_sweep(sweep, FakeExecutor(fail=lambda run: run.mode == "lazy"))
    table = rows(sweep.output)
    failed = [r for r in table if r["status"] == "failed"]
    assert len(table) == 16 and len(failed) == 4 == outcome.failed
    assert all(r["mode"] == "lazy" and "boom" in r["error"] and r["startup_s"] == "" for r in failed)
    retry = FakeExecutor()
    runner.run_sweep(sweep, retry)
    assert {r.mode for r in retry.calls} == {"lazy"} and len(retry.calls) == 4


def test_an_executor_crash_is_a_failed_row_not_the_end_of_the_sweep(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))

    class Crashing(FakeExecutor):
        def run(self, run, project, after_traffic=None):
            if run.mode == "prefork":
                raise RuntimeError("bug in the harness")
            return super().run(run, project)

    outcome = runner.run_sweep(sweep, Crashing())
    table = rows(sweep.output)
    assert len(table) == 16 and outcome.failed == 4
    assert {r["error"] for r in table if r["mode"] == "prefork"} == {
        "internal error: RuntimeError: bug in the harness"
    }


def test_a_project_that_cannot_be_built_fails_its_runs_only(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, {**SWEEP, "project": {"models": [10, 33]}}))
    executor = FakeExecutor()
    outcome = runner.run_sweep(sweep, executor)
    table = rows(sweep.output)
    assert outcome.failed == 8 and len(executor.calls) == 8
    assert {r["status"] for r in table if r["models"] == "33"} == {"failed"}
    assert all("disk full" in r["error"] for r in table if r["models"] == "33")


def test_warmup_runs_are_run_first_once_per_project_and_not_recorded(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, {**SWEEP, "warmup_runs": 2}))
    executor = FakeExecutor()
    outcome = runner.run_sweep(sweep, executor)
    assert len(executor.calls) == 2 * 2 + 16 and outcome.ran == 16
    assert len(rows(sweep.output)) == 16
    assert [run.project.models for run in executor.calls[:4]] == [outcome.plan.runs[0].project.models] * 2 + [
        outcome.plan.projects[1].models
    ] * 2


def test_sidecar_records_the_environment(tmp_path):
    path = write_sweep(tmp_path, SWEEP)
    sweep = load_sweep(path)
    runner.run_sweep(sweep, FakeExecutor())
    sidecar = json.loads(sidecar_path(sweep.output).read_text())
    assert sidecar["servers"] == {}  # the fake executor starts no server
    for key in (
        "python",
        "django",
        "cpu_model",
        "cores",
        "kernel",
        "host",
        "tool_version",
        "generator_version",
    ):
        assert sidecar[key], key
    import hashlib

    assert sidecar["sweep"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sidecar["invocations"][0]["ran"] == 16


def test_summary_is_a_table_per_point_with_ratios_against_lazy_and_the_best_marked():
    def row(mode, workers, startup, memory, steady, first, status="ok"):
        return {
            "status": status,
            "mode": mode,
            "models": "300",
            "workers": workers,
            "project": "p",
            "startup_s": startup,
            "memory_mb": memory,
            "memory_steady_mb": steady,
            "first_query_ms": first,
        }

    table = [
        row("prewarm", "4", s, m, "402", f) for s, m, f in (("0.46", "74.2", "11.4"), ("0.50", "75", "12"))
    ]
    table += [row("prewarm", "4", "0.40", "73", "402", "10"), row("lazy", "4", "2.0", "820", "800", "310")]
    table += [
        row("lazy", "2", "1.0", "420", "400", "300"),
        row("lazy", "4", "9", "9", "9", "9", status="failed"),
    ]
    lines = summarize(table)
    assert lines[0] == "models=300 workers=2"  # one run per mode: no median named
    header = ["mode", "startup", "s", "memory", "MB", "memory", "steady", "MB", "first_query", "ms", "runs"]
    assert lines[1].split() == header
    assert lines[2].split() == ["lazy", "1.00", "420", "400", "300", "1"]
    four = lines.index("models=300 workers=4  (median of 3 runs per mode)")
    assert lines[four + 2].split() == ["lazy", "2.00", "820", "800", "310", "1"]  # the failed run left out
    prewarm = ["prewarm", "0.46", "×0.23*", "74", "×0.09*", "402", "×0.50*", "11", "×0.04*", "3"]
    assert lines[four + 3].split() == prewarm
    assert (
        lines[four + 4] == "best: startup prewarm, memory prewarm, memory steady prewarm, first_query prewarm"
    )
    legend = lines[lines.index("", four) + 1 :]
    names = [line.split(":")[0].strip() for line in legend]
    assert names == ["startup s", "memory MB", "memory steady MB", "first_query ms", "×"]
    assert "once every worker ran one full garbage collection" in legend[2] and "first URL" in legend[3]


def test_progress_line_has_a_bar_and_an_eta():
    bar = Progress(4, [1.0, 1.0, 2.0, 2.0])
    assert "0/4" in bar.line() and "ETA 6s" in bar.line()
    bar.advance(2.0)  # twice as slow as estimated: the ETA doubles
    line = bar.line("prewarm x")
    assert re.search(r"\[#+-+\] 1/4\s+25%", line) and "ETA 10s" in line and line.endswith("prewarm x")
    assert format_duration(3725) == "1h02m" and format_duration(75) == "1m15s"


def test_csv_torn_line_is_dropped_and_old_headers_migrate(tmp_path):
    path = tmp_path / "r.csv"
    old = COLUMN_NAMES[:-2]
    path.write_text(",".join(old) + "\n" + ",".join(["a"] * len(old)) + "\n" + "torn,ro")
    results = ResultsCsv(path)
    results.prepare()
    results.append({"run_id": "x", "status": "ok"})
    table = rows(path)
    assert list(table[0]) == list(COLUMN_NAMES)
    assert [r["run_id"] for r in table] == ["a", "x"]
    assert results.done_ids() == {"x"}
    path.write_text("run_id,status,else\n1,ok,2\n")  # ours, from a version with other columns
    with pytest.raises(ExperimentError, match="--fresh"):
        ResultsCsv(path).prepare()
    path.write_text("something,else\n1,2\n")
    with pytest.raises(ExperimentError, match="not a results CSV"):
        ResultsCsv(path).prepare(fresh=True)


def test_cli_bad_sweep_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    path = write_sweep(tmp_path, {**SWEEP, "server": {"modes": ["lazy"], "workers": "many"}})
    assert cli.main([str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: server.workers (line ") and "whole number" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nproject:\n  models: 10\n  flavour: [a\n")
    assert cli.main([str(bad)]) == 2
    assert capsys.readouterr().err.startswith("Error: yaml (line ")
    assert cli.main([str(tmp_path / "missing.yaml")]) == 2
    assert "no such sweep file" in capsys.readouterr().err


def test_cli_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    path = write_sweep(tmp_path, SWEEP)
    assert cli.main([str(path), "--dry-run", "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert "16 runs" in out and "estimated time:" in out and "projects to build: 2 of 2" in out
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
    assert cli.main([str(path), "--dry-run", "--output", str(tmp_path / "other.csv")]) == 0
    assert f"output: {tmp_path / 'other.csv'}" in capsys.readouterr().out


def test_a_sweep_leaves_its_times_in_the_history_and_the_estimates_come_from_them(
    tmp_path, capsys, history_of_the_test
):
    from experiments.history import Estimates

    path = write_sweep(tmp_path, SWEEP)
    sweep = load_sweep(path)
    runner.run_sweep(sweep, FakeExecutor(delay_s=0.02), cache_dir=tmp_path / "cache")
    recorded = [json.loads(line) for line in history_of_the_test.read_text().splitlines()]
    assert [r["record"] for r in recorded].count("run") == 16
    took = sum(float(row["duration_s"]) for row in rows(sweep.output))
    estimates = Estimates.from_cache(tmp_path / "cache")
    guessed = sum(estimates.run_s(run) for run in runner.make_plan(sweep).runs)
    assert took / 2 < guessed < took * 2
    assert cli.main([str(path), "--dry-run", "--fresh", "--cache-dir", str(tmp_path / "cache")]) == 0
    # the fake builds took no measurable time: projects to build are still estimated by the model
    assert re.search(r"estimated time: \S+ \(from 16 measured runs and 0 builds ", capsys.readouterr().out)
