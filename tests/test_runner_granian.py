"""granian, the lazy-only server: real runs of both lazy modes, the sweep that asks it to preload, and what a
missing or too old granian says. (Killing the runner: test_runner_signals.py; a broken project and a start-up
timeout: test_runner_servers.py.)"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import pytest
from runner_support import processes_with, tiny_project, write_sweep

from experiments import cli
from experiments.measure.executor import ServerExecutor
from experiments.runner import run_sweep
from experiments.sweep import load_sweep

pytestmark = pytest.mark.slow

TCP_LISTEN = "0A"
LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


def listening_sockets(pids: list[int]) -> list[tuple[int, str]]:
    """(pid, local address) of every listening TCP socket (IPv4 or IPv6) that one of ``pids`` holds."""
    owners = {}
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                owners[target[len("socket:[") : -1]] = pid
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == TCP_LISTEN and fields[9] in owners:
                found.append((owners[fields[9]], fields[1]))
    return found


@pytest.mark.timing
def test_lazy_and_lazy_warm_under_granian(tmp_path, run_dirs, monkeypatch):
    """Both lazy modes give ok rows with every worker ready and measured; each worker listens on a loopback
    socket of its own; granian's options in the caller's environment change nothing."""
    # read by granian, they would serve /notes/ from an empty directory: 404 instead of the project's page
    monkeypatch.setenv("GRANIAN_STATIC_PATH_ROUTE", "/notes")
    monkeypatch.setenv("GRANIAN_STATIC_PATH_MOUNT", str(tmp_path))
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            {
                "name": "granian",
                "warmup_runs": 0,
                "project": tiny_project(),
                "server": {"backend": "granian", "modes": ["lazy", "lazy-warm"], "workers": 2},
                "traffic": {"requests_per_worker": 5},
            },
        )
    )
    sockets, details = {}, {}

    class Spy(ServerExecutor):
        def run(self, run, project, after_traffic=None):
            def while_serving():
                sockets[run.mode] = listening_sockets(processes_with(run_dirs))
                return after_traffic() if after_traffic else {}

            return super().run(run, project, while_serving)

    outcome = run_sweep(sweep, Spy(), on_run=lambda run, m: details.setdefault(run.mode, m))
    with open(sweep.output, newline="") as handle:
        table = {row["mode"]: row for row in csv.DictReader(handle)}
    assert outcome.failed == 0, [row["error"] for row in table.values()]
    assert set(table) == {"lazy", "lazy-warm"}
    for mode, row in table.items():
        measurement = details[mode]
        assert row["status"] == "ok" and row["server"] == "granian" and row["server_version"][0].isdigit()
        for column in (
            "startup_s",
            "memory_mb",
            "first_query_ms",
            "first_request_ms_mean",
            "memory_steady_mb",
        ):
            assert float(row[column]) > 0, (mode, column)
        workers = measurement.details["workers"]
        assert len(workers) == 2 and measurement.details["first_workers"] == workers, mode
        assert sorted(measurement.details["collections_since_ready"]) == workers, mode
        assert measurement.details["loaded_in"] == "worker", mode
        assert (measurement.details["warmed"] >= 1) == (mode == "lazy-warm"), mode
        assert sorted(pid for pid, _ in sockets[mode]) == workers, mode  # not the main process
        assert {address.partition(":")[0] for _, address in sockets[mode]} == {LOOPBACK_HEX}, mode
        assert "--no-respawn-failed-workers" in measurement.details["command"]
    # each worker warmed itself up before it reported ready: its first query finds the URLconf imported
    assert float(table["lazy-warm"]["first_query_ms"]) < float(table["lazy"]["first_query_ms"]) / 2


def test_a_sweep_that_asks_granian_to_preload_is_refused_in_one_line(tmp_path, capsys):
    path = write_sweep(
        tmp_path,
        {
            "project": tiny_project(),
            "server": {"backend": ["uwsgi", "granian"], "modes": ["lazy", "prefork", "prewarm"]},
        },
    )
    assert cli.main([str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("Error: server.modes (line ")
    assert "granian has no preload: prefork, prewarm need uwsgi or gunicorn" in err
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (
            None,
            "granian not found next to {python}; install it there: {python} -m pip install 'granian>=2.4'",
        ),
        ("2.3.4", "granian 2.3.4 at {python_dir}/granian is too old: need 2.4 or newer"),
    ],
)
def test_a_missing_or_too_old_granian_is_one_line(tmp_path, capsys, version, message):
    """A project's own interpreter without granian beside it, or with an old one: one line, exit 2."""
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    python = venv_bin / "python"
    python.symlink_to(sys.executable)
    if version is not None:
        fake = venv_bin / "granian"
        fake.write_text(f"#!/bin/sh\necho 'granian {version}'\n")
        fake.chmod(0o755)
    path = write_sweep(
        tmp_path,
        {"project": tiny_project(python=str(python)), "server": {"backend": "granian", "modes": ["lazy"]}},
    )
    assert cli.main([str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert message.format(python=python, python_dir=venv_bin) in err
