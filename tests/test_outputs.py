"""run-experiments never replaces, truncates or writes beside what is not its own: --output and its sidecar."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest
from runner_support import write_sweep

from experiments import cli, runner
from experiments.columns import COLUMN_NAMES
from experiments.environment import sidecar_path
from experiments.errors import ExperimentError
from experiments.export_csv import ResultsCsv
from experiments.measure import executor
from experiments.measure.fake import FakeExecutor
from experiments.projects import PreparedProject
from experiments.sweep import load_sweep

SWEEP = {
    "name": "out",
    "warmup_runs": 0,
    "project": {"models": 10},
    "server": {"modes": ["lazy", "prewarm"], "workers": 2},
}


@pytest.fixture(autouse=True)
def fake_runs(monkeypatch):
    """Instant projects and runs: these tests are about files, not servers."""

    def fake_prepare(spec, traffic, cache_dir=None, runtime=None):
        return PreparedProject(spec, Path("/nonexistent"), "x:y", {}, ("/",), spec.models, 1, 4)

    monkeypatch.setattr(runner, "prepare", fake_prepare)
    monkeypatch.setattr(executor, "ServerExecutor", lambda _servers=None: FakeExecutor())
    monkeypatch.setattr(cli, "find_servers", lambda _sweep: {})


def snapshot(directory: Path) -> dict[str, tuple]:
    """Every entry under ``directory``: its type, device number, size and content (for regular files)."""
    found = {}
    for path in sorted(directory.rglob("*")):
        info = os.lstat(path)
        content = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
        found[str(path.relative_to(directory))] = (stat.S_IFMT(info.st_mode), info.st_rdev, content)
    return found


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def _device(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("creating a device node needs root")
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # the same device as /dev/full


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()  # the socket file stays


def _directory(path: Path) -> None:
    path.mkdir()
    (path / "inside.txt").write_text("mine")


@pytest.mark.parametrize("make", [_device, _fifo, _socket, _directory], ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_an_output_that_is_not_a_regular_file_is_refused_untouched(tmp_path, capsys, make, dry_run):
    target = tmp_path / "target"
    make(target)
    sweep = write_sweep(tmp_path, SWEEP)
    before = snapshot(tmp_path)
    code = cli.main([str(sweep), "--output", str(target), *(["--dry-run"] if dry_run else [])])
    assert code == 2
    err = one_error_line(capsys)
    assert err.startswith(f"Error: --output: {target} is a ") and "not a results CSV" in err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "target", ["/proc/self/status", "/proc/prefork-lab-no-such.csv", "/sys/kernel/x.csv"]
)
def test_an_output_on_proc_or_sys_is_refused(tmp_path, capsys, target):
    sweep = write_sweep(tmp_path, SWEEP)
    assert cli.main([str(sweep), "--output", target]) == 2
    assert "/proc or /sys" in one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml"]


def test_the_sweep_key_is_named_when_the_output_comes_from_the_sweep(tmp_path, capsys):
    (tmp_path / "res").mkdir()
    sweep = write_sweep(tmp_path, {**SWEEP, "output": "res"})
    assert cli.main([str(sweep)]) == 2
    assert one_error_line(capsys).startswith(f"Error: output: {tmp_path / 'res'} is a directory")


def test_a_json_output_keeps_its_rows_and_gets_a_sidecar_of_its_own(tmp_path):
    output = tmp_path / "r.json"
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))
    runner.run_sweep(sweep, FakeExecutor(), output=output)
    assert output.read_text().splitlines()[0] == ",".join(COLUMN_NAMES)
    assert len(output.read_text().splitlines()) == 1 + 2
    assert sidecar_path(output) == tmp_path / "r.json.env.json"
    assert json.loads(sidecar_path(output).read_text())["tool"] == "run-experiments"


@pytest.mark.parametrize("content", ['{"mine": true}\n', "[1, 2, 3]\n"])
def test_a_json_file_beside_the_csv_is_never_read_as_ours_nor_replaced(tmp_path, content):
    unrelated = tmp_path / "u.json"
    unrelated.write_text(content)
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))
    runner.run_sweep(sweep, FakeExecutor(), output=tmp_path / "u.csv")
    runner.run_sweep(sweep, FakeExecutor(), output=tmp_path / "u.csv", fresh=True)
    assert unrelated.read_text() == content
    assert json.loads((tmp_path / "u.csv.env.json").read_text())["tool"] == "run-experiments"


@pytest.mark.parametrize("fresh", [False, True])
def test_a_file_at_the_sidecars_name_that_is_not_ours_is_refused(tmp_path, capsys, fresh):
    (tmp_path / "r.csv.env.json").write_text('{"tool": "something else"}\n')
    sweep = write_sweep(tmp_path, SWEEP)
    before = snapshot(tmp_path)
    assert cli.main([str(sweep), "--output", str(tmp_path / "r.csv"), *(["--fresh"] if fresh else [])]) == 2
    assert "r.csv.env.json exists and is not an environment sidecar" in one_error_line(capsys)
    assert snapshot(tmp_path) == before


def test_a_legacy_sidecar_is_carried_over_and_left_in_place(tmp_path):
    output = tmp_path / "old.csv"
    sweep = load_sweep(write_sweep(tmp_path, SWEEP))
    runner.run_sweep(sweep, FakeExecutor(), output=output)
    legacy = tmp_path / "old.json"
    os.replace(sidecar_path(output), legacy)  # what an older version wrote
    legacy_text = legacy.read_text()
    runner.run_sweep(sweep, FakeExecutor(), output=output)
    carried = json.loads(sidecar_path(output).read_text())
    assert len(carried["invocations"]) == 2
    assert legacy.read_text() == legacy_text


@pytest.mark.parametrize("fresh", [False, True])
@pytest.mark.parametrize(
    "content",
    [
        b"remember the milk",  # a one-line notes file, no newline: once replaced by a results CSV
        b"sweep,when\nx,1\ny,2",  # a CSV of other columns with an unterminated last line: once cut
        b"\x89PNG\r\n\x1a\n\x00\x00",
    ],
    ids=["notes", "other-csv", "binary"],
)
def test_a_file_that_is_not_a_results_csv_is_refused_untouched(tmp_path, capsys, content, fresh):
    target = tmp_path / "notes.txt"
    target.write_bytes(content)
    sweep = write_sweep(tmp_path, SWEEP)
    before = snapshot(tmp_path)
    assert cli.main([str(sweep), "--output", str(target), *(["--fresh"] if fresh else [])]) == 2
    assert "is not a results CSV of run-experiments" in one_error_line(capsys)
    assert snapshot(tmp_path) == before


def test_ours_with_other_columns_is_refused_before_any_repair_and_replaced_only_with_fresh(tmp_path, capsys):
    target = tmp_path / "r.csv"
    content = b"sweep,run_id,status,gone_column\ns,a,ok,1\ns,b,o"
    target.write_bytes(content)
    sweep = write_sweep(tmp_path, SWEEP)
    assert cli.main([str(sweep), "--output", str(target)]) == 2
    assert "other columns" in one_error_line(capsys)
    assert target.read_bytes() == content
    assert cli.main([str(sweep), "--output", str(target), "--fresh"]) == 0
    assert target.read_text().splitlines()[0] == ",".join(COLUMN_NAMES)


def test_a_header_without_its_newline_is_completed_not_cut(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(",".join(COLUMN_NAMES))
    results = ResultsCsv(path)
    results.prepare()
    results.append({"run_id": "x", "status": "ok"})
    assert results.done_ids() == {"x"}
    assert path.read_text().splitlines()[0] == ",".join(COLUMN_NAMES)


def test_a_migrated_file_keeps_its_permissions_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "r.csv"
    old = COLUMN_NAMES[:-2]
    path.write_text(",".join(old) + "\n" + ",".join(["a"] * len(old)) + "\n")
    path.chmod(0o640)
    (tmp_path / "r.csv.tmp").write_text("a file of the user's with the name a fixed temporary once had")
    ResultsCsv(path).prepare()
    assert path.read_text().splitlines()[0] == ",".join(COLUMN_NAMES)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.csv.tmp"]
    assert (tmp_path / "r.csv.tmp").read_text().startswith("a file of the user's")


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["umask-022", "umask-077"])
def test_new_outputs_get_the_usual_permissions_and_an_existing_one_keeps_its_own(tmp_path, umask):
    """Files written through a temporary file: a new one gets 0666 less the umask, as any new file would."""
    previous = os.umask(umask)
    try:
        path = write_sweep(tmp_path, {**SWEEP, "output": "r.csv"})
        assert cli.main([str(path)]) == 0
        kept = tmp_path / "kept.csv"
        kept.write_text("")
        kept.chmod(0o640)
        ResultsCsv(kept).prepare()
    finally:
        os.umask(previous)
    for written in (tmp_path / "r.csv", sidecar_path(tmp_path / "r.csv")):
        assert stat.S_IMODE(written.stat().st_mode) == 0o666 & ~umask, written
    assert kept.read_text().startswith("sweep,") and stat.S_IMODE(kept.stat().st_mode) == 0o640


def test_the_demos_outputs_are_ignored_by_git():
    """Every file `make demo` writes beside results/quick.csv is left out of `git status`."""
    import shutil
    import subprocess

    from experiments.details import details_path
    from experiments.export_timeline import timeline_path

    root = Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    csv = root / "results" / "quick.csv"
    paths = [
        csv,
        sidecar_path(csv),
        details_path(csv),
        timeline_path(csv),
        root / "results" / "quick-analysis" / "report.md",
    ]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *map(str, paths)], cwd=root, capture_output=True, text=True
    )
    assert sorted(done.stdout.split()) == sorted(map(str, paths)), done.stderr


def test_the_library_refuses_too(tmp_path):
    os.mkfifo(tmp_path / "ff")
    with pytest.raises(ExperimentError, match="is a FIFO"):
        ResultsCsv(tmp_path / "ff").prepare()
    assert stat.S_ISFIFO(os.lstat(tmp_path / "ff").st_mode)


@pytest.mark.parametrize(
    "argv",
    [
        ["--output", "/proc/prefork-lab-no-such"],
        ["--output", "/proc/self", "--force"],
        ["--output", "/sys/kernel", "--force"],
    ],
)
def test_gen_project_refuses_proc_and_sys_in_one_line(capsys, argv):
    from generator import cli as gen_cli

    assert gen_cli.main(["--models", "2", "--profile", "minimal", "--no-db", *argv]) == 2
    assert one_error_line(capsys).startswith("Error: --output: ")


@pytest.mark.parametrize("out", ["/proc/self", "/proc/prefork-lab-no-such", "/sys/kernel"])
def test_analyze_results_refuses_proc_and_sys_in_one_line(capsys, out):
    from experiments.analysis import cli as analyze_cli

    fixture = Path(__file__).parent / "fixtures" / "analysis" / "seed.csv"
    assert analyze_cli.main([str(fixture), "--out", out, "--resamples", "20"]) == 2
    assert one_error_line(capsys).startswith("Error: ")
