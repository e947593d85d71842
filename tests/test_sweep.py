"""Sweep files: validation errors name the key and its line; lists are swept as cross-products."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from runner_support import TINY

from experiments.errors import SweepError
from experiments.sweep import MODES, load_sweep, parse_sweep


def parse(text: str, base: Path = TINY.parent):
    return parse_sweep(text, base_dir=base, default_name="t")


def error_of(text: str) -> SweepError:
    with pytest.raises(SweepError) as caught:
        parse(text)
    return caught.value


def test_generated_project_lists_are_a_cross_product():
    sweep = parse(
        "repetitions: 3\nproject:\n  models: [10, 20]\n  profile: [minimal, realistic]\n"
        "server:\n  modes: [lazy, prewarm]\n  workers: [1, 2, 4]\n"
    )
    assert len(sweep.projects) == 4
    assert {(p.models, p.options_dict["profile"]) for p in sweep.projects} == {
        (10, "minimal"),
        (10, "realistic"),
        (20, "minimal"),
        (20, "realistic"),
    }
    assert len(sweep.servers) == 6
    assert sweep.repetitions == 3
    assert sweep.output == (TINY.parent / "results" / "t.csv").resolve()


def test_defaults_sweep_every_mode():
    sweep = parse("project:\n  models: 10\n")
    assert [s.mode for s in sweep.servers] == list(MODES)
    assert sweep.name == "t" and sweep.seed == 0


def test_generated_options_are_resolved_with_profile_defaults():
    a = parse("project:\n  models: 30\n").projects[0]
    b = parse("project:\n  models: 30\n  profile: realistic\n  seed: 0\n").projects[0]
    assert a == b and a.label == "realistic-m30-s0"
    c = parse("project:\n  models: 30\n  rows_per_model: 3\n").projects[0]
    assert c.key() != a.key() and c.label.startswith("realistic-m30-s0-")
    # the hash leaves the size out: the same option at another size differs only in -m<models>-
    bigger = parse("project:\n  models: 90\n  rows_per_model: 3\n").projects[0]
    assert bigger.label == c.label.replace("-m30-", "-m90-")
    # an option set to its default changes nothing, label included
    assert parse("project:\n  models: 30\n  rows_per_model: 20\n").projects[0].label == a.label


def test_existing_project_path_is_relative_to_the_sweep_file(tmp_path):
    sweep_file = tmp_path / "deep" / "s.yaml"
    sweep_file.parent.mkdir()
    relative = Path("..") / TINY.relative_to(TINY.parents[2])
    project_root = tmp_path / TINY.relative_to(TINY.parents[2])
    project_root.mkdir(parents=True)
    sweep_file.write_text(
        f"project:\n  path: {relative}\n  wsgi: tinysite.wsgi:application\n"
        "  env: {DJANGO_SETTINGS_MODULE: tinysite.settings, FLAG: [a, b]}\n  urls: [/, /x/]\n"
        "output: out/r.csv\n"
    )
    sweep = load_sweep(sweep_file)
    assert {p.path for p in sweep.projects} == {str(project_root.resolve())}
    assert sorted(dict(p.env)["FLAG"] for p in sweep.projects) == ["a", "b"]  # a list under env is swept
    assert sweep.projects[0].urls == ("/", "/x/")  # urls is one list, not swept
    assert sweep.output == (sweep_file.parent / "out" / "r.csv").resolve()
    assert sweep.name == "s" and len(sweep.sha256) == 64


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("project:\n  models: 10\nserver:\n  modes: [lazy, eager]\n", "server.modes[1]", 4),
        ("project:\n  models: 10\nserver:\n  workers: 0\n", "server.workers", 4),
        ("project:\n  models: 10\nserver:\n  workers: [2, two]\n", "server.workers[1]", 4),
        ("project:\n  models: 10\nserver:\n  workerz: 2\n", "server.workerz", 4),
        ("name: x\nrepetition: 3\nproject:\n  models: 10\n", "repetition", 2),
        ("project:\n  models: 10\n  colour: red\n", "project.colour", 3),
        ("project:\n  models: 0\n", "project.models", 2),
        ("project:\n  models: 10\n  apps: 11\n", "project.apps", 3),
        ("project:\n  models: 10\n  profile: huge\n", "project.profile", 3),
        ("project:\n  models: 10\n  rows_per_model: -1\n", "project.rows_per_model", 3),
        (
            "project:\n  models: 10\ntraffic:\n  requests_per_worker: [1, 2]\n",
            "traffic.requests_per_worker",
            4,
        ),
        ("project:\n  models: 10\ntraffic:\n  urls: [nope]\n", "traffic.urls[0]", 4),
        ("repetitions: 0\nproject:\n  models: 10\n", "repetitions", 1),
        ("seed: -1\nproject:\n  models: 10\n", "seed", 1),
        ("server:\n  workers: 2\n", "project", None),
        ("project:\n  profile: minimal\n", "project", 1),
        ("project: [1, 2]\n", "project[0]", 1),
        ("project: []\n", "project", 1),
        ("project:\n  - models: 3\n  - models: 0\n", "project[1].models", 3),
        ("project:\n  path: /definitely/not/here\n  wsgi: a.wsgi\n", "project.path", 2),
        ("project:\n  path: brokenproject\n", "project.wsgi", 1),  # no wsgi, no manage.py to name settings
        ("project:\n  path: tinyproject\n  wsgi: 'not a module'\n", "project.wsgi", 3),
        ("project:\n  path: tinyproject\n  wsgi: a.b:c\n  models: 3\n", "project.models", 4),
        ("project:\n  models: 10\n  models: 20\n", "project.models", 3),
        ("project:\n  models: 10\nserver:\n  modes: []\n", "server.modes", 4),
        ("project:\n  models: 10\nserver:\n  backend: [uwsgi, waitress]\n", "server.backend[1]", 4),
        ("project:\n  models: 10\nserver:\n  threads: 0\n", "server.threads", 4),
        (
            "project:\n  models: 10\nserver:\n  backend: granian\n  modes: [lazy, prewarm]\n",
            "server.modes",
            5,
        ),
        ("project:\n  models: 10\nserver:\n  backend: [uwsgi, granian]\n", "server.modes", 3),  # every mode
        ("project:\n  models: 10\ntraffic:\n  steady_state: sometimes\n", "traffic.steady_state", 4),
        (
            "project:\n  models: 10\ntraffic:\n  allowed_statuses: {/x/: [404, 1000]}\n",
            "traffic.allowed_statuses./x/[1]",
            4,
        ),
        (
            "project:\n  path: tinyproject\n  wsgi: a.b:c\n  python: venv/bin/nothing\n",
            "project.python",
            4,
        ),
        ("project:\n  - name: a\n    models: [3, 4]\n", "project[0].name", 2),
        ("project:\n  name: ''\n  models: 3\n", "project.name", 2),
        ("project:\n  - name: a\n    models: 3\n  - name: a\n    models: 4\n", "project[1].name", 4),
        ("project:\n  - name: a\n    models: 3\n  - name: b\n    models: 3\n", "project[1]", 4),
        ("project:\n  models: 10\n  database: mysql\n", "project.database", 3),
        ("project:\n  models: 10\n  conn_max_age: -5\n", "project.conn_max_age", 3),
        ("project:\n  models: 10\n  pool: lots\n", "project.pool", 3),
        ("project:\n  models: 10\n  pool: true\n", "project.pool", 3),  # SQLite has no pool
        (
            "project:\n  models: 10\n  database: postgresql\n  pool: 4\n  conn_max_age: 60\n",
            "project.pool",
            4,
        ),
        ("project:\n  path: tinyproject\n  wsgi: a.b:c\n  database: postgresql\n", "project.database", 4),
        ("project:\n  models: 10\nserver:\n  max_requests: -1\n", "server.max_requests", 4),
        ("project:\n  models: 10\nserver:\n  max_requests: [0, ten]\n", "server.max_requests[1]", 4),
        ("project:\n  models: 10\nserver:\n  max_requests_jitter: 5\n", "server.max_requests_jitter", 4),
        (
            "project:\n  models: 10\nserver:\n  backend: gunicorn\n  reload_on_rss: 300\n",
            "server.reload_on_rss",
            5,
        ),
        (
            "project:\n  models: 10\nserver:\n  backend: [uwsgi, gunicorn]\n  max_worker_lifetime: 60\n",
            "server.max_worker_lifetime",
            5,
        ),
        (
            "project:\n  models: 10\nserver:\n  backend: gunicorn\n  min_worker_lifetime: 1\n",
            "server.min_worker_lifetime",
            5,
        ),
        (
            "project:\n  models: 10\nserver:\n  backend: granian\n  modes: [lazy]\n  max_requests: 100\n",
            "server.max_requests",
            6,
        ),
        ("project:\n  models: 10\ntraffic:\n  clients: 0.5\n", "traffic.clients", 4),
        ("project:\n  models: 10\ntraffic:\n  clients: 1000\n", "traffic.clients", 4),
        ("project:\n  models: 10\ntraffic:\n  sample_every: -3\n", "traffic.sample_every", 4),
        (
            "project:\n  models: 10\ntraffic:\n  requests_per_worker: 100001\n",
            "traffic.requests_per_worker",
            4,
        ),
    ],
)
def test_errors_name_the_key_and_line(text, key, line):
    error = error_of(text)
    assert error.key == key
    assert error.line == line
    assert key in str(error) and (line is None or f"(line {line})" in str(error))


def test_an_existing_project_without_wsgi_takes_its_settings_from_manage_py():
    """Its WSGI_APPLICATION names the app once the project is prepared; the settings come from manage.py
    unless the block's env names them."""
    (project,) = parse("project:\n  path: tinyproject\n").projects
    assert project.wsgi == "" and dict(project.env) == {"DJANGO_SETTINGS_MODULE": "tinysite.settings"}
    (given,) = parse(
        "project:\n  path: tinyproject\n  env: {DJANGO_SETTINGS_MODULE: other.settings}\n"
    ).projects
    assert dict(given.env) == {"DJANGO_SETTINGS_MODULE": "other.settings"}


