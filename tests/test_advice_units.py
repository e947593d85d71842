"""advise's pure parts with made-up rows: figures and their intervals, the recommendation, the workers that fit a
budget, max_requests from growth, database connections, what the project must change, the screen, the files.
Nothing here starts a process (tests/test_advise.py runs the real thing)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from experiments.advice.figures import Estimate, Fit, ModeFigures, mode_figures, reason, t975
from experiments.advice.plan import parse_memory
from experiments.advice.recommend import (
    JITTER_SHARE,
    Budget,
    connections,
    project_changes,
    recommend,
    recycling,
    significant_digits,
    size,
    workers_that_fit,
)

# ------------------------------------------------------------------------------------------------ made-up rows


def row(mode, workers, steady, *, first=10.0, startup=1.0, warm=2.0, status="ok", error="", closed="", rep=1):
    return {
        "sweep": "advise",
        "run_id": f"{mode}-{workers}-{rep}",
        "started_at": "t",
        "mode": mode,
        "workers": str(workers),
        "status": status,
        "error": error,
        "startup_s": str(startup),
        "first_query_ms": str(first),
        "steady_ms_median": str(warm),
        "memory_mb": str(steady),
        "memory_steady_mb": "" if status != "ok" else str(steady),
        "db_closed_before_fork": str(closed),
    }


def steady_rows(mode, shared, per_worker, *, noise=(0.0, 0.5, -0.5), workers=(1, 2, 4), **extra):
    """Three repetitions per worker count on the line shared + per_worker × workers, give or take ``noise``."""
    return [
        row(mode, w, shared + per_worker * w + n, rep=i + 1, **extra)
        for w in workers
        for i, n in enumerate(noise)
    ]


def figures_of(*groups) -> tuple[ModeFigures, ...]:
    return mode_figures([r for group in groups for r in group])


# ------------------------------------------------------------------------------------------------ figures


def test_t_quantiles_and_a_mean_interval():
    assert (
        t975(1) == 12.706
        and t975(2) == 4.303
        and abs(t975(30) - 2.042) < 0.005
        and abs(t975(1000) - 1.962) < 0.005
    )
    estimate = Estimate.of([1, 2, 3])
    assert estimate.value == 2 and estimate.n == 3
    assert math.isclose(estimate.high - estimate.value, 4.303 / math.sqrt(3), rel_tol=1e-9)
    assert Estimate.of([5.0]) == Estimate(5.0, 5.0, 5.0, 1) and Estimate.of([]) is None
    with pytest.raises(ValueError):
        t975(0)


def test_a_fit_predicts_exactly_on_a_line_and_widens_away_from_its_points():
    exact = Fit.of([(1, 110), (2, 160), (4, 260), (1, 110)])
    assert math.isclose(exact.slope, 50) and math.isclose(exact.intercept, 60)
    assert exact.predict(8) == Estimate(460.0, 460.0, 460.0, 4)
    noisy = Fit.of([(w, 60 + 50 * w + n) for w in (1, 2, 4) for n in (-2, 0, 2)])
    near, far = noisy.predict(2), noisy.predict(16)
    assert near.low < near.value < near.high and (far.high - far.low) > 3 * (near.high - near.low)
    assert noisy.per_x.low < 50 < noisy.per_x.high and noisy.at_zero.low < 60 < noisy.at_zero.high
    assert Fit.of([(2, 1), (2, 3)]) is None  # one worker count: no line


def test_mode_figures_count_failures_keep_reasons_and_fit_only_ok_runs():
    rows = steady_rows("lazy", 20, 30) + steady_rows("prefork", 40, 10)
    rows[-1] = row("prefork", 4, 0, status="failed", error="GET /: HTTP 500 | log: worker 123 traceback …")
    rows[-2] = row("prefork", 4, 0, status="failed", error="GET /: HTTP 500 | log: worker 456 traceback …")
    lazy, prefork = figures_of(rows)
    assert (lazy.mode, lazy.runs, lazy.failed, lazy.ok) == ("lazy", 9, 0, True)
    assert math.isclose(lazy.worker_mb.value, 30, abs_tol=0.5) and lazy.steady_mb[4].n == 3
    assert (prefork.runs, prefork.failed, prefork.ok) == (9, 2, False)
    assert prefork.errors == ("GET /: HTTP 500",)  # the log tails differ; the reason is one
    assert prefork.steady_mb[4].n == 1 and prefork.workers == (1, 2, 4)
    assert reason("") == "unknown error"


def test_growth_comes_from_each_workers_slope_in_the_timeline():
    cycle = [
        row("lazy", 2, 100, rep=1)
        | {"run_id": "c1", "sweep": "advise-lifecycle", "requests_per_worker": "1000"}
    ]
    timeline = [
        {
            "run_id": "c1",
            "started_at": "t",
            "process": "worker",
            "pid": str(pid),
            "worker_requests": str(x),
            "uss_mb": str(10 + slope * x / 1000),
        }
        for pid, slope in ((1, 2.0), (2, 4.0))
        for x in range(0, 1001, 100)
    ]
    timeline.append(
        {
            "run_id": "c1",
            "started_at": "t",
            "process": "master",
            "pid": "9",
            "worker_requests": "0",
            "uss_mb": "500",
        }
    )
    timeline.append(
        {
            "run_id": "other",
            "started_at": "t",
            "process": "worker",
            "pid": "3",
            "worker_requests": "900",
            "uss_mb": "900",
        }
    )
    (lazy,) = mode_figures(steady_rows("lazy", 20, 30), cycle, timeline)
    assert math.isclose(lazy.growth_mb_per_1k.value, 3.0) and lazy.growth_mb_per_1k.n == 2
    assert lazy.lifecycle_requests == 1000


# ------------------------------------------------------------------------------------------------ sizing


def exact(mode, shared, per_worker, **extra) -> ModeFigures:
    """Figures on an exact line (no noise: intervals of zero width), so that sizes are arithmetic."""
    (figures,) = figures_of(steady_rows(mode, shared, per_worker, noise=(0.0, 0.0, 0.0), **extra))
    return figures


def test_workers_that_fit_the_budget_with_their_headroom():
    figures = exact("prewarm", 100, 50)
    assert workers_that_fit(figures, 400, headroom_mb=10) == 5  # 100 + 5 × 60 = 400
    assert workers_that_fit(figures, 399.9, headroom_mb=10) == 4
    assert workers_that_fit(figures, 159, headroom_mb=10) == 0
    sizing = size(figures, Budget(memory_mb=10_000, cores=2))
    assert (sizing.workers, sizing.bound) == (5, "cores") and sizing.memory_workers > 100
    tight = size(figures, Budget(memory_mb=300, cores=8))
    assert tight.bound == "memory" and tight.workers == workers_that_fit(
        figures, 300, tight.recycling.headroom_mb
    )
    assert tight.budgeted_mb <= 300


def test_max_requests_keeps_a_growing_worker_within_its_headroom():
    plan = recycling(worker_mb=40, growth=Estimate(1.0, 0.5, 2.0, 4), window=2000)
    assert plan.headroom_mb == 10  # a quarter of 40 MB
    assert plan.max_requests == 4700 and plan.jitter == 235  # 10 MB / 2 MB per 1,000 / 1.05 = 4,761 → 4,700
    assert "grows 1.00 MB per 1,000 requests (up to 2.00)" in plan.why
    flat = recycling(worker_mb=40, growth=Estimate(-0.1, -0.3, -0.01, 4), window=2000)
    assert flat.max_requests == 20_000 and "no growth measured" in flat.why
    assert recycling(40, None, 0).max_requests == 0 and "left off" in recycling(40, None, 0).why
    leak = recycling(worker_mb=4, growth=Estimate(50, 40, 60, 4), window=2000)
    assert leak.max_requests == 200 and leak.headroom_mb >= 60 / 1000 * 200 * (1 + JITTER_SHARE)
    slow = recycling(worker_mb=40, growth=Estimate(1e-9, 0, 2e-9, 4), window=300)
    assert slow.max_requests == 3000 and "capped at 10 × the 300 measured" in slow.why


@given(
    worker=st.floats(0, 5000),
    growth=st.floats(1e-6, 500),
    window=st.integers(100, 100_000),
)
def test_max_requests_with_jitter_never_outgrows_the_headroom(worker, growth, window):
    plan = recycling(worker, Estimate(growth / 2, growth / 4, growth, 3), window)
    assert 0 < plan.max_requests <= 10 * window
    assert (plan.max_requests + plan.jitter) * growth / 1000 <= plan.headroom_mb * (1 + 1e-9)


def test_significant_digits_rounds_down():
    assert [significant_digits(v) for v in (0.5, 7, 2734, 4761.9, 99_999)] == [0, 7, 2700, 4700, 99_000]


# ------------------------------------------------------------------------------------------------ choosing


def test_the_lower_steady_memory_wins_when_both_fit_the_cores():
    figures = figures_of(
        steady_rows("lazy", 30, 100, first=300), steady_rows("prewarm-freeze", 80, 10, first=40)
    )
    advice = recommend(figures, Budget(memory_mb=4096, cores=2))
    assert (advice.mode, advice.decided_by, advice.sizing.workers) == ("prewarm-freeze", "memory", 5)
    assert advice.sizings["lazy"].workers == 5


def test_more_workers_within_the_budget_beat_a_faster_first_query():
    figures = figures_of(
        steady_rows("prewarm", 50, 60, first=10), steady_rows("prewarm-freeze", 60, 20, first=90)
    )
    advice = recommend(figures, Budget(memory_mb=300, cores=8))
    assert advice.mode == "prewarm-freeze" and advice.decided_by == "workers"
    assert advice.sizing.workers > advice.sizings["prewarm"].workers


def test_memory_within_five_percent_leaves_the_first_query_to_decide():
    figures = figures_of(
        steady_rows("prewarm-freeze", 100, 20, first=50), steady_rows("prefork-warm", 104, 20, first=5)
    )
    advice = recommend(figures, Budget(memory_mb=4096, cores=2))
    assert (advice.mode, advice.decided_by) == ("prefork-warm", "first query")


def test_slower_growth_decides_between_modes_of_the_same_steady_memory():
    from dataclasses import replace

    collect, nocollect = figures_of(
        steady_rows("prewarm-freeze", 100, 20, first=30),
        steady_rows("prewarm-freeze-nocollect", 102, 20, first=30),
    )
    figures = (
        replace(collect, growth_mb_per_1k=Estimate(1.5, 1.4, 1.6, 8), lifecycle_requests=2000),
        replace(nocollect, growth_mb_per_1k=Estimate(0.15, 0.1, 0.2, 8), lifecycle_requests=2000),
    )
    advice = recommend(figures, Budget(memory_mb=4096, cores=2))
    assert (advice.mode, advice.decided_by) == ("prewarm-freeze-nocollect", "growth")
    assert advice.sizing.recycling.max_requests > advice.sizings["prewarm-freeze"].recycling.max_requests
    # apart (their intervals do not overlap) by 0.08 MB per 1,000 requests: nobody would notice
    unnoticed = (
        replace(figures[0], growth_mb_per_1k=Estimate(1.5, 1.49, 1.51, 8)),
        replace(figures[1], growth_mb_per_1k=Estimate(1.42, 1.41, 1.43, 8)),
    )
    assert recommend(unnoticed, Budget(memory_mb=4096, cores=2)).decided_by == "order"


def test_modes_nothing_tells_apart_go_to_the_first_of_the_labs_list():
    figures = figures_of(
        steady_rows("prewarm-freeze-nocollect", 100, 20, first=30, startup=1.0),
        steady_rows("prewarm-freeze", 101, 20, first=32, startup=1.1),
    )
    advice = recommend(figures, Budget(memory_mb=4096, cores=2))
    assert (advice.mode, advice.decided_by, advice.tied) == (
        "prewarm-freeze",
        "order",
        ("prewarm-freeze-nocollect",),
    )


def test_a_mode_that_failed_is_never_recommended_and_says_why():
    broken = steady_rows("prewarm-freeze", 40, 5, first=5)
    broken[0] = row(
        "prewarm-freeze", 1, 0, status="failed", error="a database connection was inherited across fork"
    )
    figures = figures_of(steady_rows("lazy", 30, 100), broken)
    advice = recommend(figures, Budget(memory_mb=4096, cores=2))
    assert (advice.mode, advice.decided_by) == ("lazy", "only")
    assert advice.rejected == (
        ("prewarm-freeze", "failed 1 of 9 runs: a database connection was inherited across fork"),
    )


def test_nothing_is_recommended_when_not_one_worker_fits():
    advice = recommend((exact("lazy", 300, 200),), Budget(memory_mb=256, cores=2))
    assert advice.mode is None and advice.sizing is None
    assert advice.rejected[0][0] == "lazy" and "one worker needs 550 MB" in advice.rejected[0][1]


# ------------------------------------------------------------------------------------------------ the rest


def test_database_connections_against_postgresqls_limit():
    many = connections(90, 1, "postgresql", 0, 0, 100)
    assert (many.total, many.too_many, many.persistent) == (90, True, False)
    pooled = connections(5, 1, "postgresql", 4, 0, 100)
    assert (pooled.per_worker, pooled.total, pooled.too_many, pooled.persistent) == (4, 20, False, True)
    assert connections(5, 1, "postgresql", -1, 0, None).total is None  # psycopg's default pool size
    assert (
        connections(5, 2, "sqlite", 0, None, None).persistent
        and connections(5, 2, "sqlite", 0, None, None).total == 10
    )


def test_what_the_project_must_change():
    closed = steady_rows("prewarm", 40, 10, closed=1)
    changes = project_changes(figures_of(closed), "prewarm", ("/",), None)
    assert any(
        "opens 1 database connection(s) while it loads" in c and "close_connections()" in c for c in changes
    )
    failing = steady_rows("prefork", 40, 10, closed=1)
    failing[0] = row("prefork", 1, 0, status="failed", error="GET /: HTTP 500", closed=1)
    (line,) = [
        c
        for c in project_changes(figures_of(failing, steady_rows("lazy", 40, 30)), "lazy", ("/",), None)
        if "database" in c
    ]
    assert "prefork then failed: GET /: HTTP 500" in line and "on first use" in line
    warm = figures_of(
        steady_rows("lazy", 30, 30, first=500, warm=5), steady_rows("prewarm", 40, 10, first=104, warm=5)
    )
    (coverage,) = project_changes(warm, "prewarm", ("/", "/a/"), None)
    assert "covers 80% of a cold first request" in coverage and "add --url" in coverage


def test_memory_sizes_need_a_unit():
    assert parse_memory("4GiB") == 4096 and parse_memory("512MiB") == 512 and parse_memory("1.5G") == 1536
    assert math.isclose(parse_memory("4GB"), 4e9 / 2**20) and parse_memory("2 TiB") == 2 * 1024**2
    for bad, message in (
        ("4", "no unit"),
        ("4XB", "unknown unit"),
        ("0GiB", "more than 0"),
        ("-1GiB", "such as"),
        ("", "such as"),
        ("65TiB", "at most 64 TiB"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_memory(bad)


# ------------------------------------------------------------------------------------------------ what is shown


def _answer(figures, advice, verification=None):
    from experiments.advice.screen import Answer

    return Answer(
        name="shop",
        server="gunicorn",
        server_version="27.0.1",
        budget_text="4GiB",
        budget_mb=4096,
        cores=2,
        urls=("/",),
        workers=(1, 2, 4),
        repetitions=3,
        lifecycle_requests=2000,
        figures=figures,
        recommendation=advice,
        verification=verification,
    )


def test_the_table_has_a_row_per_mode_ratios_against_lazy_the_best_and_a_legend():
    from experiments.advice.screen import mode_table

    broken = steady_rows("prefork", 40, 10)
    broken[0] = row("prefork", 1, 0, status="failed", error="boom")
    figures = figures_of(
        steady_rows("lazy", 30, 100, first=300, startup=2.0),
        broken,
        steady_rows("prewarm-freeze", 80, 10, first=30, startup=1.0),
    )
    advice = recommend(figures, Budget(4096, 2))
    lines = mode_table(figures, advice.sizings, 4, "4GiB")
    lazy, prefork, freeze = (
        next(line for line in lines if line.startswith(m + " "))
        for m in ("lazy", "prefork", "prewarm-freeze")
    )
    assert freeze.split()[1:5] == ["1.00", "×0.50*", "30", "×0.10*"] and freeze.split()[-3:] == [
        "5",
        "(cores)",
        "ok",
    ]
    assert "×" not in lazy and prefork.endswith("FAILED 1/9")
    assert (
        "best (*): start-up s prewarm-freeze;" in lines[4] and "prefork" not in lines[4]
    )  # a failed mode wins nothing
    assert sum(line.startswith("  ") for line in lines) == 7  # a legend line per column, ×, and the workers


def test_the_verification_fails_beyond_ten_percent_and_says_so():
    from experiments.advice.screen import verification_lines
    from experiments.advice.verify import Verification

    expect = Verification(4, (), Estimate(100, 98, 102, 9), Estimate(20, 18, 22, 9), (15.0, 25.0))
    heavy = Verification(**{**vars(expect), "first_range": (1500.0, 2000.0), "measured_mb": 100.0})
    assert Verification(**{**vars(heavy), "measured_first_ms": 2200.0}).first_ok  # 10 % above 2 s
    assert not Verification(**{**vars(heavy), "measured_first_ms": 2201.0}).first_ok
    assert not Verification(**{**vars(heavy), "measured_first_ms": 1363.0}).first_ok  # below 1.5 s ÷ 1.1
    held = Verification(
        **{**vars(expect), "measured_mb": 109.0, "after_traffic_mb": 100.0, "measured_first_ms": 27}
    )
    assert held.ok and held.memory_ok and held.first_ok and math.isclose(held.memory_difference, 0.09)
    lines = verification_lines(held, "gunicorn", "27")
    assert lines[0].endswith("the advice holds") and "+9.0% ok" in lines[1] and lines[2].endswith(": ok")
    over = Verification(**{**vars(held), "measured_mb": 111.0})
    assert not over.ok and "THE ADVICE FAILED ITS CHECK" in verification_lines(over, "gunicorn", "27")[0]
    assert Verification(**{**vars(held), "measured_first_ms": 35.0}).first_ok  # 25 ms give or take 10 ms
    slow = Verification(**{**vars(held), "measured_first_ms": 35.1})
    assert not slow.first_ok and verification_lines(slow, "gunicorn", "27")[2].endswith("FAILED")
    crashed = Verification(**{**vars(expect), "error": "the server exited with status 1"})
    assert not crashed.ok and "FAILED — the server exited" in verification_lines(crashed, "uwsgi", "2")[0]


def test_the_answer_names_the_mode_its_workers_why_and_what_was_rejected():
    from experiments.advice.screen import answer_lines

    broken = steady_rows("prefork", 40, 10)
    broken[3] = row("prefork", 2, 0, status="failed", error="GET /: HTTP 500")
    figures = figures_of(
        steady_rows("lazy", 30, 100, first=300), broken, steady_rows("prewarm", 80, 10, first=30)
    )
    text = "\n".join(answer_lines(_answer(figures, recommend(figures, Budget(4096, 2)))))
    assert "recommended: prewarm with 5 workers (2 × 2 cores + 1; 4GiB would hold" in text
    assert "why (memory decided): steady at 5 workers 130 MB" in text and "against lazy's 530 MB" in text
    assert "not prefork: failed 1 of 9 runs: GET /: HTTP 500" in text
    assert "max_requests 0: no lifecycle window measured its growth: recycling left off" in text


# ------------------------------------------------------------------------------------------------ the files


def _deployment(server, mode, **extra):
    from pathlib import Path

    from experiments.advice.configs import Deployment

    values = dict(
        server=server,
        server_version="1",
        mode=mode,
        name="shop",
        root=Path("/srv/shop"),
        settings="shop.settings",
        wsgi="shop.wsgi:application",
        urls=("/", "/cart/"),
        workers=5,
        max_requests=4700,
        jitter=235,
        recycling_why="grows",
        startup_s=14.0,
        home="/srv/venv",
    )
    return Deployment(**{**values, **extra})


@pytest.mark.parametrize(
    "mode",
    ["lazy", "prefork", "prewarm", "prewarm-freeze", "lazy-warm", "prefork-warm", "prewarm-freeze-nocollect"],
)
def test_gunicorn_files_say_what_the_mode_does_in_the_right_hooks(mode):
    from experiments.advice.configs import render
    from experiments.modes import get_mode

    files = render(_deployment("gunicorn", mode))
    config = files["gunicorn.conf.py"]
    for name, text in files.items():
        compile(text, name, "exec")
    spec = get_mode(mode)
    assert set(files) == (
        {"gunicorn.conf.py"} if mode == "lazy" else {"gunicorn.conf.py", "prefork_warmup.py"}
    )
    assert f"preload_app = {spec.preload}" in config and "workers = 5" in config
    assert "max_requests = 4700" in config and "max_requests_jitter = 235" in config
    assert "timeout = 42" in config  # 3 × the slowest start-up of 14 s
    assert ("\ngc.disable()" in config) == spec.freeze and ("def post_fork" in config) == spec.freeze
    assert ("def when_ready" in config) == (spec.warm_before_fork or spec.freeze)
    assert ("def pre_fork" in config) == spec.preload  # closing connections before every fork
    assert ("def post_worker_init" in config) == spec.warm_after_fork
    if spec.freeze:
        assert ("gc.collect()" in files["prefork_warmup.py"]) == spec.collect_before_freeze
    code = "".join(files.values())
    assert "from experiments" not in code and "import experiments" not in code and "prefork_lab" not in code


@pytest.mark.parametrize("mode", ["lazy", "prefork", "prewarm-freeze", "lazy-warm", "prefork-warm"])
def test_uwsgi_files_say_the_same_in_uwsgis_terms(mode):
    from experiments.advice.configs import render
    from experiments.modes import get_mode

    files = render(_deployment("uwsgi", mode))
    ini, spec = files["uwsgi.ini"], get_mode(mode)
    assert (
        ("lazy-apps = true" in ini) == (not spec.preload)
        and "master = true" in ini
        and "processes = 5" in ini
    )
    assert "max-requests = 4700" in ini and "max-requests-delta = 58" in ini  # 235 over 4 more workers
    if mode == "lazy":
        assert set(files) == {"uwsgi.ini"} and "module = shop.wsgi:application" in ini
        return
    entry = files["wsgi_prefork.py"]
    compile(entry, "wsgi_prefork.py", "exec")
    assert "module = wsgi_prefork:application" in ini and "from shop.wsgi import application" in entry
    assert ("@uwsgidecorators.postfork" in entry) == (spec.freeze or (spec.preload and spec.warm_after_fork))
    assert ("prefork_warmup.freeze()" in entry) == spec.freeze
    assert ("prefork_warmup.close_connections()" in entry) == spec.preload


def test_a_value_missing_from_a_template_is_an_error_not_an_empty_string():
    import jinja2

    from experiments.advice.configs import _environment

    with pytest.raises(jinja2.UndefinedError):
        _environment().get_template("gunicorn.conf.py.j2").render(name="shop")


# ------------------------------------------------------------------------------------------------ the directory


def test_the_output_directory_is_never_written_over_a_users_file(tmp_path):
    from experiments.advice.directory import OutputDirectory
    from experiments.errors import ExperimentError

    out = OutputDirectory(tmp_path / "advice", tmp_path / "advice" / "advise.csv")
    out.check()  # absent: fine
    out.create()
    out.write("gunicorn.conf.py", "workers = 5\n")
    out.write("uwsgi.ini", "[uwsgi]\n")
    (tmp_path / "advice" / "advise.csv").write_text("run_id,status\n")  # the runner's: it checks it itself
    OutputDirectory(out.path, out.csv).check()
    again = OutputDirectory(out.path, out.csv)
    again.write("gunicorn.conf.py", "workers = 6\n")
    assert again.remove_stale() == ["uwsgi.ini"] and not (out.path / "uwsgi.ini").exists()
    (out.path / "gunicorn.conf.py").write_text("workers = 7  # edited by hand\n")
    with pytest.raises(
        ExperimentError, match="--output: .*gunicorn.conf.py was changed since advise wrote it"
    ):
        OutputDirectory(out.path, out.csv).check()
    (out.path / "gunicorn.conf.py").write_text("workers = 6\n")
    (out.path / "notes.txt").write_text("mine")
    with pytest.raises(ExperimentError, match="notes.txt was not written by advise"):
        OutputDirectory(out.path, out.csv).check()
    (tmp_path / "file").write_text("")
    with pytest.raises(ExperimentError, match="is not a directory"):
        OutputDirectory(tmp_path / "file", tmp_path / "file" / "a.csv").check()


def test_a_url_may_name_the_statuses_it_answers_by_design():
    from experiments.advice.configs import render
    from experiments.advice.options import _urls
    from experiments.errors import ExperimentError

    assert _urls(["/", "/api/v1/=401,403"]) == (("/", "/api/v1/"), (("/api/v1/", (401, 403)),))
    for bad in ("/api/=abc", "/api/=99", "api/=401", "/api/=401,"):
        with pytest.raises(ExperimentError, match="--url: expected"):
            _urls([bad])
    warmup = render(_deployment("gunicorn", "prewarm", allowed=(("/api/v1/", (401,)),)))["prefork_warmup.py"]
    assert 'ALLOWED = {"/api/v1/": [401]}' in warmup and "status not in ALLOWED.get(url, ())" in warmup
