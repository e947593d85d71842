"""The committed results regenerate byte for byte from their CSVs: a report is only as good as its data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# (arguments of analyze-results, the committed analysis): as README gives them
ANALYSES = [
    (["results/scaling.csv"], "results/scaling-analysis"),
    (["results/seed-300.csv"], "results/seed-300-analysis"),
    (
        [
            "results/servers.csv",
            "results/servers-workers.csv",
            "--pool-sweeps",
            "--models",
            "300",
            "--workers",
            "4",
        ],
        "results/servers-analysis",
    ),
    (["results/databases.csv"], "results/databases-analysis"),
    (["results/day.csv"], "results/day-analysis"),
    (["results/pythons.csv"], "results/pythons-analysis"),
]


def regenerate(module: str, arguments: list[str], out) -> None:
    """Run an analysis as README gives it, from the repository, into ``out``."""
    result = subprocess.run(
        [sys.executable, "-m", module, *arguments, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("arguments", "committed"), ANALYSES)
def test_analyze_results_regenerates_the_committed_report(arguments, committed, tmp_path):
    if not (ROOT / committed).exists():
        pytest.skip(f"{committed} is not committed")
    regenerate("experiments.analysis.cli", arguments, tmp_path)
    for name in ("report.md", "summary.csv"):
        assert (tmp_path / name).read_text() == (ROOT / committed / name).read_text(), name
    committed_plots = sorted(p.name for p in (ROOT / committed).glob("*.png"))
    assert committed_plots == sorted(p.name for p in tmp_path.glob("*.png"))


def test_the_placement_analysis_regenerates_from_its_csvs(tmp_path):
    committed = ROOT / "results" / "placement-analysis"
    if not committed.exists():
        pytest.skip("the placement analysis is not committed")
    argv = [
        "results/placement.csv",
        "--sweep",
        "experiments/sweeps/placement.yaml",
        "--real",
        "results/calibration",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "experiments.analysis.placement", *argv, "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr
    for name in ("report.md", "savings.csv"):
        assert (tmp_path / name).read_text() == (committed / name).read_text(), name