def test_yaml_syntax_error_has_a_line():
    error = error_of("project:\n  models: [10, 20\nserver: {}\n")
    assert error.key == "yaml" and error.line is not None


def test_empty_and_non_mapping_files():
    assert error_of("").key == "sweep"
    assert error_of("- a\n- b\n").key == "sweep"


def test_missing_file_is_an_experiment_error(tmp_path):
    from experiments.errors import ExperimentError

    with pytest.raises(ExperimentError, match="no such sweep file"):
        load_sweep(tmp_path / "absent.yaml")


def test_shipped_sweeps_are_valid():
    sweeps = Path(__file__).resolve().parent.parent / "experiments" / "sweeps"
    quick = load_sweep(sweeps / "quick.yaml")
    seed = load_sweep(sweeps / "seed-300.yaml")
    scaling = load_sweep(sweeps / "scaling.yaml")
    assert quick.name == "quick" and quick.output.name == "quick.csv"
    assert {p.models for p in seed.projects} == {300} and seed.repetitions == 5
    assert {s.mode for s in seed.servers} == set(MODES)
    assert sorted({p.models for p in scaling.projects}) == [30, 100, 300, 1000, 3000]
    assert sorted({s.workers for s in scaling.servers}) == [1, 2, 4, 8]
    # the committed scaling results were measured before the documented freeze recipe became a mode
    assert {s.mode for s in scaling.servers} == set(MODES) - {"prewarm-freeze-nocollect"}
    assert scaling.repetitions == 2


