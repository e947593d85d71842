import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from generator import cli
from generator.project import MANIFEST

BIN = Path(sys.executable).parent


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "db.sqlite3" and "__pycache__" not in path.parts
    }


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--models", "0"], "--models"),
        (["--models", "-3"], "--models"),
        (["--models", "ten"], "--models"),
        (["--models", "2.5"], "--models"),
        (["--models", "10", "--profile", "huge"], "--profile"),
        (["--models", "10", "--apps", "11"], "--apps"),
        (["--models", "10", "--apps", "0"], "--apps"),
        (["--models", "10", "--seed", "-1"], "--seed"),
        (["--models", "10", "--rows-per-model", "x"], "--rows-per-model"),
        (["--models", "10", "--fields-per-model", "0"], "--fields-per-model"),
        (["--models", "10", "--imports", "999"], "--imports"),
        (["--models", "10", "--relations-per-model", "lots"], "--relations-per-model"),
        (["--models", "3", "--bogus"], "--bogus"),
        (["--models", "10", "--view-touch-share", "1.5"], "--view-touch-share"),
        (["--models", "10", "--view-touch-share", "some"], "--view-touch-share"),
        (["--models", "10", "--view-touch-share", "nan"], "--view-touch-share"),
        (["--models", "10", "--worker-init-work", "-1"], "--worker-init-work"),
        (["--models", "10", "--worker-init-work", "2000001"], "--worker-init-work"),
        (["--models", "10", "--worker-init-work", "0.5"], "--worker-init-work"),
        (["--like", "somewhere", "--worker-init-work", "10"], "--worker-init-work"),
        (["--models", "10", "--request-growth-kb", "-1"], "--request-growth-kb"),
        (["--models", "10", "--request-growth-kb", "lots"], "--request-growth-kb"),
        (["--models", "10", "--request-growth-kb", "100001"], "--request-growth-kb"),
        (["--models", "10", "--request-cache-kb", "0.5"], "--request-cache-kb"),
        (["--models", "10", "--request-cache-kb", "-3"], "--request-cache-kb"),
        (["--models", "10", "--request-objects", "-1"], "--request-objects"),
        (["--models", "10", "--request-objects", "1000001"], "--request-objects"),
        (["--models", "10", "--library-objects", "5000001"], "--library-objects"),
        (["--models", "10", "--library-loc", "0", "--library-objects", "10"], "--library-objects"),
        (["--models", "10", "--view-first-work", "-1"], "--view-first-work"),
        (["--models", "10", "--first-request-work", "1000001"], "--first-request-work"),
        (["--models", "10", "--view-first-work", "100001"], "--view-first-work"),
        (["--models", "10", "--urlconf-at-load", "maybe"], "--urlconf-at-load"),
        (["--like", "somewhere", "--urlconf-at-load", "yes"], "--urlconf-at-load"),
        (["--models", "3", "--database", "mysql"], "--database"),
        (["--models", "3", "--database", "postgresql"], "--database-url"),
        (["--models", "3", "--database-url", "postgresql://u@/db"], "--database-url"),
        (["--models", "3", "--database", "postgresql", "--database-url", "mysql://u@h/db"], "--database-url"),
        (
            ["--models", "3", "--database", "postgresql", "--database-url", "postgresql://u@h/"],
            "--database-url",
        ),
        (
            ["--models", "3", "--database", "postgresql", "--database-url", "postgresql://u@h:x/db"],
            "--database-url",
        ),
        (
            [
                "--models",
                "3",
                "--database",
                "postgresql",
                "--database-url",
                "postgresql://u:pw@/db?host=/nonexistent",
            ],
            "--database-url: cannot connect to postgresql://u:***@/db",
        ),
        ([], "--models"),
    ],
)
def test_bad_input_is_one_line_naming_the_option_and_exit_2(argv, option, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(cli.main([*argv, "--output", str(out)]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: ") and "\n" not in err
    assert option in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_no_db_project_manifest_and_nothing_outside_output(tmp_path, capsys):
    out = tmp_path / "nested" / "proj"
    assert cli.main(["--models", "25", "--no-db", "--output", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nested"]
    manifest = json.loads((out / MANIFEST).read_text())
    counts = manifest["counts"]
    assert counts["models"] == 25 and counts["apps"] == 2
    assert counts["url_patterns"] == len(manifest["urls"])
    assert counts["templates"] == 3 * 25 + 2
    assert counts["fields"] > 25 * 10 and counts["relations"] > 0 and counts["lines_of_code"] > 1000
    assert manifest["options"]["seed"] == 0 and manifest["options"]["profile"] == "realistic"
    assert manifest["database"] is None and not (out / "db.sqlite3").exists()
    assert manifest["content_hash"].startswith("sha256:")
    assert "25 models" in capsys.readouterr().out


def test_same_options_byte_identical_other_seed_differs(tmp_path):
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        assert cli.main(["--models", "30", "--seed", seed, "--no-db", "--output", str(tmp_path / name)]) == 0
    a, b, c = (_tree_digest(tmp_path / name) for name in "abc")
    assert a == b
    assert a != c


def test_non_empty_output_refused_and_force_only_replaces_our_projects(tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    assert cli.main(["--models", "3", "--no-db", "--output", str(foreign)]) == 2
    assert cli.main(["--models", "3", "--no-db", "--output", str(foreign), "--force"]) == 2
    assert (foreign / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in foreign.iterdir()) == ["precious.txt"]
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("Error: --output") for e in errors)

    ours = tmp_path / "ours"
    assert cli.main(["--models", "3", "--no-db", "--output", str(ours)]) == 0
    assert cli.main(["--models", "3", "--no-db", "--output", str(ours)]) == 2
    assert cli.main(["--models", "4", "--no-db", "--output", str(ours), "--force"]) == 0
    assert json.loads((ours / MANIFEST).read_text())["counts"]["models"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign", "ours"]  # nothing staged left beside


def test_output_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    assert cli.main(["--models", "2", "--no-db", "--output", str(target), "--force"]) == 2
    assert target.read_text() == "x"


def test_a_database_url_in_our_environment_is_not_where_gen_project_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@/nowhere?host=/nonexistent")
    monkeypatch.setenv("DATABASE_POOL", "true")
    out = tmp_path / "p"
    assert (
        cli.main(["--models", "2", "--profile", "minimal", "--rows-per-model", "1", "--output", str(out)])
        == 0
    )
    assert (out / "db.sqlite3").stat().st_size > 0


def test_failed_database_build_leaves_nothing(tmp_path, monkeypatch, capsys):
    from generator import project

    def broken(output, options):
        raise project.GeneratorError("building the database failed: simulated")

    monkeypatch.setattr(project, "build_database", broken)
    out = tmp_path / "proj"
    assert cli.main(["--models", "3", "--output", str(out)]) == 2
    assert not out.exists()
    assert "simulated" in capsys.readouterr().err


def test_interrupt_while_writing_leaves_nothing(tmp_path, monkeypatch):
    from generator import project

    def interrupted(output, files):
        (output / "half.py").write_text("")
        raise KeyboardInterrupt

    monkeypatch.setattr(project, "write_files", interrupted)
    out = tmp_path / "proj"
    assert cli.main(["--models", "3", "--no-db", "--output", str(out)]) == 130
    assert not out.exists()


def test_console_script_default_output_and_exit_codes(tmp_path):
    script = str(BIN / "gen-project")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    ok = subprocess.run([script, "--models", "5", "--profile", "minimal", "--no-db"], cwd=tmp_path, env=env,
                        capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "generated" / "minimal-m5-s0" / MANIFEST).is_file()
    bad = subprocess.run([script, "--models", "0"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("Error: --models")


def test_help_names_every_profile_and_post_fork_knob(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needle in ("startup-heavy", "request-heavy", "--view-touch-share", "--worker-init-work",
                   "os.register_at_fork"):  # fmt: skip
        assert needle in text


def _databases(postgres) -> set[str]:
    return {row[0] for row in postgres.admin.execute("SELECT datname FROM pg_database").fetchall()}


def test_postgresql_build_refuses_foreign_tables_replaces_only_its_own_and_cleans_up(
    tmp_path, postgres, monkeypatch
):
    from generator import project

    base = ["--models", "3", "--profile", "minimal", "--rows-per-model", "2", "--database", "postgresql"]
    postgres.admin.execute("CREATE DATABASE foreign_data")
    with psycopg.connect(postgres.url_of("foreign_data"), autocommit=True) as conn:
        conn.execute("CREATE TABLE precious (id int)")
    assert cli.main([*base, "--database-url", postgres.url_of("foreign_data"), "--output", str(tmp_path / "a"),
                     "--force"]) == 2  # fmt: skip
    assert not (tmp_path / "a").exists() and "foreign_data" in _databases(postgres)

    ours = postgres.url_of("gen_cli_ours")
    assert cli.main([*base, "--database-url", ours, "--output", str(tmp_path / "b")]) == 0
    manifest = json.loads((tmp_path / "b" / MANIFEST).read_text())
    assert manifest["database"] is None and manifest["database_url"] == ours
    assert not (tmp_path / "b" / "db.sqlite3").exists()
    assert (
        cli.main([*base, "--database-url", ours, "--output", str(tmp_path / "c")]) == 2
    )  # built, no --force
    assert cli.main([*base, "--database-url", ours, "--output", str(tmp_path / "c"), "--force"]) == 0

    def broken(output, options, env=None):
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("CREATE TABLE half_built (id int)")
        raise project.GeneratorError("building the database failed: simulated")

    monkeypatch.setattr(project, "build_database", broken)
    assert (
        cli.main([*base, "--database-url", postgres.url_of("gen_cli_new"), "--output", str(tmp_path / "d")])
        == 2
    )
    assert "gen_cli_new" not in _databases(postgres) and not (tmp_path / "d").exists()
