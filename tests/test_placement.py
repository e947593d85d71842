"""The placement analysis: savings against lazy by start-up share, real projects placed by their profiles."""

from __future__ import annotations

import csv
import json

import pytest
from runner_support import write_sweep

from experiments.analysis import placement
from experiments.analysis.stats import load_results
from experiments.sweep import load_sweep


def write_rows(path, rows):
    names = [
        "sweep",
        "run_id",
        "project",
        "models",
        "mode",
        "workers",
        "status",
        "memory_mb",
        "memory_steady_mb",
    ]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, names)
        writer.writeheader()
        for index, row in enumerate(rows):
            writer.writerow({"sweep": "p", "run_id": f"r{index}", "models": 300, "status": "ok", **row})
    return path


# memory after traffic and at steady state, by project and mode, at 4 workers
MEMORY = {
    ("share-0", "lazy"): (800, 800),
    ("share-0", "prefork"): (780, 790),
    ("share-0", "prewarm"): (600, 700),
    ("share-1", "lazy"): (800, 800),
    ("share-1", "prefork"): (400, 700),
    ("share-1", "prewarm"): (300, 650),
}


@pytest.fixture
def sweep(tmp_path):
    blocks = [
        {"name": "share-0", "models": 300, "library_loc": 0, "view_library_loc": 1000},
        {"name": "share-1", "models": 300, "library_loc": 1000, "view_library_loc": 0},
    ]
    return load_sweep(write_sweep(tmp_path, {"project": blocks, "server": {"workers": [4]}}))


def rows_for(memory, workers=4, repetitions=2):
    return [
        {"project": p, "mode": m, "workers": workers, "memory_mb": a + r, "memory_steady_mb": b + r}
        for (p, m), (a, b) in memory.items()
        for r in range(repetitions)
    ]


def test_savings_by_share(tmp_path, sweep):
    shares = placement.shares_of(sweep)
    assert shares == {"share-0": 0.0, "share-1": 1.0}
    rows = rows_for(MEMORY) + rows_for({("share-1", "prefork"): (1, 1)}, workers=2)  # another count: ignored
    table = placement.savings(load_results(write_rows(tmp_path / "r.csv", rows)), shares, 4).set_index(
        ["project", "mode", "reading"]
    )
    assert table.loc[("share-1", "prefork", "after traffic"), "saving"] == pytest.approx(1 - 400.5 / 800.5)
    assert table.loc[("share-1", "prefork", "at steady state"), "saving"] == pytest.approx(1 - 700.5 / 800.5)
    assert table.loc[("share-0", "prefork", "after traffic"), "saving"] < 0.03
    assert ("share-0", "prewarm-freeze", "after traffic") not in table.index  # no runs: no row


def test_a_real_project_is_placed_by_its_profile_and_its_own_runs(tmp_path, sweep):
    real = tmp_path / "calibration"
    real.mkdir()
    profile = {"baseline_rss_mb": 10, "setup": {"rss_mb": 70}, "first_request": {"rss_mb": 90}}
    (real / "probes.json").write_text(json.dumps({"shop": {"real": profile}, "absent": {"real": profile}}))
    write_rows(real / "shop.csv", rows_for({("shop", "lazy"): (400, 400), ("shop", "prewarm"): (100, 300)}))
    points = placement.real_points(real, 4)
    assert set(points["project"]) == {"shop"}  # a profile without its CSV is left out
    assert points["share"].iloc[0] == pytest.approx(60 / 80)
    assert placement.profile_share({"setup": {}}) is None


def test_the_command_writes_its_report_and_regenerates_it_byte_for_byte(tmp_path, sweep):
    results = write_rows(tmp_path / "r.csv", rows_for(MEMORY))
    argv = [str(results), "--sweep", str(sweep.source), "--out", str(tmp_path / "out")]
    assert placement.main(argv) == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.suffix != ".png"}
    assert "| share-1 | 1.00 | prefork | after traffic | 800 | 400 | +50% |" in first["report.md"].decode()
    assert placement.main(argv) == 0
    assert first == {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.suffix != ".png"}
    assert (
        placement.main(
            [str(tmp_path / "none.csv"), "--sweep", str(sweep.source), "--out", str(tmp_path / "x")]
        )
        == 2
    )
