"""Builds that are interrupted, replaced or measured leave no process, no half tree, and the user's files intact."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from runner_support import REPO, TINY, processes_with, reap_orphans, wait_for, write_sweep

from experiments.projects import cache_path, prepare
from experiments.sweep import TrafficSpec, load_sweep
from generator import cli
from generator.output import GENERATOR_ID, MANIFEST

BIN = Path(sys.executable).parent
# A minimal project whose database takes seconds to fill: long enough to be caught building it.
SLOW_DB = ["--models", "20", "--profile", "minimal", "--rows-per-model", "20000"]


def digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` (bytecode included) with the hash of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def builders_under(directory: Path) -> list[int]:
    """Live ``generator.dbbuild`` processes working in ``directory``."""
    found = []
    for pid in processes_with("generator.dbbuild"):
        try:
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(directory)):
                found.append(pid)
        except OSError:
            continue
    return found


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell's background job would have it ignored


def test_force_refuses_a_hand_made_manifest_with_a_user_file_beside_it(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / MANIFEST).write_text(json.dumps({"generator": GENERATOR_ID, "content_hash": "sha256:0"}))
    (out / "thesis.tex").write_text("three years of work")
    before = digest(out)
    assert cli.main(["--models", "3", "--no-db", "--output", str(out), "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: --output: ") and "--force refuses" in err and "\n" not in err
    assert digest(out) == before


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "notes.txt").write_text("mine"),
        lambda root: (root / "config" / "urls.py").write_text("# edited by hand\n"),
        lambda root: (root / "config" / "urls.py").unlink(),
        lambda root: (root / "uploads").mkdir(),
        lambda root: (root / "link").symlink_to("/etc"),
    ],
    ids=["added-file", "changed-file", "removed-file", "added-directory", "added-symlink"],
)
def test_force_replaces_only_a_tree_that_matches_its_manifest(tmp_path, change):
    out = tmp_path / "proj"
    assert cli.main(["--models", "3", "--profile", "minimal", "--no-db", "--output", str(out)]) == 0
    change(out)
    before = digest(out)
    assert (
        cli.main(["--models", "4", "--profile", "minimal", "--no-db", "--output", str(out), "--force"]) == 2
    )
    assert digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


def test_force_replaces_a_generated_project_that_was_run(tmp_path):
    out = tmp_path / "proj"
    assert cli.main(["--models", "3", "--profile", "minimal", "--output", str(out)]) == 0
    import compileall

    compileall.compile_dir(str(out), quiet=2)  # what running it leaves: bytecode, and its database
    assert (
        cli.main(["--models", "4", "--profile", "minimal", "--no-db", "--output", str(out), "--force"]) == 0
    )
    assert json.loads((out / MANIFEST).read_text())["counts"]["models"] == 4
    assert not (out / "db.sqlite3").exists() and not list(out.rglob("__pycache__"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


def test_an_existing_output_directory_stays_the_same_directory(tmp_path):
    """A mount point or a shell's working directory cannot be renamed away: the project is moved into it."""
    out = tmp_path / "mounted"
    out.mkdir()
    out.chmod(0o750)
    inode = out.stat().st_ino
    assert cli.main(["--models", "3", "--profile", "minimal", "--no-db", "--output", str(out)]) == 0
    assert (
        cli.main(["--models", "4", "--profile", "minimal", "--no-db", "--output", str(out), "--force"]) == 0
    )
    assert out.stat().st_ino == inode and oct(out.stat().st_mode & 0o777) == oct(0o750)
    assert json.loads((out / MANIFEST).read_text())["counts"]["models"] == 4
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mounted"]


