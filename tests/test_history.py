"""Estimates from measured history: pure functions on made-up histories, and the file they live in."""

from __future__ import annotations

import json

import pytest
from runner_support import TINY

from experiments import history
from experiments.history import (
    RECENT,
    Estimates,
    append_history,
    build_record,
    read_history,
    rows_to_records,
    run_record,
)
from experiments.plan import estimate_build_s, estimate_run_s, estimate_s, make_plan
from experiments.sweep import parse_sweep


def near(expected, rel=1e-3):
    """Records keep milliseconds."""
    return pytest.approx(expected, rel=rel)


def plan_of(text: str):
    return make_plan(parse_sweep(text, base_dir=TINY.parent, default_name="h"))


def runs(models=(30, 300), modes=("lazy", "prewarm"), workers=(4,), requests=20, server_extra=""):
    text = (
        f"project:\n  models: {list(models)}\n"
        f"server:\n  modes: [{', '.join(modes)}]\n  workers: {list(workers)}\n{server_extra}"
        f"traffic:\n  requests_per_worker: {requests}\n"
    )
    return plan_of(text).runs


def measured(run, seconds: float) -> dict:
    return run_record(run, seconds, estimate_run_s(run, 2))


def test_without_history_the_model_decides():
    run = runs()[0]
    assert Estimates(cores=2).run_s(run) == estimate_run_s(run, 2)
    assert Estimates(cores=2).build_s(run.project) == estimate_build_s(run.project)
    assert "no measured history" in Estimates().basis()


def test_the_same_run_measured_before_is_estimated_at_its_measured_time():
    """A machine the model misjudges threefold: what it measured decides, whatever the model says."""
    run = runs()[0]
    past = [measured(run, 3 * estimate_run_s(run, 2) * f) for f in (0.9, 1.0, 1.1)]
    assert Estimates(past, cores=2).run_s(run) == near(3 * estimate_run_s(run, 2))


def test_other_runs_scale_the_model_by_what_they_measured():
    """Only other projects and modes were measured, at half the model's time: the estimate is half the model's."""
    lazy_30, *_ = runs(models=(30,), modes=("lazy",))
    prewarm_300 = next(r for r in runs(models=(300,), modes=("prewarm",)))
    past = [measured(lazy_30, 0.5 * estimate_run_s(lazy_30, 2))] * 3
    assert Estimates(past, cores=2).run_s(prewarm_300) == near(0.5 * estimate_run_s(prewarm_300, 2))


def test_the_closest_records_decide_before_others():
    lazy, prewarm = (next(r for r in runs(models=(300,)) if r.mode == m) for m in ("lazy", "prewarm"))
    past = [measured(lazy, 0.3 * estimate_run_s(lazy, 2))] * 5 + [
        measured(prewarm, 2 * estimate_run_s(prewarm, 2))
    ]
    estimates = Estimates(past, cores=2)
    assert estimates.run_s(prewarm) == near(2 * estimate_run_s(prewarm, 2))
    assert estimates.run_s(lazy) == near(0.3 * estimate_run_s(lazy, 2))


def test_only_the_newest_records_count():
    run = runs()[0]
    past = [measured(run, 100.0)] * 50 + [measured(run, 10.0)] * RECENT
    assert Estimates(past, cores=2).run_s(run) == near(10.0)


def test_long_traffic_scales_the_estimate_with_the_requests_and_recycling_costs_time():
    """A run measured with 20 requests per worker, estimated with 50,000: the traffic term grows with them."""
    short, long, longer = (
        runs(models=(300,), modes=("prewarm",), requests=n)[0] for n in (20, 50_000, 100_000)
    )
    assert estimate_run_s(longer, 2) - estimate_run_s(long, 2) == near(
        estimate_run_s(long, 2) - estimate_run_s(short, 2), rel=0.01
    )
    past = [measured(short, 0.5 * estimate_run_s(short, 2))]
    assert Estimates(past, cores=2).run_s(long) == near(0.5 * estimate_run_s(long, 2))
    recycled = runs(models=(300,), modes=("lazy",), requests=100_000, server_extra="  max_requests: 1000\n")[
        0
    ]
    plain = runs(models=(300,), modes=("lazy",), requests=100_000)[0]
    assert estimate_run_s(recycled, 2) > estimate_run_s(plain, 2) + 400 * 0.9  # 400 lazy reloads