def test_placement_sweep_moves_only_where_the_library_weight_sits():
    sweep = load_sweep(Path(__file__).resolve().parent.parent / "experiments" / "sweeps" / "placement.yaml")
    options = [p.options_dict for p in sweep.projects]
    (total,) = {o["library_loc"] + o["view_library_loc"] for o in options}
    shares = [o["library_loc"] / total for o in options]
    assert shares == [0, 0.25, 0.5, 0.75, 1]
    assert [p.label for p in sweep.projects] == [f"share-{s:g}" for s in shares]
    for name in ("models", "library_work", "view_library_work", "view_touch_share", "worker_init_work"):
        assert len({o[name] for o in options}) == 1, name
    assert {p.models for p in sweep.projects} == {300} and sweep.repetitions == 2
    assert {s.mode for s in sweep.servers} == {"lazy", "prefork", "prewarm", "prewarm-freeze"}
    assert sorted({s.workers for s in sweep.servers}) == [1, 2, 4, 8]


def test_a_list_of_projects_shares_one_plan(tmp_path):
    (tmp_path / "site").mkdir()
    sweep = parse_sweep(
        "project:\n  - models: [3, 4]\n    profile: minimal\n  - path: site\n    wsgi: site.wsgi:application\n",
        base_dir=tmp_path,
    )
    kinds = [
        (p.kind, p.options_dict.get("models") if p.kind == "generated" else p.path) for p in sweep.projects
    ]
    assert kinds == [("generated", 3), ("generated", 4), ("existing", str((tmp_path / "site").resolve()))]