def test_an_output_that_is_a_mount_point_is_written_and_replaced(tmp_path):
    mount = tmp_path / "volume"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mount)]).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        assert cli.main(["--models", "3", "--profile", "minimal", "--no-db", "--output", str(mount)]) == 0
        assert (
            cli.main(["--models", "4", "--profile", "minimal", "--no-db", "--output", str(mount), "--force"])
            == 0
        )
        assert json.loads((mount / MANIFEST).read_text())["counts"]["models"] == 4
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_force_interrupted_keeps_the_old_project(tmp_path, monkeypatch):
    from generator import project

    out = tmp_path / "proj"
    assert cli.main(["--models", "3", "--profile", "minimal", "--no-db", "--output", str(out)]) == 0
    before = digest(out)

    def interrupted(output, files):
        (output / "half.py").write_text("")
        raise KeyboardInterrupt

    monkeypatch.setattr(project, "write_files", interrupted)
    assert (
        cli.main(["--models", "5", "--profile", "minimal", "--no-db", "--output", str(out), "--force"]) == 130
    )
    assert digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_standalone_build_killed_during_the_database_leaves_no_builder_and_the_old_project(
    tmp_path, signum
):
    out = tmp_path / "proj"
    assert cli.main(["--models", "3", "--profile", "minimal", "--no-db", "--output", str(out)]) == 0
    before = digest(out)
    process = subprocess.Popen(
        [str(BIN / "gen-project"), *SLOW_DB, "--output", str(out), "--force"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        assert wait_for(lambda: builders_under(tmp_path), timeout=60), "the database build never started"
        process.send_signal(signum)
        _out, err = process.communicate(timeout=30)
        # the builder dies with gen-project at once, not when its database is done
        assert wait_for(lambda: not builders_under(tmp_path), timeout=2), (
            "the database build outlived gen-project"
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in builders_under(tmp_path):
            os.kill(pid, signal.SIGKILL)
        reap_orphans()
    built_inside = {k for k in digest(out) if k.startswith(".gen-project.partial-")}
    assert {k: v for k, v in digest(out).items() if k not in built_inside} == before  # the old project, whole
    if signum == signal.SIGTERM:
        assert not built_inside
        assert process.returncode == 128 + signal.SIGTERM
        assert err.strip() == "Error: terminated by signal 15; no partial project was left behind"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]
    else:  # a SIGKILL leaves its staging directory: the next build of that output removes it
        assert (
            cli.main(["--models", "4", "--profile", "minimal", "--no-db", "--output", str(out), "--force"])
            == 0
        )
        assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


@pytest.mark.slow
def test_a_cache_entry_appears_only_when_complete_and_a_killed_build_is_redone(tmp_path):
    cache = tmp_path / "cache"
    sweep_path = write_sweep(
        tmp_path,
        {
            "name": "cached",
            "project": {"models": 20, "profile": "minimal", "rows_per_model": 5000},
            "server": {"modes": ["lazy"], "workers": 1},
        },
    )
    runner = subprocess.Popen(
        [sys.executable, "-m", "experiments", str(sweep_path), "--cache-dir", str(cache)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: builders_under(cache), timeout=60), "the database build never started"
        runner.kill()
        runner.wait(10)
        assert wait_for(lambda: not builders_under(cache), timeout=2), (
            "the database build outlived the runner"
        )
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for pid in builders_under(cache):
            os.kill(pid, signal.SIGKILL)
        reap_orphans()
    spec = load_sweep(sweep_path).projects[0]
    entry = cache_path(spec, cache)
    assert not entry.exists()  # the half-built tree never took the entry's name
    entry.mkdir()  # what an older version left: a half-built entry without a manifest
    (entry / "half.py").write_text("")
    prepared = prepare(spec, TrafficSpec(), cache)
    assert prepared.root == entry and prepared.models == 20
    assert (
        (entry / MANIFEST).is_file() and (entry / "db.sqlite3").is_file() and not (entry / "half.py").exists()
    )
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == ["bytecode", entry.name]


@pytest.mark.slow
def test_a_real_run_leaves_an_existing_project_untouched(tmp_path, monkeypatch):
    import shutil

    from experiments.measure.executor import ServerExecutor
    from experiments.measure.processes import become_subreaper
    from experiments.runner import run_sweep

    monkeypatch.delenv(
        "PYTHONDONTWRITEBYTECODE", raising=False
    )  # as on a user's machine: bytecode is written
    project = tmp_path / "tinyproject"
    shutil.copytree(TINY, project, ignore=shutil.ignore_patterns("__pycache__"))

    def tree():
        return {str(p.relative_to(project)): p.stat().st_mtime_ns for p in [project, *project.rglob("*")]}

    before = tree()
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            {
                "name": "untouched",
                "warmup_runs": 1,
                "project": {
                    "path": str(project),
                    "wsgi": "tinysite.wsgi:application",
                    "urls": ["/", "/notes/3/"],
                },
                "server": {"backend": ["uwsgi", "gunicorn"], "modes": ["lazy", "prewarm"], "workers": 1},
                "traffic": {"requests_per_worker": 3},
            },
        )
    )
    become_subreaper()
    outcome = run_sweep(sweep, ServerExecutor(), cache_dir=tmp_path / "cache")
    assert outcome.failed == 0, [row["error"] for row in outcome.rows]
    assert tree() == before
    mirror = tmp_path / "cache" / "bytecode" / str(project).lstrip("/")
    assert list((mirror / "tinysite").glob("settings.*.pyc")), "the project's bytecode went elsewhere"
    assert not list((tmp_path / "cache" / "bytecode").rglob("prefork-lab-run-*")), "run bytecode piles up"
