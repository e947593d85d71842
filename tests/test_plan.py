"""Planning: cross-product counts, stable run ids, seeded order, resume, time estimates (pure, fast)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from runner_support import TINY

from experiments.plan import estimate_run_s, estimate_s, make_plan
from experiments.sweep import MODES, parse_sweep


def sweep_of(models=(10, 20), modes=MODES, workers=(1, 2), repetitions=2, seed=0, **extra):
    text = (
        f"repetitions: {repetitions}\nseed: {seed}\nproject:\n  models: {list(models)}\n"
        f"server:\n  modes: [{', '.join(modes)}]\n  workers: {list(workers)}\n"
    )
    for key, value in extra.items():
        text += f"{key}: {value}\n"
    return parse_sweep(text, base_dir=TINY.parent, default_name="p")


def test_every_combination_once_per_repetition():
    plan = make_plan(sweep_of())
    assert len(plan.runs) == 2 * len(MODES) * 2 * 2
    combos = {(r.project.models, r.mode, r.workers, r.repetition) for r in plan.runs}
    assert len(combos) == len(plan.runs)
    assert len({r.run_id for r in plan.runs}) == len(plan.runs)
    assert plan.todo == plan.runs and plan.done_count == 0


def test_run_ids_are_stable_and_independent_of_order_and_seed():
    a = make_plan(sweep_of(seed=1))
    b = make_plan(sweep_of(seed=2, models=(20, 10), workers=(2, 1)))
    assert {r.run_id for r in a.runs} == {r.run_id for r in b.runs}
    assert [r.run_id for r in a.runs] != [r.run_id for r in b.runs]  # another seed, another order
    assert [r.run_id for r in make_plan(sweep_of(seed=1)).runs] == [r.run_id for r in a.runs]


def test_run_ids_change_with_what_is_measured():
    base = {r.run_id for r in make_plan(sweep_of()).runs}
    more_traffic = {r.run_id for r in make_plan(sweep_of(traffic="{requests_per_worker: 5}")).runs}
    assert not base & more_traffic
    slow = parse_sweep(
        "repetitions: 2\nproject:\n  models: [10, 20]\nserver:\n  workers: [1, 2]\n  timeout: 999\n",
        base_dir=TINY.parent,
    )
    assert {r.run_id for r in make_plan(slow).runs} == base  # a timeout only bounds a run: same ids


def test_server_settings_enter_run_ids_only_away_from_their_defaults():
    base = {r.run_id for r in make_plan(sweep_of(models=(10, 20), modes=("lazy",))).runs}
    uwsgi = parse_sweep(
        "repetitions: 2\nproject:\n  models: [10, 20]\nserver:\n  backend: uwsgi\n  threads: 1\n"
        "  modes: [lazy]\n  workers: [1, 2]\n",
        base_dir=TINY.parent,
    )
    assert {r.run_id for r in make_plan(uwsgi).runs} == base
    both = parse_sweep(
        "repetitions: 2\nproject:\n  models: [10, 20]\nserver:\n  backend: [uwsgi, gunicorn]\n"
        "  modes: [lazy]\n  workers: [1, 2]\n",
        base_dir=TINY.parent,
    )
    ids = {r.run_id for r in make_plan(both).runs}
    assert base < ids and len(ids) == 2 * len(base)
    threaded = parse_sweep(
        "repetitions: 2\nproject:\n  models: [10, 20]\nserver:\n  threads: 4\n  modes: [lazy]\n"
        "  workers: [1, 2]\n",
        base_dir=TINY.parent,
    )
    assert not {r.run_id for r in make_plan(threaded).runs} & base


def test_run_ids_of_an_existing_sweep_did_not_move():
    """New sweep keys must not orphan what was measured: quick.yaml's ids, as computed before servers existed."""
    import hashlib

    from runner_support import REPO

    from experiments.sweep import load_sweep

    ids = sorted(r.run_id for r in make_plan(load_sweep(REPO / "experiments" / "sweeps" / "quick.yaml")).runs)
    assert ids[:3] == ["065ff7c2204f", "1b0db608225c", "301a37dd4618"]
    assert hashlib.sha256(" ".join(ids).encode()).hexdigest()[:16] == "e88efe913317d4c5"


