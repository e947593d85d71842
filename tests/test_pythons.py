"""The python axis without servers: interpreters found (pyenv, PATH, paths; stand-ins that answer as a Python
would), the sweep's key checked with its line, run ids, the interleaved plan, runtimes that cannot be built,
and the interpreter of older rows. Real interpreters and servers: tests/test_runner_pythons.py."""

from __future__ import annotations

import csv
import json
import os
import sys
from importlib import metadata
from pathlib import Path

import pytest
from runner_support import stand_in_python as stand_in
from runner_support import tiny_project, write_sweep

from experiments import cli
from experiments.analysis.loading import load_results
from experiments.cache_entry import put_in_place
from experiments.errors import SweepError
from experiments.interpreters import InterpreterError, ask, find
from experiments.plan import make_plan
from experiments.runtimes import pins, runtime_spec
from experiments.sweep import MODES, parse_sweep
from generator.imports import IMPORT_CATALOGUE

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A pyenv with 3.10.4, 3.12.2, 3.12.10 and a free-threaded 3.13.1t, and python3.14 on PATH; pyenv's shims
    (first on PATH) would answer anything."""
    root = tmp_path / "pyenv"
    for version in ("3.10.4", "3.12.2", "3.12.10"):
        stand_in(root / "versions" / version / "bin" / f"python{version.rsplit('.', 1)[0]}", version)
    stand_in(root / "versions" / "3.13.1t" / "bin" / "python3.13t", "3.13.1", free_threaded=True)
    for name in ("python3.14", "python3.15"):
        stand_in(root / "shims" / name, "3.15.0")
    stand_in(tmp_path / "bin" / "python3.14", "3.14.0")
    monkeypatch.setenv("PYENV_ROOT", str(root))
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(root / "shims"), str(tmp_path / "bin"), "/usr/bin", "/bin"])
    )
    return tmp_path


def test_a_version_is_the_newest_of_pyenv_then_on_path_never_a_shim(machine):
    assert find("3.12", machine).executable == str(machine / "pyenv/versions/3.12.10/bin/python3.12")
    assert find("3.12.2", machine).label == "3.12.2"
    threaded = find("3.13t", machine)
    assert (threaded.label, threaded.build_label, threaded.free_threaded) == (
        "3.13.1t",
        "cpython-3.13.1t",
        True,
    )
    assert find("3.14", machine).executable == str(machine / "bin" / "python3.14")
    with pytest.raises(
        InterpreterError, match=r"no Python 3\.15 here: none in pyenv \(.*/3\.15\.\*\) nor python3\.15"
    ):
        find("3.15", machine)
    with pytest.raises(InterpreterError, match=r"no Python 3\.13 here"):
        find("3.13", machine)  # only a free-threaded 3.13 is there
    with pytest.raises(InterpreterError, match="older than Django 5.2 supports"):
        find("3.9", machine)


def test_a_path_or_a_command_is_asked_what_it_is(machine):
    venv = stand_in(machine / "venvs" / "a" / "bin" / "python", "3.12.7")
    assert find("venvs/a/bin/python", machine).executable == str(venv)
    assert find("python3.14", machine).label == "3.14.0"
    with pytest.raises(InterpreterError, match="no executable interpreter at"):
        find("venvs/b/bin/python", machine)
    old = stand_in(machine / "old" / "python", "3.8.10")
    with pytest.raises(InterpreterError, match="is Python 3.8.10; Django 5.2 needs 3.10 or newer"):
        ask(str(old))
    (machine / "mute").write_text("#!/bin/sh\necho nothing >&2\nexit 3\n")
    (machine / "mute").chmod(0o755)
    with pytest.raises(InterpreterError, match=r"not a Python 3 interpreter that runs \(nothing\)"):
        ask(str(machine / "mute"))


def test_every_project_runs_on_every_interpreter_in_one_interleaved_plan(machine):
    text = "python: [3.10, 3.12]\nrepetitions: 3\nproject: {models: [10, 20]}\nserver: {modes: [lazy, prewarm]}\n"
    sweep = parse_sweep(text, base_dir=machine)
    # written 3.10, read as a version, not as the number 3.1
    assert [p.interpreter.label for p in sweep.projects] == ["3.10.4", "3.12.10"] * 2
    plan = make_plan(sweep)
    order = [run.project.interpreter.label for run in plan.runs]
    assert len(order) == 2 * 2 * 2 * 3 and len(set(r.run_id for r in plan.runs)) == len(order)
    switches = sum(a != b for a, b in zip(order, order[1:], strict=False))
    assert switches > len(order) // 4  # shuffled across interpreters, not one after the other
    assert "python=3.12.10" in plan.runs[order.index("3.12.10")].describe()


def test_the_axis_changes_run_ids_only_when_it_is_set(machine):
    def runs(axis: str):
        text = f"{axis}project: {{models: 10}}\nserver: {{modes: [lazy]}}\n"
        return make_plan(parse_sweep(text, base_dir=machine)).runs

    (plain,) = runs("")
    (one,) = runs("python: 3.12\n")
    assert plain.project.interpreter is None and one.run_id != plain.run_id
    (again,) = runs("python: [3.12.10]\n")
    assert again.run_id == one.run_id  # the interpreter, not how the file names it
    assert one.project.tree_key() == plain.project.tree_key()  # one project tree for every interpreter


def sweep_error(text: str, base_dir: Path) -> SweepError:
    with pytest.raises(SweepError) as caught:
        parse_sweep(text, base_dir=base_dir)
    return caught.value


@pytest.mark.parametrize(
    "text, key, line, message",
    [
        ("python: [3.12, 3.99]\n", "python[1]", 1, "no Python 3.99 here"),
        ("python:\n  - 3.12\n  - 3.12.10\n", "python[1]", 3, "cpython-3.12.10 again (as python[0])"),
        ("python: []\n", "python", 1, "an empty list sweeps nothing"),
        ("python: true\n", "python", 1, "expected a version (3.12), a path or a command on PATH, got bool"),
        ("python: {v: 3.12}\n", "python", 1, "got a mapping"),
        ("python: 3.8\n", "python", 1, "older than Django 5.2 supports (3.10 or newer)"),
        ("python: ./nowhere/python\n", "python", 1, "no executable interpreter at"),
        ("python: pythonx\n", "python", 1, "neither a version (3.12) nor a path, and no pythonx is on PATH"),
    ],
)
def test_a_bad_python_is_refused_with_its_key_and_line(machine, text, key, line, message):
    error = sweep_error(text + "project: {models: 10}\n", machine)
    assert (error.key, error.line) == (key, line)
    assert message in error.message and "\n" not in str(error)


def test_a_project_s_own_interpreter_and_requirements_against_the_axis(machine):
    (machine / "site").mkdir()
    venv = stand_in(machine / "venv" / "bin" / "python", "3.12.1")
    block = f"project: {{path: site, wsgi: 'site.wsgi:application', python: {venv}}}\n"
    error = sweep_error("python: 3.12\n" + block, machine)
    assert (error.key, error.line) == ("project.python", 2) and "exclude each other" in error.message
    requirements = "project: {path: site, wsgi: 'site.wsgi:application', requirements: req.txt}\n"
    error = sweep_error(requirements, machine)
    assert error.key == "project.requirements" and "needs the top-level python axis" in error.message
    error = sweep_error("python: 3.12\n" + requirements, machine)
    assert error.key == "project.requirements" and "cannot read" in error.message
    (machine / "req.txt").write_text("django-environ==0.12.0\n")
    first = parse_sweep("python: 3.12\n" + requirements, base_dir=machine).projects[0]
    assert first.requirements == str(machine / "req.txt") and len(first.requirements_sha) == 64
    (machine / "req.txt").write_text("django-environ==0.11.2\n")
    second = parse_sweep("python: 3.12\n" + requirements, base_dir=machine).projects[0]
    assert second.key() != first.key()  # other requirements, another runtime: another measurement


def test_a_missing_interpreter_stops_the_runner_before_it_writes_or_builds_anything(machine, capsys):
    sweep = write_sweep(
        machine,
        {"python": ["3.12", "3.99"], "project": tiny_project(), "output": str(machine / "out" / "r.csv")},
    )
    assert cli.main([str(sweep), "--cache-dir", str(machine / "cache")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: python[1] (line ") and "no Python 3.99 here" in err and "\n" not in err
    assert not (machine / "out").exists() and not (machine / "cache").exists()


def test_a_runtime_that_cannot_be_built_fails_in_one_line_and_leaves_nothing(tmp_path, capsys):
    """The real interpreter, venv and pip: pip refuses the project's requirements file at once."""
    (tmp_path / "requirements.txt").write_text("this is not a requirement!!\n")
    output = tmp_path / "out" / "r.csv"
    project = tiny_project(requirements="requirements.txt")
    sweep = write_sweep(tmp_path, {"python": sys.executable, "project": project, "output": str(output)})
    assert cli.main([str(sweep), "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    interpreter = ask(sys.executable)
    assert err.startswith(f"Error: python {interpreter.label} ({sys.executable}): cannot build its runtime")
    assert "pip install: ERROR: Invalid requirement" in err
    assert list((tmp_path / "cache" / "runtimes").iterdir()) == []  # no scratch, no half-built runtime
    assert not output.parent.exists()  # nor a CSV or its sidecar


def test_the_pins_are_ours(tmp_path):
    assert pins(["uwsgi"]) == (
        "Django<5.3,>=5.2",
        "gunicorn>=22",
        "psycopg[binary,pool]>=3.1.8",
        "uWSGI>=2.0.28",
    )
    assert "granian>=2.4" in pins(["uwsgi", "granian"])


def test_a_generated_project_s_runtime_holds_what_it_imports_at_the_lab_s_versions(machine):
    """A realistic project imports yaml, numpy, pandas…: its runtime installs them, at the versions this lab
    runs, or the app fails to load there; an existing project brings its own requirements instead."""
    text = "python: 3.12\nproject: [{models: 10}, {path: site, wsgi: 'site.wsgi:application'}]\n"
    (machine / "site").mkdir()
    generated, existing = parse_sweep(text, base_dir=machine).projects
    wanted = runtime_spec(generated, ["uwsgi"]).pins
    third_party = {m.split(".")[0] for m in IMPORT_CATALOGUE} - set(sys.stdlib_module_names) - {"django"}
    distributions = metadata.packages_distributions()
    for module in sorted(third_party):
        for name in distributions[module]:
            assert f"{name}=={metadata.version(name)}" in wanted, module
    assert runtime_spec(existing, ["uwsgi"]).pins == pins(["uwsgi"])


def test_of_two_builders_the_first_rename_wins_and_the_second_takes_its_entry(tmp_path):
    entry = tmp_path / "runtimes" / "cpython-3.12.1-abc"
    first, second = tmp_path / "runtimes" / ".a.building", tmp_path / "runtimes" / ".b.building"
    for scratch in (first, second):
        scratch.mkdir(parents=True)
        (scratch / "runtime.json").write_text(scratch.name)

    def complete() -> bool:
        return (entry / "runtime.json").is_file()

    assert put_in_place(first, entry, complete, "the runtime") is True
    assert put_in_place(second, entry, complete, "the runtime") is False
    assert (entry / "runtime.json").read_text() == ".a.building" and second.is_dir()
    (entry / "runtime.json").unlink()  # a build killed before its manifest: the next one replaces it
    assert put_in_place(second, entry, complete, "the runtime") is True
    assert (entry / "runtime.json").read_text() == ".b.building"


def _old_csv(path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sweep", "run_id", "mode", "workers", "models", "status", "startup_s"])
        writer.writerow(["old", "a1", "lazy", "2", "10", "ok", "1.5"])


def test_rows_written_before_the_column_ran_on_the_sidecar_s_interpreter_or_3_11(tmp_path):
    _old_csv(tmp_path / "bare.csv")
    _old_csv(tmp_path / "recorded.csv")
    sidecar = {"tool": "run-experiments", "python": "3.11.2", "python_implementation": "CPython"}
    (tmp_path / "recorded.csv.env.json").write_text(json.dumps(sidecar))
    bare = load_results(tmp_path / "bare.csv")
    recorded = load_results(tmp_path / "recorded.csv")
    assert bare["python"].tolist() == ["3.11"] and bare["python_build"].isna().all()
    assert recorded["python"].tolist() == ["3.11.2"] and recorded["python_build"].tolist() == [
        "cpython-3.11.2"
    ]


def test_the_shipped_interpreters_sweep_measures_300_models_in_every_mode_on_three_versions(
    tmp_path, monkeypatch
):
    for version in ("3.11.7", "3.12.1", "3.13.0"):
        stand_in(tmp_path / "pyenv" / "versions" / version / "bin" / f"python{version[:4]}", version)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    path = ROOT / "experiments" / "sweeps" / "pythons.yaml"
    sweep = parse_sweep(path.read_text(), base_dir=path.parent)
    assert [p.interpreter.label for p in sweep.projects] == ["3.11.7", "3.12.1", "3.13.0"]
    assert {p.models for p in sweep.projects} == {300} and {
        p.options_dict["profile"] for p in sweep.projects
    } == {"realistic"}
    assert {s.mode for s in sweep.servers} == set(MODES) and {s.workers for s in sweep.servers} == {4}
    assert sweep.repetitions == 2 and sweep.traffic.steady_state
    assert sweep.output == ROOT / "results" / "pythons.csv"


def _build_slowly(spec, scratch, path):
    """A stand-in for venv and pip: the files a runtime is known by, written slowly enough to overlap."""
    import time

    from experiments import runtimes

    (scratch / "bin").mkdir(parents=True)
    (scratch / "bin" / "python").write_text(str(os.getpid()))
    time.sleep(0.5)
    manifest = {"key": spec.key(), "packages": {"builder": str(os.getpid())}}
    (scratch / runtimes.MANIFEST).write_text(json.dumps(manifest))


def _ensure_in_a_child(spec, cache, barrier, answers):
    from experiments.runtimes import ensure

    barrier.wait()
    answers.put(str(ensure(spec, cache).root))


def test_two_runners_building_one_runtime_at_once_leave_one_complete_copy(tmp_path, monkeypatch):
    import multiprocessing

    from experiments import runtimes

    monkeypatch.setattr(runtimes, "_build", _build_slowly)
    spec = runtimes.RuntimeSpec(ask(sys.executable), pins(["uwsgi"]))
    context = multiprocessing.get_context("fork")  # the children keep the stand-in build
    barrier, answers = context.Barrier(2), context.Queue()
    children = [
        context.Process(target=_ensure_in_a_child, args=(spec, tmp_path, barrier, answers)) for _ in range(2)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
    assert [child.exitcode for child in children] == [0, 0]
    roots = {answers.get(timeout=5) for _ in children}
    (entry,) = (tmp_path / "runtimes").iterdir()  # no scratch, no second copy
    assert roots == {str(entry)}
    builder = json.loads((entry / "runtime.json").read_text())["packages"]["builder"]
    assert (entry / "bin" / "python").read_text() == builder  # one builder's files, whole
    assert builder in {str(child.pid) for child in children}
