"""The report's per-host table: only when the runs ran on more than one host, with each host's own medians."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from experiments.analysis.hosts import host_medians, host_section_lines, hosts_of
from experiments.analysis.report import report_lines
from experiments.analysis.stats import analyze, load_results

SWEEP = Path(__file__).resolve().parent / "fixtures" / "analysis" / "sweep.csv"


@pytest.fixture
def sweep() -> pd.DataFrame:
    return load_results(SWEEP)


def test_one_host_adds_no_section(sweep):
    assert hosts_of(sweep) == ["fixture-box"]
    assert host_section_lines(sweep) == []
    assert "## Per host" not in report_lines(analyze(sweep, n_resamples=20), [], ["sweep.csv"])


def test_rows_without_a_host_add_no_section(sweep):
    sweep["host"] = pd.NA  # written before the column existed
    assert hosts_of(sweep) == [] and host_section_lines(sweep) == []


def test_two_hosts_get_their_own_medians(sweep):
    point = (sweep["mode"] == "lazy") & (sweep["models"] == 100) & (sweep["workers"] == 4)
    rows = sweep[point & (sweep["status"] == "ok")].index
    sweep.loc[rows[0], "host"] = "slow-node"
    sweep.loc[rows[0], "startup_s"] = 9.0
    sweep.loc[sweep["status"] != "ok", "host"] = "never-ok"  # failed rows count for no host
    table = host_medians(sweep)
    at = table[(table["mode"] == "lazy") & (table["models"] == 100) & (table["workers"] == 4)]
    assert list(at["host"]) == ["fixture-box", "slow-node"]
    assert list(at["n"]) == [len(rows) - 1, 1]
    assert at["startup_s"].iloc[1] == 9.0
    assert at["startup_s"].iloc[0] == sweep.loc[rows[1:], "startup_s"].median()
    lines = report_lines(analyze(sweep, n_resamples=20), [], ["sweep.csv"])
    section = lines[lines.index("## Per host") :]
    assert "2 hosts (fixture-box, slow-node)" in section[2] and "never-ok" not in "\n".join(section)
    assert "| lazy | 100 | 4 | slow-node | 1 | 9.0 |" in "\n".join(section)
