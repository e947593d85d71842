"""probes.objects on real servers: which inherited objects sit on the pages each worker keeps private."""

from __future__ import annotations

import csv
import os

import pytest
from runner_support import tiny_project, write_sweep

from experiments.measure import executor as executor_module
from experiments.measure.executor import ServerExecutor
from experiments.measure.objects import SNAPSHOT_NAME
from experiments.projects import default_cache_dir
from experiments.runner import run_sweep
from experiments.servers import SERVER_NAMES, supports_preload
from experiments.sweep import load_sweep

pytestmark = pytest.mark.slow

PRELOADING = tuple(name for name in SERVER_NAMES if supports_preload(name))
COLUMNS = ("inherited_objects_mb", "worker_private_objects_mb_mean")


def run_tiny(tmp_path, monkeypatch, backend: str, modes: list[str], objects: bool) -> tuple[dict, dict, dict]:
    """(rows, details, run directory listings) by mode; the listing is taken while the server still runs."""
    listings = {}
    measure = ServerExecutor._measure

    def measure_and_list(self, run, project, live, inbox, m):
        measure(self, run, project, live, inbox, m)
        listings[run.mode] = sorted(os.listdir(live.run_dir))

    monkeypatch.setattr(executor_module.ServerExecutor, "_measure", measure_and_list)
    data = {
        "name": "objects",
        "warmup_runs": 0,
        "project": tiny_project(),
        "server": {"backend": backend, "modes": modes, "workers": 2},
        "traffic": {"requests_per_worker": 5},
        "probes": {"objects": objects},
    }
    sweep = load_sweep(write_sweep(tmp_path, data))
    details = {}
    outcome = run_sweep(
        sweep,
        ServerExecutor(),
        cache_dir=default_cache_dir(),
        on_run=lambda run, m: details.setdefault(run.mode, m.details),
    )
    with open(sweep.output, newline="") as handle:
        table = {row["mode"]: row for row in csv.DictReader(handle)}
    assert outcome.failed == 0, [row["error"] for row in table.values()]
    return table, details, listings


@pytest.mark.parametrize("backend", PRELOADING)
def test_freezing_keeps_the_inherited_objects_shared(tmp_path, run_dirs, monkeypatch, backend):
    table, details, listings = run_tiny(
        tmp_path, monkeypatch, backend, ["lazy", "prewarm", "prewarm-freeze"], objects=True
    )
    # a lazy master holds nothing of the app's: no snapshot, no figures
    assert SNAPSHOT_NAME not in listings["lazy"] and "inherited_objects" not in details["lazy"]
    assert all(table["lazy"][column] == "" for column in COLUMNS)
    private = {}
    for mode in ("prewarm", "prewarm-freeze"):
        row, found = table[mode], details[mode]["inherited_objects"]
        assert SNAPSHOT_NAME in listings[mode]
        inherited, private[mode] = (float(row[column]) for column in COLUMNS)
        assert 2 < inherited < 100 and 0 <= private[mode] <= inherited * 1.001, mode
        assert found["objects"] > 10_000 and sorted(found["workers"]) == details[mode]["workers"]
        for worker in found["workers"].values():
            assert 0 < len(worker["types"]) <= 15 and 0 < len(worker["modules"]) <= 15
            assert all(
                label and objects > 0 and 0 < mine <= mb for label, objects, mb, mine in worker["types"]
            )
    # the full collection at steady state wrote to every unfrozen object's header: nearly all of prewarm's
    # inherited object pages are private; gc.freeze() kept most of them shared
    assert private["prewarm"] > 0.5 * float(table["prewarm"]["inherited_objects_mb"])
    assert private["prewarm-freeze"] < 0.5 * private["prewarm"], private
    prewarm_types = {
        t[0] for w in details["prewarm"]["inherited_objects"]["workers"].values() for t in w["types"]
    }
    assert {"dict", "function"} <= prewarm_types


def test_off_it_leaves_no_snapshot_and_no_figures(tmp_path, run_dirs, monkeypatch):
    table, details, listings = run_tiny(tmp_path, monkeypatch, "uwsgi", ["prewarm-freeze"], objects=False)
    assert SNAPSHOT_NAME not in listings["prewarm-freeze"]
    assert "inherited_objects" not in details["prewarm-freeze"]
    assert all(table["prewarm-freeze"][column] == "" for column in COLUMNS)