def test_builds_are_estimated_from_measured_builds():
    small, big = (p for p in plan_of("project:\n  models: [30, 300]\n").projects)
    past = [build_record(small, 5.0, estimate_build_s(small))]
    estimates = Estimates(past)
    assert estimates.build_s(small) == near(5.0)  # the same project, rebuilt
    ratio = 5.0 / estimate_build_s(small)
    assert estimates.build_s(big) == near(ratio * estimate_build_s(big))  # another of its kind


def test_a_sweep_estimated_from_its_own_history_is_within_twice_its_time():
    """The issue's case: a sweep that took 44 s, estimated at more than three minutes by the model alone."""
    plan = plan_of("project:\n  models: [30, 100]\nserver:\n  modes: [lazy, prewarm]\n  workers: [4]\n")
    actual = {
        run.run_id: 0.2 * estimate_run_s(run, 2) * (1.3 if run.mode == "lazy" else 0.8) for run in plan.runs
    }
    past = [measured(run, seconds) for run, seconds in zip(plan.runs, actual.values(), strict=True)]
    estimates = Estimates(past, cores=2)
    built = {p.key() for p in plan.projects}
    truth = sum(actual.values()) + sum(
        actual[next(r for r in plan.todo if r.project == p).run_id] for p in plan.projects
    )
    guess = estimate_s(plan, built, cores=2, run_s=estimates.run_s, build_s=estimates.build_s)
    assert guess == near(truth)
    assert estimate_s(plan, built, cores=2) > 3 * truth  # what the model alone would have said


def test_rows_become_records_of_their_successful_runs_only():
    plan_runs = runs()
    rows = [
        {"run_id": plan_runs[0].run_id, "status": "ok", "duration_s": "12.5"},
        {"run_id": plan_runs[1].run_id, "status": "failed", "duration_s": "0.4"},
        {"run_id": plan_runs[2].run_id, "status": "ok", "duration_s": ""},
        {"run_id": "unknown", "status": "ok", "duration_s": "3"},
    ]
    (record,) = rows_to_records(plan_runs, rows, cores=2)
    assert record["actual_s"] == 12.5 and record["mode"] == plan_runs[0].mode
    assert record["model_s"] == near(estimate_run_s(plan_runs[0], 2))


def test_the_history_file_keeps_whole_lines_and_is_cut_back(tmp_path, monkeypatch):
    path = history.history_path(tmp_path)
    run = runs()[0]
    append_history(tmp_path, [measured(run, 1.0), measured(run, 2.0)])
    with open(path, "a") as handle:
        handle.write('{"record": "run", "actual_s": 3')  # torn by a killed runner
    append_history(tmp_path, [measured(run, 4.0)])
    assert [r["actual_s"] for r in read_history(tmp_path)] == [1.0, 2.0, 4.0]  # the torn line dropped
    monkeypatch.setattr(history, "KEEP_RECORDS", 3)
    for seconds in range(10):
        append_history(tmp_path, [{**measured(run, 1.0), "actual_s": float(seconds), "pad": "x" * 400}])
    kept = [r["actual_s"] for r in read_history(tmp_path)]
    assert len(kept) <= 6 and kept[-1] == 9.0
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_the_history_lives_in_the_project_cache(tmp_path, monkeypatch):
    monkeypatch.undo()  # the suite's own runs keep theirs in the test's directory (conftest)
    assert history.history_path(tmp_path / "cache") == tmp_path / "cache" / "history.jsonl"