def test_calibration_sweeps_measure_a_prepared_real_project_beside_its_fitted_twin_and_the_profiles():
    import importlib.util
    import json

    from experiments.sweep.keys import DATABASE_KEYS

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("prepare", root / "calibration" / "prepare.py")
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    names = []
    for path in sorted((root / "experiments" / "sweeps").glob("calibration-*.yaml")):
        # Read, not loaded: loading checks that the real project was prepared, which a test run does not do.
        projects = yaml.safe_load(path.read_text())["project"]
        name = path.stem.removeprefix("calibration-")
        if name == "profiles":
            assert [(p["name"], p.get("profile", "realistic")) for p in projects] == [
                (profile, profile) for profile in ("realistic", "startup-heavy", "request-heavy")
            ]
            continue
        real, twin = projects
        names.append(name)
        assert real["name"] == name and len(real["urls"]) >= 5, path
        assert real["path"] == f"../../generated/calibration/{name}", path
        # The twin measured is the one fitted, every knob of it.
        fitted = json.loads((root / "results" / "calibration" / "fits" / f"{name}.json").read_text())
        assert twin["name"] == f"{name}-twin", path
        # What the twin runs on is the real project's database, not a fitted knob.
        fitted_keys = [k for k in twin if k != "name" and k not in DATABASE_KEYS]
        assert {k: twin[k] for k in fitted_keys} == {k: fitted["fitted_options"][k] for k in fitted_keys}, (
            path
        )
        assert {"view_touch_share", "worker_init_work", "library_loc", "view_library_loc"} <= set(twin), path
    assert sorted(names) == sorted(prepare.PROJECTS)
    assert set(prepare.OWN_ENVIRONMENT) <= set(prepare.PROJECTS)
    with pytest.raises(SystemExit) as stopped:
        prepare.main(["--out", "/nonexistent", "nosuchproject"])
    assert stopped.value.code == 2


def test_a_named_generated_block_labels_its_project_and_keeps_its_run_ids():
    sweep = parse("project:\n  - name: share-0.25\n    models: 30\n    library_loc: 1000\n  - models: 30\n")
    named, default = sweep.projects
    assert (named.label, default.label) == ("share-0.25", "realistic-m30-s0")
    unnamed = parse("project:\n  models: 30\n  library_loc: 1000\n").projects[0]
    assert unnamed.label.startswith("realistic-m30-s0-") and unnamed.key() == named.key()


def test_database_axes_are_swept_and_defaults_keep_run_ids():
    plain = parse("project:\n  models: 10\n").projects[0]
    explicit = parse(
        "project:\n  models: 10\n  database: sqlite\n  conn_max_age: 0\n  pool: false\n"
    ).projects[0]
    assert explicit.key() == plain.key() and explicit.label == plain.label
    sweep = parse(
        "project:\n  - models: 10\n    database: [sqlite, postgresql]\n    conn_max_age: [0, 600, none]\n"
        "  - models: 10\n    database: postgresql\n    pool: [true, 4]\n"
    )
    labels = [p.label for p in sweep.projects]
    assert labels == [f"realistic-m10-s0{tag}" for tag in ("", "-age600", "-age-none", "-pg", "-pg-age600",
                                                          "-pg-age-none", "-pg-pool", "-pg-pool4")]  # fmt: skip
    assert len({p.key() for p in sweep.projects}) == 8
    assert sweep.projects[-1].database.env() == {"DATABASE_CONN_MAX_AGE": "0", "DATABASE_POOL": "4"}
    assert sweep.projects[2].database.env() == {"DATABASE_CONN_MAX_AGE": "none", "DATABASE_POOL": "0"}