def test_seeded_shuffle_mixes_modes():
    plan = make_plan(sweep_of(models=(10,), workers=(1,), repetitions=5))
    modes = [r.mode for r in plan.runs]
    assert modes != sorted(modes, key=MODES.index)  # not grouped by mode


def test_resume_skips_done_runs_and_keeps_the_order():
    plan = make_plan(sweep_of())
    done = {plan.runs[0].run_id, plan.runs[5].run_id}
    resumed = make_plan(sweep_of(), done)
    assert resumed.done_count == 2
    assert [r.run_id for r in resumed.todo] == [r.run_id for r in plan.runs if r.run_id not in done]
    everything = make_plan(sweep_of(), {r.run_id for r in plan.runs})
    assert everything.todo == () and everything.projects == ()


def test_estimates_grow_with_models_workers_and_builds():
    plan = make_plan(sweep_of(models=(30, 3000), workers=(1, 8)))
    by = {(r.project.models, r.mode, r.workers): estimate_run_s(r, cores=2) for r in plan.runs}
    assert by[(3000, "lazy", 1)] > by[(30, "lazy", 1)]
    assert by[(3000, "lazy", 8)] > by[(3000, "lazy", 1)]
    assert by[(3000, "lazy", 8)] > by[(3000, "prewarm", 8)]
    built = {p.key() for p in plan.projects}
    assert estimate_s(plan, cores=2) > estimate_s(plan, built, cores=2) > 0


@settings(max_examples=40, deadline=None)
@given(
    models=st.lists(st.integers(1, 500), min_size=1, max_size=3, unique=True),
    modes=st.lists(st.sampled_from(MODES), min_size=1, max_size=4, unique=True),
    workers=st.lists(st.integers(1, 16), min_size=1, max_size=3, unique=True),
    repetitions=st.integers(1, 4),
    seed=st.integers(0, 1000),
    cut=st.integers(0, 1000),
)
def test_plan_properties(models, modes, workers, repetitions, seed, cut):
    sweep = sweep_of(models=models, modes=modes, workers=workers, repetitions=repetitions, seed=seed)
    plan = make_plan(sweep)
    assert len(plan.runs) == len(models) * len(modes) * len(workers) * repetitions
    assert len({r.run_id for r in plan.runs}) == len(plan.runs)
    done = {r.run_id for r in plan.runs[: cut % (len(plan.runs) + 1)]}
    resumed = make_plan(sweep, done)
    assert {r.run_id for r in resumed.todo} == {r.run_id for r in plan.runs} - done
    assert set(resumed.projects) == {r.project for r in resumed.todo}


def test_post_fork_knobs_enter_run_ids_only_away_from_their_defaults():
    def ids(extra: str) -> set[str]:
        text = f"project:\n  models: 10\n{extra}server:\n  modes: [lazy]\n"
        return {r.run_id for r in make_plan(parse_sweep(text, base_dir=TINY.parent)).runs}

    base = ids("")
    assert ids("  view_touch_share: 0\n  worker_init_work: 0\n") == base
    assert not ids("  view_touch_share: 0.5\n") & base
    assert not ids("  worker_init_work: 100\n") & base


def test_estimates_grow_with_the_library_where_it_is_imported():
    def by_mode(library_loc: int, view_library_loc: int) -> dict[str, float]:
        text = (
            f"project:\n  models: 10\n  library_loc: {library_loc}\n  view_library_loc: {view_library_loc}\n"
            "server:\n  modes: [lazy, prewarm]\n  workers: 4\n"
        )
        plan = make_plan(parse_sweep(text, base_dir=TINY.parent))
        return {r.mode: estimate_run_s(r, cores=2) for r in plan.runs}

    bare, startup, views = by_mode(0, 0), by_mode(100_000, 0), by_mode(0, 100_000)
    # Lazy workers import the start-up library each, in waves; prewarm's master once.
    assert startup["lazy"] - bare["lazy"] > 1.5 * (startup["prewarm"] - bare["prewarm"]) > 0
    # The views' library: each lazy worker's first request, prewarm's warm-up in the master.
    assert views["lazy"] - bare["lazy"] > 1.5 * (views["prewarm"] - bare["prewarm"]) > 0