def test_granian_runs_the_lazy_modes_beside_the_other_servers():
    sweep = parse(
        "project:\n  models: 10\nserver:\n  backend: [uwsgi, granian]\n  modes: [lazy, lazy-warm]\n"
    )
    assert {(s.backend, s.mode) for s in sweep.servers} == {
        (backend, mode) for backend in ("uwsgi", "granian") for mode in ("lazy", "lazy-warm")
    }
    error = error_of(
        "project:\n  models: 10\nserver:\n  backend: granian\n  modes: [prefork, lazy, prewarm]\n"
    )
    assert str(error) == (
        "server.modes (line 5): granian has no preload: prefork, prewarm need uwsgi or gunicorn "
        "(granian runs lazy, lazy-warm)"
    )


def test_the_objects_probe_is_off_unless_asked_and_takes_only_a_flag():
    assert parse("project:\n  models: 10\n").probes.objects is False
    assert parse("project:\n  models: 10\nprobes:\n  objects: true\n").probes.objects is True
    phases_only = parse("project:\n  models: 10\nprobes:\n  phases: false\n").probes
    assert (phases_only.phases, phases_only.objects) == (False, False)
    error = error_of("project:\n  models: 10\nprobes:\n  objects: yes please\n")
    assert (error.key, error.line) == ("probes.objects", 4)
    assert "\n" not in str(error) and "expected true or false" in str(error)


def test_the_objects_probe_changes_run_ids_only_when_on():
    from experiments.plan import make_plan

    text = "project:\n  models: 10\nserver:\n  modes: [lazy, prewarm]\n"
    plain = {r.run_id for r in make_plan(parse(text)).runs}
    assert {r.run_id for r in make_plan(parse(text + "probes:\n  objects: false\n")).runs} == plain
    probed = {r.run_id for r in make_plan(parse(text + "probes:\n  objects: true\n")).runs}
    assert len(probed) == len(plain) and not probed & plain


def test_recycling_is_a_server_axis_with_jitter_and_changes_run_ids_only_when_on():
    from experiments.plan import make_plan

    base = "project:\n  models: 10\nserver:\n  modes: [lazy]\n  backend: [uwsgi, gunicorn]\n"
    plain = parse(base)
    swept = parse(base + "  max_requests: [0, 1000]\n")
    assert [s.recycling.label() for s in swept.servers] == ["off", "max_requests 1000±50"] * 2
    assert [s.recycling.max_requests_jitter for s in swept.servers] == [0, 50, 0, 50]  # 5 % unless given
    ids = {run.run_id for run in make_plan(plain).runs}
    swept_ids = {run.run_id for run in make_plan(swept).runs}
    assert (
        ids < swept_ids and len(swept_ids) == 4
    )  # off keeps the run ids of a sweep written before recycling
    exact = parse(base + "  max_requests: 500\n  max_requests_jitter: 0\n").servers[0].recycling
    assert exact.label() == "max_requests 500" and exact.max_requests_jitter == 0
    uwsgi = (
        parse(
            "project:\n  models: 10\nserver:\n  reload_on_rss: 300\n  max_worker_lifetime: 3600\n"
            "  min_worker_lifetime: 0\n"
        )
        .servers[0]
        .recycling
    )
    assert uwsgi.label() == "reload_on_rss 300 MB, max_worker_lifetime 3600 s, min_worker_lifetime 0 s"


def test_long_traffic_keys_enter_run_ids_only_when_set():
    from experiments.plan import make_plan

    base = "project:\n  models: 10\nserver:\n  modes: [lazy]\n"
    plain = {run.run_id for run in make_plan(parse(base)).runs}
    assert plain == {
        run.run_id for run in make_plan(parse(base + "traffic: {clients: 0, sample_every: 0}\n")).runs
    }
    for extra in ("traffic: {clients: 8}\n", "traffic: {sample_every: 100}\n"):
        assert plain.isdisjoint(run.run_id for run in make_plan(parse(base + extra)).runs), extra
